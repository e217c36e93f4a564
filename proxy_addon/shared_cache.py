"""The result cache on a Redis the user runs (`--set wink_cache_url=redis://...`): proxies share it.

The same keys and values as the disk cache (proxy_addon.cache): content-addressed, partitioned by the
page's site, b"" for "nothing to do", each value sealed behind its digest and checked on every read
(a damaged entry is deleted and reads as a miss). Every entry expires after wink_cache_ttl; the size
budget is Redis's own (maxmemory and an eviction policy, docs/deploy.md).

A claim (SET NX PX) names the one proxy of the fleet that animates a new photo; the others wait for
its result here. The claim expires, so a proxy that dies holding it frees the work.

Every call has a short socket timeout and runs in a thread, never on mitmproxy's event loop. A Redis
that cannot be reached is an outage: the proxy goes on as if it had no cache (a claim is always
granted), logs it once, and asks Redis again every RETRY_SECONDS. The URL (it may hold a password)
is never logged, nor an error's text (which may name the host).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import NamedTuple, TypeVar
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from proxy_addon.sealed import seal, unseal

logger = logging.getLogger(__name__)

#: Seconds to connect, and to wait for any answer: a slow Redis costs an image this much, not a page.
SOCKET_TIMEOUT = 0.25
#: One immediate retry: a connection Redis closed (a restart) is reopened without calling it an outage.
RETRIES = 1
#: Seconds between attempts while Redis is unreachable (it is used again within this of coming back).
RETRY_SECONDS = 1.0
#: Every key we write starts with this, so a shared database shows whose keys they are.
PREFIX = "wink:"
#: Milliseconds a claim holds the animation of one photo; past it another proxy may take the work.
CLAIM_MS = 30_000
#: Deletes a claim only if it is still ours (it may have expired and been taken by another proxy).
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
SCHEMES = ("redis", "rediss", "unix")

T = TypeVar("T")


def parse_cache_url(text: str) -> str:
    """The URL as given ("" = no shared cache); raises ValueError with a sentence that never repeats it."""
    if not text:
        return ""
    try:
        parts = urlsplit(text)
        port = parts.port  # raises for a port that is not a number
    except ValueError:
        raise ValueError("wink_cache_url is not a valid URL (redis://[:PASSWORD@]HOST[:PORT][/DB]).") from None
    if parts.scheme not in SCHEMES:
        raise ValueError("wink_cache_url must start with redis://, rediss:// (TLS) or unix://.")
    if parts.scheme != "unix" and not parts.hostname:
        raise ValueError("wink_cache_url names no host (redis://[:PASSWORD@]HOST[:PORT][/DB]).")
    database = parts.path.strip("/")
    if parts.scheme != "unix" and database and not database.isdigit():
        raise ValueError("wink_cache_url's database (after the host) must be a number.")
    if port == 0:
        raise ValueError("wink_cache_url's port must not be 0.")
    return text


class Claim(NamedTuple):
    """Whether this proxy is to do the work, and the token that releases its claim ("" = none held)."""

    mine: bool
    token: str = ""


class SharedResultCache:
    """The ResultCache's interface (get, put, stats, close) on Redis, plus claims for the fleet."""

    shared = True

    def __init__(self, url: str, ttl_hours: int) -> None:
        self.ttl_ms = ttl_hours * 3_600_000
        self.damaged = 0
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            retry=Retry(NoBackoff(), RETRIES),
        )
        self._release = self._client.register_script(RELEASE)
        self._lock = threading.Lock()
        self._down_until = 0.0  # while in an outage: when to ask Redis again
        self._down = False
        self._warned: set[str] = set()
        self._stats, self._reading = (0, 0), False

    @property
    def enabled(self) -> bool:
        return not self._down

    def _call(self, action: Callable[[], T]) -> T | None:
        """The action's answer, or None when Redis is unreachable (or was, less than RETRY_SECONDS ago)."""
        with self._lock:
            if self._down and time.monotonic() < self._down_until:
                return None
        try:
            answer = action()
        except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
            self._outage(error)
            return None
        except Exception as error:  # Redis said no (out of memory, a read-only replica), or the client failed
            self._once(type(error).__name__, f"wink: the shared cache failed a command ({type(error).__name__}).")
            return None
        with self._lock:
            back, self._down = self._down, False
        if back:
            logger.warning("wink: the shared cache is reachable again; using it.")
        return answer

    def _outage(self, error: BaseException) -> None:
        with self._lock:
            started, self._down = not self._down, True
            self._down_until = time.monotonic() + RETRY_SECONDS
        if started:
            logger.warning(
                "wink: the shared cache cannot be reached (%s); going on without a cache until it is back.",
                type(error).__name__,
            )

    def _once(self, cause: str, message: str) -> None:
        if cause not in self._warned:
            self._warned.add(cause)
            logger.warning(message)

    def get(self, key: str) -> bytes | None:
        """The stored result (b"" = nothing to do), or None on a miss, an outage or a damaged entry."""
        stored = self._call(lambda: self._client.get(PREFIX + key))
        if not isinstance(stored, bytes):
            return None
        value = unseal(stored)
        if value is None:
            self.damaged += 1
            self._once("damaged", "wink: a damaged cache entry was deleted; its image is worked out again.")
            self._call(lambda: self._client.delete(PREFIX + key))
        return value

    def put(self, key: str, value: bytes) -> None:
        self._call(lambda: self._client.set(PREFIX + key, seal(value), px=self.ttl_ms))

    def claim(self, key: str) -> Claim:
        """Claim the work on `key` for this proxy; granted when Redis is unreachable (then work alone)."""
        token = secrets.token_hex(8)
        taken = self._call(lambda: bool(self._client.set(f"{PREFIX}claim:{key}", token, nx=True, px=CLAIM_MS)))
        if taken is None:  # unreachable, or refused: nobody else can be asked, this proxy works alone
            return Claim(True)
        return Claim(True, token) if taken else Claim(False)

    def release(self, key: str, token: str) -> None:
        if token:
            self._call(lambda: self._release(keys=[f"{PREFIX}claim:{key}"], args=[token]))

    def stats(self) -> tuple[int, int]:
        """(bytes Redis uses, keys in its database) as last read, (0, 0) before; asked on the event loop,
        so it never waits for Redis: each call starts a fresh reading in a thread, unless one is running."""
        with self._lock:
            start, self._reading = not self._reading, True
        if start:
            threading.Thread(target=self._read_stats, name="wink-redis-stats", daemon=True).start()
        return self._stats

    def _read_stats(self) -> None:
        try:
            memory = self._call(lambda: self._client.info("memory"))
            size = self._call(self._client.dbsize)
            if isinstance(memory, dict) and isinstance(size, int):
                self._stats = (int(memory.get("used_memory", 0)), size)
            else:
                self._stats = (0, 0)
        finally:
            with self._lock:
                self._reading = False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.close()
