"""The add-on that animates: sniff each response, schedule image work, apply the animation.

The event loop only sniffs a few bytes and awaits; examining a body (inflating, probing, hashing)
runs in a thread, image work in a worker process (proxy_addon.scheduler, proxy_addon.pool). Anything
that goes wrong sends the original bytes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from mitmproxy import ctx, http

from pipeline import formats
from pipeline.decode import sniff
from proxy_addon.bodies import Untouched, examine, is_complete, may_be_image
from proxy_addon.cache_keeper import Cache
from proxy_addon.gate import CANDIDATE
from proxy_addon.options import WinkOptions
from proxy_addon.privacy import page_site
from proxy_addon.protocol import PASS, Decision, ImageKind, Outcome
from proxy_addon.rewrite import apply_animation
from proxy_addon.scheduler import Lanes, Scheduler
from proxy_addon.stats import OnceLog, Stats

logger = logging.getLogger(__name__)

#: Bodies refused once (by hash of the bytes as they came) are not examined again.
REMEMBERED_REFUSALS = 4096


class Refused:
    """The hashes of bodies refused lately, a bounded set kept in memory only."""

    def __init__(self, size: int = REMEMBERED_REFUSALS) -> None:
        self.size = size
        self._keys: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def add(self, key: str) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self.size:
            self._keys.popitem(last=False)


class Animate:
    """Rewrites image responses that show the target person into animations; never breaks a page."""

    def __init__(self, options: WinkOptions, cache: Cache, lanes: Lanes, stats: Stats, log: OnceLog) -> None:
        self.options, self.cache, self.stats, self.log = options, cache, stats, log
        self.threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="wink")
        self.scheduler = Scheduler(lanes, lambda: cache.store, self.threads, stats, log)
        self.refused = Refused()

    async def response(self, flow: http.HTTPFlow) -> None:
        """Only what the Gate marked (a GET for an image, answered 200 with an image type) is looked at."""
        response = flow.response
        if (
            response is None
            or not flow.metadata.get(CANDIDATE)
            or not ctx.options.wink_enabled
            or response.stream
            or not response.raw_content
        ):
            return
        raw = response.raw_content
        if not may_be_image(raw, response.headers) or not is_complete(raw, response.headers):
            return
        await self._handle(flow, raw, response.headers.get("content-encoding"))

    def done(self) -> None:
        self.threads.shutdown(wait=False, cancel_futures=True)

    async def _handle(self, flow: http.HTTPFlow, raw: bytes, encoding: str | None) -> None:
        started = time.perf_counter()
        opts = ctx.options
        deadline = started + self.options.timeout
        served = sniff(raw[:64]) if encoding in (None, "identity") else None  # AVIF is answered with AVIF
        choice = self.options.choose(flow.request.headers.get("accept", ""), served)
        target, preset = opts.wink_target, opts.wink_preset
        # The cache key: the image's bytes, what its animation is made with, and the site of the page
        # that asks (a page must not learn by timing what this browser saw on other sites).
        suffix = f":{choice.tag}:{page_site(flow.request.headers)}"
        loop = asyncio.get_running_loop()
        examining = loop.run_in_executor(
            self.threads,
            examine,
            raw,
            encoding,
            opts.wink_min_size,
            choice.fmt,
            suffix,
            self.cache.store.get,
            self.refused,
        )
        try:  # the header check is bounded, but it too must not hold the response past its deadline
            found = await asyncio.wait_for(examining, max(0.0, deadline - time.perf_counter()))
        except TimeoutError:
            self.stats.count(Outcome.TIMED_OUT)
            return
        except Exception as error:  # never lose a response to our own bug
            self.log("examine", logging.WARNING, f"wink: cannot examine an image ({error!r}); sent as is.")
            return
        if found is None:
            return
        self.stats.counts["seen"] += 1
        try:
            kind = ImageKind.UNKNOWN
            if isinstance(found, Untouched):
                logger.debug("wink: passed untouched: %s", found.reason)
                if found.raw_key:
                    self.refused.add(found.raw_key)
                decision: Decision = PASS
                kind = ImageKind.SKIPPED
            else:
                decision = await self.scheduler.decide(found, choice.fmt, target, preset, deadline, opts.wink_workers)
                kind = decision.kind
        finally:
            self.stats.added(kind, (time.perf_counter() - started) * 1000)
        if decision.outcome is Outcome.ANIMATED and decision.data and flow.response is not None:
            apply_animation(flow.response, decision.data, formats.get(choice.fmt).http_mime, choice.tag)
            self.stats.count(Outcome.ANIMATED)
        else:
            self.stats.count(Outcome.PASSED if decision.outcome is Outcome.ANIMATED else decision.outcome)
