"""The result cache on disk (diskcache), degrading to "no cache", never failing; the shared one on Redis
is proxy_addon.shared_cache, and the add-on that picks one is proxy_addon.cache_keeper.

Values are the animation bytes, or b"" for "nothing to do here" (no target face, or an image the
pipeline cannot read), so a page's ordinary images cost one lookup the second time they are seen.
Each value is stored behind a digest of itself and checked on every read: an entry damaged on disk
is deleted and reads as a miss (recomputed), never served. A full disk loses that one entry; a cache
folder deleted under the running proxy is made again. The folder is 0700, its files 0600.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
from pathlib import Path
from typing import Any

from proxy_addon.sealed import seal, unseal

logger = logging.getLogger(__name__)


def default_cache_dir() -> str:
    """~/.cache/wink/proxy, or under $XDG_CACHE_HOME when that is set."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "wink" / "proxy")


def make_private(directory: Path) -> None:
    """The folder 0700 and what is in it 0600 (a cache made by an older version was world-readable)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    for root, folders, files in os.walk(directory):
        for name in folders:
            (Path(root) / name).chmod(0o700)
        for name in files:
            (Path(root) / name).chmod(0o600)


class ResultCache:
    """Size-bounded, evicting, survives restarts; a cache that cannot be opened is turned off with one
    warning, one that fails a write loses that entry only."""

    def __init__(self, directory: str, size_mb: int) -> None:
        self.directory = str(Path(directory).expanduser()) if directory else ""
        self.size_mb = size_mb
        self.damaged = 0  # entries whose digest did not match, deleted
        self._cache: Any = None  # a diskcache.Cache (diskcache ships no types)
        self._warned: set[int] = set()
        self._reopening = threading.Lock()
        if not self.directory or size_mb <= 0:
            return
        self._open()

    def _open(self) -> None:
        try:
            import diskcache

            make_private(Path(self.directory))
            cache = diskcache.Cache(
                self.directory, size_limit=self.size_mb * 1_000_000, eviction_policy="least-recently-stored"
            )
            self._cache = cache
            cache.get("wink:probe")  # a corrupt database fails here, not on the first image
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

    def _in_place(self) -> bool:
        """Whether the cache can be used; a folder deleted under the running proxy is made again, empty
        (sqlite cannot open its database in a missing folder, from a thread that has no connection yet)."""
        if self._cache is None:
            return False
        if os.path.isdir(self.directory):
            return True
        with self._reopening:
            if not os.path.isdir(self.directory) and self._cache is not None:
                with contextlib.suppress(Exception):
                    self._cache.close()
                self._cache = None
                self._open()
        return self._cache is not None

    def get(self, key: str) -> bytes | None:
        """The stored result (b"" = nothing to do), or None on a miss or a damaged entry (then deleted)."""
        if not self._in_place():
            return None
        try:
            stored = self._cache.get(key)
        except OSError as error:
            self._failed(error)
            return None
        except Exception as error:
            self._disable(error)
            return None
        if not isinstance(stored, bytes):
            return None
        value = unseal(stored)
        if value is None:
            self.damaged += 1
            self._once(0, "wink: a damaged cache entry was deleted; its image is worked out again.")
            with contextlib.suppress(Exception):
                self._cache.delete(key)
        return value

    def put(self, key: str, value: bytes) -> None:
        if not self._in_place():
            return
        try:
            self._cache.set(key, seal(value))
        except OSError as error:  # a full disk (or a quota): this entry is lost, the cache goes on
            self._failed(error)
        except Exception as error:
            self._disable(error)

    def _failed(self, error: OSError) -> None:
        reason = errno.errorcode.get(error.errno or 0, type(error).__name__)
        self._once(error.errno or -1, f"wink: the cache could not read or write an entry ({reason}); going on.")

    def _once(self, cause: int, message: str) -> None:
        if cause not in self._warned:
            self._warned.add(cause)
            logger.warning(message)

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
