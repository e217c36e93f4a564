"""The add-on's result cache: diskcache on disk, degrading to "no cache" instead of failing the proxy.

Values are the animation bytes, or b"" for "nothing to do here" (no target face, or an image the
pipeline cannot read), so a page's ordinary images cost one lookup the second time they are seen.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from mitmproxy import ctx

logger = logging.getLogger(__name__)


def default_cache_dir() -> str:
    """~/.cache/wink/proxy, or under $XDG_CACHE_HOME when that is set."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "wink" / "proxy")


class ResultCache:
    """Size-bounded, evicting, survives restarts; any disk trouble turns it off with one warning."""

    def __init__(self, directory: str, size_mb: int) -> None:
        self.directory = str(Path(directory).expanduser()) if directory else ""
        self._cache = None
        if not self.directory or size_mb <= 0:
            return
        try:
            import diskcache

            Path(self.directory).mkdir(parents=True, exist_ok=True)
            self._cache = diskcache.Cache(
                self.directory, size_limit=size_mb * 1_000_000, eviction_policy="least-recently-stored"
            )
            self._cache.get("wink:probe")  # a corrupt database fails here, not on the first image
        except Exception as error:
            self._disable(error)

    @property
    def enabled(self) -> bool:
        return self._cache is not None

    def _disable(self, error: BaseException) -> None:
        if self._cache is not None or self.directory:
            logger.warning(
                "wink: the cache in %s cannot be used (%s); continuing without a cache.", self.directory, error
            )
        cache, self._cache, self.directory = self._cache, None, ""
        if cache is not None:
            with contextlib.suppress(Exception):
                cache.close()

    def get(self, key: str) -> bytes | None:
        """The stored result (b"" = nothing to do), or None on a miss."""
        if self._cache is None:
            return None
        try:
            value = self._cache.get(key)
        except Exception as error:
            self._disable(error)
            return None
        return value if isinstance(value, bytes) else None

    def put(self, key: str, value: bytes) -> None:
        if self._cache is None:
            return
        try:
            self._cache.set(key, value)
        except Exception as error:
            self._disable(error)

    def stats(self) -> tuple[int, int]:
        """(bytes on disk, entries); (0, 0) without a cache."""
        if self._cache is None:
            return 0, 0
        try:
            return int(self._cache.volume()), len(self._cache)
        except Exception as error:
            self._disable(error)
            return 0, 0

    def close(self) -> None:
        if self._cache is not None:
            with contextlib.suppress(Exception):
                self._cache.close()


class Cache:
    """The add-on that keeps a ResultCache matching wink_cache_dir and wink_cache_size."""

    def __init__(self) -> None:
        self.store = ResultCache("", 0)

    def configure(self, updated: set[str]) -> None:
        if updated & {"wink_cache_dir", "wink_cache_size"}:
            opts = ctx.options
            old, self.store = self.store, ResultCache(opts.wink_cache_dir, opts.wink_cache_size)
            old.close()

    def done(self) -> None:
        self.store.close()
