"""The add-on that keeps the result cache matching the options."""

from __future__ import annotations

from mitmproxy import ctx

from proxy_addon.cache import ResultCache
from proxy_addon.shared_cache import SharedResultCache


class Cache:
    """The add-on that keeps the result cache matching the options: on Redis when wink_cache_url is
    set (proxy_addon.shared_cache), else on disk in wink_cache_dir; wink_cache_size 0 turns it off."""

    def __init__(self) -> None:
        self.store: ResultCache | SharedResultCache = ResultCache("", 0)

    def configure(self, updated: set[str]) -> None:
        if updated & {"wink_cache_dir", "wink_cache_size", "wink_cache_url", "wink_cache_ttl"}:
            opts = ctx.options
            old = self.store
            if opts.wink_cache_url and opts.wink_cache_size > 0:
                self.store = SharedResultCache(opts.wink_cache_url, opts.wink_cache_ttl)
            else:
                self.store = ResultCache(opts.wink_cache_dir, opts.wink_cache_size)
            old.close()

    def done(self) -> None:
        self.store.close()
