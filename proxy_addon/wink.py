"""mitmproxy add-on: every photo of the target person winks and smiles; everything else passes untouched.

    uv run mitmdump -s proxy_addon/wink.py --listen-host 127.0.0.1 --set confdir=certs/confdir

Image work runs in a pool of worker processes (proxy_addon/worker.py); the event loop only sniffs a
few bytes and awaits. A response is held at most `wink_timeout` seconds: past that the original goes
out and the work finishes in the background into the cache. Anything that goes wrong sends the
original bytes. `http://wink.proxy/` (through the proxy) shows the state and offers a small JSON API.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import multiprocessing
import os
import re
import sys
import time
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, NamedTuple

from mitmproxy import ctx, exceptions, http, tls
from mitmproxy.net import encoding as content_encoding

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # mitmproxy runs this file as a script; the helpers beside it form a package
    sys.path.insert(0, str(REPO))

from pipeline.api import FORMATS, MIME_TYPES, PIPELINE_VERSION  # noqa: E402
from pipeline.decode import ANIMATABLE, probe, sniff  # noqa: E402
from pipeline.errors import WinkError  # noqa: E402
from proxy_addon import control, worker  # noqa: E402
from proxy_addon.cache import ResultCache, default_cache_dir  # noqa: E402

logger = logging.getLogger(__name__)

#: Kinds a browser shows as a photo and the pipeline animates; SVG, ICO, TIFF, HEIF... pass untouched.
ANIMATE_KINDS = ANIMATABLE - {"tiff"}
#: Jobs (running or waiting, including ones finishing after their deadline) per worker process.
QUEUE_PER_WORKER = 4
#: Content types never worth decoding a compressed body for (pages, scripts, styles, data).
TEXTUAL = re.compile(r"^\s*(text/|application/(javascript|json|xml|xhtml|x-javascript|ld\+json|manifest))", re.I)
FORMAT_CHOICES = ("auto", *FORMATS)
#: The most a compressed image body is inflated to (far over pipeline.decode.MAX_PIXELS' worth of JPEG).
MAX_DECODED = 64 * 1024 * 1024
#: Response headers that describe the original bytes and would be wrong for the animation.
STALE_HEADERS = (
    "content-encoding",
    "transfer-encoding",
    "content-md5",
    "digest",
    "content-digest",
    "repr-digest",
    "accept-ranges",
)
ETAG_MARK = "~wink."
ETAG = re.compile(r'(W/)?"([^"]*)"|\*')


# --- pure helpers ---------------------------------------------------------------------------------


def accepted_types(accept: str) -> set[str]:
    """Media types an Accept header allows (q > 0), lower-cased, wildcards kept as written."""
    types = set()
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            types.add(media.lower())
    return types


def choose_format(accept: str, setting: str = "auto") -> str:
    """Animated WebP where the client says it takes WebP, else APNG where it says so, else GIF."""
    if setting != "auto":
        return setting
    types = accepted_types(accept)
    if "image/webp" in types:
        return "webp"
    if "image/apng" in types:
        return "apng"
    return "gif"


def settings_tag(target_key: str, preset_key: str, fmt: str) -> str:
    """A short tag naming what an animation was made with; part of its ETag."""
    text = f"{target_key}\0{preset_key}\0{fmt}\0{PIPELINE_VERSION}"
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def tagged_etag(etag: str, tag: str) -> str:
    """The original ETag with our tag inside its quotes: a browser cache never mixes still and animation."""
    match = ETAG.fullmatch(etag.strip())
    if not match or match.group(0) == "*":  # none, or one we cannot read: ours alone, never sent upstream
        return f'"{ETAG_MARK}{tag}"'
    return f'{match.group(1) or ""}"{match.group(2)}{ETAG_MARK}{tag}"'


def our_tags(value: str) -> list[str]:
    """The settings tags of the ETags we made, in an If-None-Match or If-Range value."""
    return [
        match.group(2).rpartition(ETAG_MARK)[2]
        for match in ETAG.finditer(value)
        if match.group(2) and ETAG_MARK in match.group(2)
    ]


def untag_if_none_match(value: str, current_tag: str | None) -> str | None:
    """If-None-Match as the origin must see it: our tags removed before the request leaves the proxy.

    An ETag we tagged with the current settings becomes the origin's own again (a 304 then keeps the
    browser's cached animation); one made with other settings, or while disabled, is dropped so the
    origin sends the image in full. Returns None when nothing is left.
    """
    kept = []
    for match in ETAG.finditer(value):
        token = match.group(0)
        if token == "*" or ETAG_MARK not in token:
            kept.append(token)
            continue
        original, _, tag = match.group(2).rpartition(ETAG_MARK)
        if current_tag is not None and tag == current_tag and original:
            kept.append(f'{match.group(1) or ""}"{original}"')
    return ", ".join(kept) or None


def percentile(samples: Sequence[float], fraction: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return round(ordered[index], 2)


def spec_key(spec: str) -> str:
    """A target or preset as part of a cache key: a name as is, a file or folder with its mtime."""
    path = Path(spec).expanduser()
    if "/" in spec or path.suffix:
        try:
            return f"{path.resolve()}@{path.stat().st_mtime_ns}"
        except OSError:
            pass
    return spec


class Candidate(NamedTuple):
    """An image response worth a look: its decoded body, cache key and what the cache already knows."""

    body: bytes
    key: str
    cached: bytes | None  # None: miss; b"": nothing to do; else the animation


def examine(
    raw: bytes, encoding: str | None, min_size: int, key_suffix: str, lookup: Callable[[str], bytes | None]
) -> Candidate | str | None:
    """Decide what to do with a response body (runs in a thread: decompressing and hashing take time).

    Returns None for "not an image" (not counted), a reason string for an image passed untouched,
    or a Candidate.
    """
    if encoding:
        body = _decoded(raw, encoding)
        if not isinstance(body, bytes):
            return body
    else:
        body = raw
    kind = sniff(body[:1024])
    if kind is None:
        return None
    if kind not in ANIMATE_KINDS:
        return f"{kind} is not animated"
    try:
        info = probe(body)  # refuses images over pipeline.decode.MAX_PIXELS (decompression bombs)
    except WinkError as error:
        return str(error)
    if info.frames > 1:
        return "already animated"
    if min(info.width, info.height) < min_size:
        return "too small"
    key = hashlib.sha256(body).hexdigest() + key_suffix
    return Candidate(body, key, lookup(key))


def _decoded(raw: bytes, encoding: str) -> bytes | str | None:
    """The body without its content-encoding; None when it cannot be decoded or is no image, a reason
    when it expands beyond MAX_DECODED. gzip and deflate are inflated a little first, to see whether
    they hold an image at all, and never further than the limit: a compressed bomb labelled image/jpeg
    must not take the proxy's memory."""
    if encoding.strip().lower() not in ("gzip", "x-gzip", "deflate"):
        try:
            body = content_encoding.decode(raw, encoding)
        except ValueError:
            return None
        return body if isinstance(body, bytes) else None
    for wbits in (47, -15):  # gzip or zlib wrapper (detected), else raw deflate
        inflater = zlib.decompressobj(wbits)
        try:
            head = inflater.decompress(raw, 1024)
            if sniff(head) is None:
                return None
            body = head + inflater.decompress(inflater.unconsumed_tail, MAX_DECODED - len(head) + 1)
        except zlib.error:
            continue
        return "too large once decompressed" if len(body) > MAX_DECODED else body
    return None


def apply_animation(response: http.Response, data: bytes, mime: str, tag: str) -> None:
    """Swap the body for the animation and make every header tell the truth about the new bytes."""
    headers = response.headers
    for name in STALE_HEADERS:
        headers.pop(name, None)
    response.content = data  # no content-encoding left, so this also sets Content-Length
    headers["content-type"] = mime
    # Always an ETag of ours, so the browser's revalidation tells us what it has cached.
    headers["etag"] = tagged_etag(headers.get("etag", ""), tag)
    vary = headers.get("vary", "")
    if vary.strip() != "*" and "accept" not in {v.strip().lower() for v in vary.split(",")}:
        headers["vary"] = f"{vary}, Accept" if vary.strip() else "Accept"
    headers["x-wink"] = "animated; synthetic"


def _valid_animation(data: bytes, fmt: str) -> bool:
    return bool(data) and sniff(data[:64]) == {"apng": "png"}.get(fmt, fmt)


# --- the add-on -----------------------------------------------------------------------------------


class Outcome(NamedTuple):
    """What a job came to: `data` set means an animation; `failure` names a cause worth counting."""

    data: bytes | None = None
    failure: str | None = None


class Wink:
    """Rewrites image responses that show the target person into animations; never breaks a page."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(("seen", "animated", "passed", "failed", "cached", "queue_full", "timeouts"), 0)
        self.latencies: deque[float] = deque(maxlen=2000)
        self.cache = ResultCache("", 0)
        self.restarts = 0
        self._ready: Any = None  # shared counter: workers of the current pool that have loaded their models
        self.timeout = 3.0
        self._pool: ProcessPoolExecutor | None = None
        self._threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="wink")
        self._jobs: dict[str, asyncio.Task[Outcome]] = {}
        self._background: set[asyncio.Future[Any]] = set()
        self._logged: set[str] = set()
        self._target_key = self._preset_key = ""

    def load(self, loader) -> None:
        loader.add_option(
            "wink_target",
            str,
            "zeman",
            "Whose face to animate: an enrolled name, a photo, a folder of photos, or 'any'.",
        )
        loader.add_option("wink_preset", str, "wink", "Motion preset: a name (see http://wink.proxy/) or a .npz path.")
        loader.add_option("wink_enabled", bool, True, "Animate images (false: pass everything through).")
        loader.add_option(
            "wink_cache_dir", str, default_cache_dir(), "Directory of the result cache (kept across restarts)."
        )
        loader.add_option("wink_cache_size", int, 512, "Cache size limit in MB (0 turns the cache off).")
        loader.add_option(
            "wink_timeout",
            str,
            "3",  # str: mitmproxy's --set parses no floats
            "Seconds (e.g. 3 or 0.5) an image response may be held; past it the original "
            "goes out and the animation is finished into the cache for next time.",
        )
        loader.add_option("wink_workers", int, os.cpu_count() or 1, "Worker processes doing image work.")
        loader.add_option("wink_min_size", int, 64, "Images smaller than this many pixels on a side pass untouched.")
        loader.add_option(
            "wink_format",
            str,
            "auto",
            "Output format: auto (by Accept: WebP, else APNG, else GIF), webp, apng or gif.",
            choices=FORMAT_CHOICES,
        )

    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        if "wink_timeout" in updated:
            self.timeout = _seconds(opts.wink_timeout)
        if "wink_workers" in updated and not 1 <= opts.wink_workers <= 64:
            raise exceptions.OptionsError("wink_workers must be between 1 and 64.")
        if "wink_min_size" in updated and opts.wink_min_size < 0:
            raise exceptions.OptionsError("wink_min_size must not be negative.")
        if "wink_format" in updated and opts.wink_format not in FORMAT_CHOICES:
            raise exceptions.OptionsError(f"wink_format must be one of {', '.join(FORMAT_CHOICES)}.")
        if "wink_cache_size" in updated and opts.wink_cache_size < 0:
            raise exceptions.OptionsError("wink_cache_size must not be negative (0 turns the cache off).")
        if "wink_preset" in updated:
            _check(_check_preset, opts.wink_preset)
            self._preset_key = spec_key(opts.wink_preset)
        if "wink_target" in updated:
            _check(_check_target, opts.wink_target)
            self._target_key = spec_key(opts.wink_target)
        if updated & {"wink_cache_dir", "wink_cache_size"}:
            old, self.cache = self.cache, ResultCache(opts.wink_cache_dir, opts.wink_cache_size)
            old.close()
        if "wink_workers" in updated and self._pool is not None:
            self._stop_pool(self._pool)
            self._pool = None
        elif updated & {"wink_target", "wink_preset"} and self._pool is not None:
            self._warm(self._pool)

    def running(self) -> None:
        opts = ctx.options
        logger.info(
            f"wink: animating {opts.wink_target} with preset {opts.wink_preset} "
            f"({'on' if opts.wink_enabled else 'off'}); status at http://wink.proxy/ through the proxy."
        )
        if opts.wink_enabled:
            self._ensure_pool()
        if Path(ctx.options.confdir).expanduser().resolve() == Path("~/.mitmproxy").expanduser().resolve():
            logger.info(
                "wink: using mitmproxy's default CA in ~/.mitmproxy; the project's own lives in "
                "certs/confdir (--set confdir=certs/confdir, see proxy_addon/README.md)."
            )

    def done(self) -> None:
        if self._pool is not None:
            self._stop_pool(self._pool)
            self._pool = None
        self._threads.shutdown(wait=False, cancel_futures=True)
        self.cache.close()

    # --- hooks ---

    def http_connect(self, flow: http.HTTPFlow) -> None:
        """https://wink.proxy/: accept the tunnel ourselves, so no upstream connection (or DNS lookup) is
        tried; TLS is then made with the proxy's CA like for any site, and request() answers inside it.
        (The extension checks this way that the browser trusts the CA.)"""
        if control.is_control_host(flow.request.host):
            now = time.time()
            flow.response = http.Response(
                flow.request.data.http_version, 200, b"Connection established", http.Headers(), b"", None, now, now
            )

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        """No upstream TLS first for the control host: there is no upstream."""
        address = data.context.server.address
        if (
            data.client_hello.sni
            and control.is_control_host(data.client_hello.sni)
            or (address and control.is_control_host(str(address[0])))
        ):
            data.establish_server_tls_first = False

    def request(self, flow: http.HTTPFlow) -> None:
        if control.is_control_host(flow.request.pretty_host):
            self._answer_control(flow)
            return
        headers = flow.request.headers
        inm, if_range = headers.get("if-none-match", ""), headers.get("if-range", "")
        if ETAG_MARK not in inm and ETAG_MARK not in if_range:
            return
        tag = self._tag(flow) if ctx.options.wink_enabled else None
        if ETAG_MARK in if_range:  # a range of our animation: only the whole image makes sense upstream
            headers.pop("if-range")
            headers.pop("range", None)
        if ETAG_MARK in inm:
            value = untag_if_none_match(inm, tag)
            if value is None:
                del headers["if-none-match"]
            else:
                headers["if-none-match"] = value
            if any(ours != tag for ours in our_tags(inm)):
                # The browser holds an animation these settings would not make (or the proxy is off):
                # a date check would let the origin answer 304 and keep it, so the image comes in full.
                headers.pop("if-modified-since", None)

    async def response(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        if (
            response is None
            or not ctx.options.wink_enabled
            or response.status_code != 200
            or flow.request.method.upper() == "HEAD"
            or response.stream
            or not response.raw_content
            or control.is_control_host(flow.request.pretty_host)
        ):
            return
        raw = response.raw_content
        encoding = response.headers.get("content-encoding")
        if encoding:
            if TEXTUAL.match(response.headers.get("content-type", "")):
                return
        elif sniff(raw[:1024]) is None:
            return  # the common case for pages, scripts and styles: decided without leaving the loop
        length = response.headers.get("content-length")
        chunked = "transfer-encoding" in response.headers
        if length is not None and not chunked and length.strip() != str(len(raw)):
            return  # not the complete body
        await self._handle(flow, raw, encoding)

    # --- image work ---

    async def _handle(self, flow: http.HTTPFlow, raw: bytes, encoding: str | None) -> None:
        started = time.perf_counter()
        opts = ctx.options
        deadline = started + self.timeout
        fmt = choose_format(flow.request.headers.get("accept", ""), opts.wink_format)
        target, preset = opts.wink_target, opts.wink_preset
        tag = settings_tag(self._target_key, self._preset_key, fmt)
        suffix = f":{tag}"  # the cache key: the image's bytes and what its animation is made with
        loop = asyncio.get_running_loop()
        try:
            found = await loop.run_in_executor(
                self._threads, examine, raw, encoding, opts.wink_min_size, suffix, self.cache.get
            )
        except Exception as error:  # never lose a response to our own bug
            self._once("examine", logging.WARNING, f"wink: cannot examine an image ({error!r}); sent as is.")
            return
        if found is None:
            return
        self.counts["seen"] += 1
        try:
            outcome = await self._outcome(found, fmt, target, preset, deadline)
        finally:
            self.latencies.append((time.perf_counter() - started) * 1000)
        if outcome.data is not None and flow.response is not None:
            apply_animation(flow.response, outcome.data, MIME_TYPES[fmt], tag)
            self.counts["animated"] += 1
        elif outcome.failure is None:
            self.counts["passed"] += 1
        elif outcome.failure in ("timeouts", "queue_full"):
            self.counts[outcome.failure] += 1
        else:
            self.counts["failed"] += 1

    async def _outcome(self, found: Candidate | str, fmt: str, target: str, preset: str, deadline: float) -> Outcome:
        if isinstance(found, str):
            logger.debug("wink: passed untouched: %s", found)
            return Outcome()
        if found.cached is not None:
            self.counts["cached"] += 1
            return Outcome(found.cached or None)
        job = self._jobs.get(found.key)
        if job is not None and job.done():
            self.counts["cached"] += 1  # finished, its cache entry being written
        if job is None:
            if len(self._jobs) >= QUEUE_PER_WORKER * ctx.options.wink_workers:
                self._once(
                    "queue_full",
                    logging.WARNING,
                    "wink: the work queue is full; images pass through untouched until it drains.",
                )
                return Outcome(failure="queue_full")
            job = asyncio.create_task(self._job(found, fmt, target, preset))
            self._jobs[found.key] = job
        try:
            return await asyncio.wait_for(asyncio.shield(job), max(0.0, deadline - time.perf_counter()))
        except TimeoutError:
            return Outcome(failure="timeouts")

    async def _job(self, found: Candidate, fmt: str, target: str, preset: str) -> Outcome:
        """One image through a worker, its result into the cache; runs on even after the response left."""
        storing = False
        try:
            result = await self._in_worker(worker.animate, found.body, target, preset, fmt)
            outcome = self._interpret(result, fmt)
            if outcome.data is not None or outcome.failure in (None, "bad"):
                storing = self._store(found.key, outcome.data or b"")
            return outcome
        except BrokenProcessPool:
            self._once(
                "crash",
                logging.WARNING,
                "wink: a worker process died; the image was sent as is and a new worker started.",
            )
            return Outcome(failure="crash")
        except Exception as error:
            self._once(
                f"job:{type(error).__name__}",
                logging.WARNING,
                f"wink: image work failed ({error!r}); the image was sent as is.",
            )
            return Outcome(failure="error")
        finally:
            if not storing:
                self._jobs.pop(found.key, None)

    def _interpret(self, result: tuple[Any, ...], fmt: str) -> Outcome:
        kind = result[0]
        if kind == "animated":
            data = result[1]
            if _valid_animation(data, fmt):
                return Outcome(data)
            self._once("invalid", logging.WARNING, f"wink: the pipeline made no valid {fmt}; sent as is.")
            return Outcome(failure="error")
        if kind == "none":
            return Outcome()
        reason = result[1] if len(result) > 1 else kind
        if kind == "bad":
            self._once(f"bad:{reason}", logging.INFO, f"wink: an image could not be animated: {reason}")
        elif kind == "usage":
            self._once(f"usage:{reason}", logging.ERROR, f"wink: {reason}")
        else:
            self._once(f"error:{reason}", logging.WARNING, f"wink: image work failed: {reason}")
        return Outcome(failure=kind)

    def _store(self, key: str, value: bytes) -> bool:
        """Write to the cache without holding the response; until written, the finished job answers."""
        if not self.cache.enabled:
            return False
        stored = asyncio.get_running_loop().run_in_executor(self._threads, self.cache.put, key, value)
        self._background.add(stored)

        def written(future: asyncio.Future[Any]) -> None:
            self._background.discard(future)
            self._jobs.pop(key, None)

        stored.add_done_callback(written)
        return True

    async def _in_worker(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run fn in the pool; a pool broken by a dead worker is replaced (once, by whoever notices)."""
        pool = self._ensure_pool()
        _prepare_sys_path()  # workers start lazily, on submit
        try:
            future = pool.submit(fn, *args)
        except (BrokenProcessPool, RuntimeError):
            pool = self._replace_pool(pool)
            future = pool.submit(fn, *args)
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            self._replace_pool(pool)
            raise

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            _prepare_sys_path()
            opts = ctx.options
            spawn = multiprocessing.get_context("spawn")
            self._ready = spawn.Value("i", 0)
            self._pool = ProcessPoolExecutor(
                max_workers=opts.wink_workers,
                mp_context=spawn,
                initializer=worker.init,
                initargs=(opts.wink_target, opts.wink_preset, self._ready),
            )
            self._warm(self._pool)
        return self._pool

    def _replace_pool(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        if self._pool is broken or self._pool is None:
            if self._pool is not None:
                self._stop_pool(self._pool)
                self.restarts += 1
                logger.warning("wink: a worker process died; starting a new worker pool.")
            self._pool = None
        return self._ensure_pool()

    @property
    def ready(self) -> int:
        """Workers of the current pool that have loaded their models."""
        return 0 if self._pool is None or self._ready is None else self._ready.value

    def _warm(self, pool: ProcessPoolExecutor) -> None:
        """Start every worker now (each loads the models as it starts), so no page waits for that; a job
        per worker, since workers are started as jobs arrive. A load that failed is reported from here."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        opts = ctx.options
        for _ in range(opts.wink_workers):
            try:
                submitted = pool.submit(worker.warm, opts.wink_target, opts.wink_preset)
                future = asyncio.wrap_future(submitted, loop=loop)
            except (BrokenProcessPool, RuntimeError):
                return
            self._background.add(future)
            future.add_done_callback(self._warmed)

    def _warmed(self, future: asyncio.Future[Any]) -> None:
        self._background.discard(future)
        if future.cancelled() or future.exception() is not None:
            return
        result = future.result()
        if result[0] != "none":
            self._interpret(result, "webp")

    @staticmethod
    def _stop_pool(pool: ProcessPoolExecutor) -> None:
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with contextlib.suppress(Exception):
                process.terminate()

    def _tag(self, flow: http.HTTPFlow) -> str:
        fmt = choose_format(flow.request.headers.get("accept", ""), ctx.options.wink_format)
        return settings_tag(self._target_key, self._preset_key, fmt)

    def _once(self, cause: str, level: int, message: str) -> None:
        """Log each cause of trouble once, not once per image."""
        if cause not in self._logged:
            self._logged.add(cause)
            logger.log(level, message)

    # --- control host ---

    def worker_pids(self) -> list[int]:
        pool = self._pool
        return sorted(getattr(pool, "_processes", {}) or {}) if pool is not None else []

    def status(self) -> dict[str, Any]:
        opts = ctx.options
        size, entries = self.cache.stats()
        samples = list(self.latencies)
        return {
            "enabled": opts.wink_enabled,
            "target": opts.wink_target,
            "preset": opts.wink_preset,
            "format": opts.wink_format,
            "version": PIPELINE_VERSION,
            "counts": dict(self.counts),
            "latency_ms": {"p50": percentile(samples, 0.5), "p95": percentile(samples, 0.95)},
            "cache": {"bytes": size, "entries": entries, "dir": self.cache.directory},
            "workers": {
                "count": opts.wink_workers,
                "ready": self.ready,
                "pids": self.worker_pids(),
                "restarts": self.restarts,
            },
        }

    def presets(self) -> dict[str, Any]:
        from pipeline.presets import list_presets

        return {
            "current": ctx.options.wink_preset,
            "presets": [{"name": p.name, "description": p.description} for p in list_presets()],
        }

    def set_preset(self, name: str) -> None:
        from pipeline.presets import list_presets

        names = [p.name for p in list_presets()]
        if name not in names:
            raise ValueError(f"Unknown preset {name!r}; choose one of {', '.join(names)}.")
        try:
            ctx.options.update(wink_preset=name)
        except exceptions.OptionsError as error:
            raise ValueError(str(error)) from error

    def set_enabled(self, enabled: bool) -> None:
        ctx.options.update(wink_enabled=enabled)
        if enabled:
            self._ensure_pool()

    def _answer_control(self, flow: http.HTTPFlow) -> None:
        api = control.Handlers(self.status, self.presets, self.set_preset, self.set_enabled)
        request = flow.request
        reply = control.handle(request.method, request.path, request.headers, request.raw_content or b"", api)
        flow.response = http.Response.make(reply.status, b"" if request.method == "HEAD" else reply.body, reply.headers)


def _prepare_sys_path() -> None:
    """Spawned workers start from this process's sys.path: it must find proxy_addon, and it must not hold
    package folders. (cv2's loader rebinds sys.path while mitmproxy's script loader restores the old list
    in place, which leaves site-packages/cv2 on it; there, cv2/typing shadows the standard typing.)"""
    clean = [p for p in sys.path if not (p and os.path.isfile(os.path.join(p, "__init__.py")))]
    if str(REPO) not in clean:
        clean.insert(0, str(REPO))
    if clean != sys.path:
        sys.path[:] = clean


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 120:
        raise exceptions.OptionsError(f"wink_timeout must be seconds above 0 and up to 120, not {text!r}.")
    return value


def _check(check: Callable[[str], None], value: str) -> None:
    try:
        check(value)
    except WinkError as error:
        raise exceptions.OptionsError(str(error)) from error


def _check_preset(spec: str) -> None:
    from pipeline.presets import load_preset

    load_preset(spec)


def _check_target(spec: str) -> None:
    """Cheap start-up check; a photo or folder is only checked to exist (encoding it needs the models)."""
    from pipeline.targets import load_target

    path = Path(spec).expanduser()
    if spec != "any" and path.suffix.lower() != ".json" and path.exists():
        return
    load_target(spec)


addons = [Wink()]
