"""The proxy's one queue of image work: which image is taken in, which of its steps a worker does next,
and how long a response waits for it.

In order, from a response to a worker:
1. One job per image and settings (its cache key); a second response for the same image waits for the
   same job. At most `QUEUE_PER_WORKER` images per worker are in work at once; past that, an image
   passes through untouched (Outcome.QUEUE_FULL).
2. Each job is split into steps (proxy_addon.protocol.Lane): the look (is there a face?), the
   identification (is it the target?) and the animation. Its steps wait in `Lanes`, the one queue,
   and start in lane order: quick looks first, and workers kept for them (see `Lanes`).
3. A step goes to the process pool (proxy_addon.pool) only once a worker is free for it, so nothing
   waits inside the pool.

A response waits for its job at most until its deadline; the job itself runs on, and its result
goes into the cache, so the next load of that image gets the animation. Until the cache entry is
written, the finished job answers for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from proxy_addon.bodies import Candidate
from proxy_addon.cache import ResultCache
from proxy_addon.pool import JobKilledWorker, WorkerPool
from proxy_addon.protocol import FAIL, PASS, Decision, ImageKind, Kind, Lane, Outcome, Step, WorkResult
from proxy_addon.rewrite import valid_animation
from proxy_addon.shared_cache import CLAIM_MS, SharedResultCache
from proxy_addon.stats import OnceLog, Stats, WorkState, report

#: The result cache, on disk or shared.
Store = ResultCache | SharedResultCache
#: Images in work (waiting, in a step, or finishing after their deadline) per worker process. Most
#: end at their short look (Lanes), and over HTTP/2 a page asks for all its photos at once, so a
#: photo-heavy page's burst fits; the bound keeps a flood from holding unbounded bodies and waits.
QUEUE_PER_WORKER = 32
#: Seconds a finished job still answers for its image once its cache entry is written.
ANSWERS_AFTER_WRITE = 2.0
#: Seconds between looks into the shared cache for the animation another proxy claimed.
FLEET_POLL = 0.05
#: Seconds a job waits for another proxy's animation at most, then makes its own (past the claim's expiry).
FLEET_WAIT = CLAIM_MS / 1000 + 5
#: Results remembered as "nothing to do" (b"" in the cache), so the image costs one lookup next time.
NOTHING_TO_DO = (Kind.NOTHING, Kind.BAD_IMAGE)


#: Workers that only looks may use, when there are at least three (benchmarks/pageload_bench.py).
RESERVED_FOR_LOOKS = 1


@dataclasses.dataclass(order=True)
class _Ticket:
    lane: Lane
    number: int
    granted: asyncio.Future[None] = dataclasses.field(compare=False)


class Lanes:
    """The one queue: steps wait here for a worker, and start in lane order, at most one per worker.

    A page has dozens of photos, most without a face, a few of other people, maybe one of the target.
    Each image's work is split into steps (proxy_addon.protocol.Lane): the look (short: is there a
    face?), the identification (short, per face: is it the target?) and the animation (far longer).
    Steps wait here, not in the process pool's first-come queue (which is handed a step only once a worker
    is free for it), and start in lane order, so a look never waits behind identifications or animations
    that are waiting too.

    A step that has started runs to its end (a worker cannot be interrupted), so the long ones are kept
    from holding every worker: animations may hold all workers but one (when there are two or more), and
    with three workers or more, identifications and animations together all but `RESERVED_FOR_LOOKS`.
    A look then waits for at most one identification, never for an animation. With two workers
    (the default on two cores) nothing more is kept back: a worker kept idle for looks would leave a page's
    photos of other people to a single worker, which costs more than it saves (benchmarks/pageload_bench.py).

    Within those limits a waiting animation takes the first worker that is free, before waiting looks:
    it cannot take the last worker, so looks still have one, but behind a page's stream of looks an
    animation in lane order would wait for a free worker for as long as the page kept asking, and the
    target's photo is the one its page waits for longest.
    """

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        self.running: Counter[Lane] = Counter()
        self._waiting: list[_Ticket] = []
        self._numbers = itertools.count()

    def waiting(self) -> dict[str, int]:
        """Steps waiting for a worker, per lane (the status page's queue)."""
        counts = Counter(ticket.lane for ticket in self._waiting)
        return {lane.name.lower(): counts[lane] for lane in Lane}

    def working(self) -> dict[str, int]:
        """Steps running in workers now, per lane."""
        return {lane.name.lower(): self.running[lane] for lane in Lane}

    def work_state(self) -> WorkState:
        """A copy of what the status page shows: the steps per lane and the workers."""
        pool = self.pool
        return WorkState(self.waiting(), self.working(), pool.ready(), pool.restarts, pool.hung)

    def may_start(self, lane: Lane) -> bool:
        workers = self.pool.settings.size
        if sum(self.running.values()) >= workers:
            return False
        if lane is Lane.LOOK or workers < 2:
            return True
        if lane is Lane.ANIMATE and self.running[Lane.ANIMATE] >= workers - 1:
            return False
        heavy = self.running[Lane.IDENTIFY] + self.running[Lane.ANIMATE]
        return workers < 3 or heavy < workers - RESERVED_FOR_LOOKS

    async def run(self, step: Step) -> WorkResult:
        """The step's result, once a worker was free for it and did it."""
        ticket = _Ticket(step.lane, next(self._numbers), asyncio.get_running_loop().create_future())
        self._waiting.append(ticket)
        self._waiting.sort()
        self._dispatch()
        try:
            await ticket.granted
        except asyncio.CancelledError:
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            elif ticket.granted.done() and not ticket.granted.cancelled():
                self._finished(step.lane)
            raise
        try:
            return await self.pool.run(step)
        finally:
            self._finished(step.lane)

    def _finished(self, lane: Lane) -> None:
        self.running[lane] -= 1
        self._dispatch()

    def _dispatch(self) -> None:
        """Start every waiting step that may start: an animation first (within its limit), then in lane
        order; a step that may not (an animation, all heavy workers busy) does not hold up the looks
        behind it."""
        order = self._waiting
        if self.pool.settings.size >= 2:  # one worker alone takes the looks first
            order = sorted(order, key=lambda ticket: ticket.lane is not Lane.ANIMATE)  # stable: lane order after
        for ticket in list(order):
            if self.may_start(ticket.lane):
                self._waiting.remove(ticket)
                self.running[ticket.lane] += 1
                ticket.granted.set_result(None)


@dataclasses.dataclass
class _Fleet:
    """What one job owes the other proxies: the claim it holds (released once its result is stored)
    and whether its result came from another proxy (then it is in the cache already)."""

    token: str = ""
    shared: bool = False


class Scheduler:
    """Turns a Candidate into a Decision before its deadline, running at most one job per cache key."""

    def __init__(self, lanes: Lanes, store: Callable[[], Store], threads: Executor, stats: Stats, log: OnceLog) -> None:
        """`store` gives the result cache in use now (the options may change it)."""
        self.lanes, self.pool, self.store, self.threads = lanes, lanes.pool, store, threads
        self.stats, self.log = stats, log
        self._jobs: dict[str, asyncio.Task[Decision]] = {}
        self._writing: set[asyncio.Future[Any]] = set()
        self.fatal: set[str] = set()  # keys whose job killed its worker (also stored as "nothing to do")

    async def decide(
        self, found: Candidate, fmt: str, target: str, preset: str, deadline: float, workers: int
    ) -> Decision:
        if found.cached is not None:
            self.stats.counts["cached"] += 1
            return Decision(Outcome.ANIMATED if found.cached else Outcome.PASSED, found.cached, ImageKind.CACHED)
        if found.key in self.fatal:
            return PASS
        job = self._jobs.get(found.key)
        if job is not None and job.done():
            self.stats.counts["cached"] += 1  # finished, its cache entry being written
            return dataclasses.replace(job.result(), kind=ImageKind.CACHED)
        if job is None:
            if len(self._jobs) >= QUEUE_PER_WORKER * workers:
                self.log(
                    "queue_full",
                    logging.WARNING,
                    "wink: the work queue is full; images pass through untouched until it drains.",
                )
                return Decision(Outcome.QUEUE_FULL)
            job = asyncio.create_task(self._job(found, fmt, target, preset))
            self._jobs[found.key] = job
        if not job.done() and self.pool.running and self.pool.ready() == 0:
            # Every worker is loading its models (start-up, or a frozen pool being replaced): holding
            # the response could only end at the deadline. It goes now; the job waits for the pool.
            return Decision(Outcome.WARMING)
        try:
            return await asyncio.wait_for(asyncio.shield(job), max(0.0, deadline - time.perf_counter()))
        except TimeoutError:
            return Decision(Outcome.TIMED_OUT)

    async def _job(self, found: Candidate, fmt: str, target: str, preset: str) -> Decision:
        """One image through the workers, step by step (Lanes), its result into the cache;
        runs on even after the response left."""
        storing, fleet = False, _Fleet()
        try:
            step = Step(Lane.LOOK, found.body, target, preset, fmt)
            decision, result = await self._steps(step, found.key, fleet)
            if not fleet.shared and (decision.outcome is Outcome.ANIMATED or result.kind in NOTHING_TO_DO):
                storing = self._store(found.key, decision.data or b"", fleet.token)
            return decision
        except JobKilledWorker:
            self.log(
                "fatal",
                logging.WARNING,
                "wink: an image made its worker die; it is remembered and sent as is from now on.",
            )
            self.fatal.add(found.key)
            storing = self._store(found.key, b"", fleet.token)
            return FAIL
        except BrokenProcessPool:
            self.log(
                "crash",
                logging.WARNING,
                "wink: a worker process died; the image was sent as is and a new worker started.",
            )
            return FAIL
        except Exception as error:
            self.log(
                f"job:{type(error).__name__}",
                logging.WARNING,
                f"wink: image work failed ({error!r}); the image was sent as is.",
            )
            return FAIL
        finally:
            if not storing:
                self._jobs.pop(found.key, None)
                self._release(found.key, fleet.token)

    async def _steps(self, step: Step, key: str, fleet: _Fleet) -> tuple[Decision, WorkResult]:
        """Look, identify, animate: each step only when the one before found something to do."""
        cpu_ms, kind = 0.0, ImageKind.NO_FACE
        result = await self.lanes.run(step)
        cpu_ms += result.cpu_ms
        if result.kind is Kind.FACES:
            kind = ImageKind.OTHER_PEOPLE
            result = await self.lanes.run(dataclasses.replace(step, lane=Lane.IDENTIFY, faces=result.faces))
            cpu_ms += result.cpu_ms
        if result.kind is Kind.TARGETS:
            kind = ImageKind.TARGET
            result = await self._animate(dataclasses.replace(step, lane=Lane.ANIMATE, faces=result.faces), key, fleet)
            cpu_ms += result.cpu_ms
        if result.kind in (Kind.ANIMATED, Kind.NOTHING) and not fleet.shared:
            self.stats.cpu(kind, cpu_ms)
        return dataclasses.replace(self._interpret(result, step.fmt), kind=kind), result

    async def _animate(self, step: Step, key: str, fleet: _Fleet) -> WorkResult:
        """The animation, made once for the fleet: with a shared cache, the proxy that claims the photo
        animates it and the others wait for its result there (looks and identifications may repeat,
        they are cheap; an animation is not). A claim that is never released expires (CLAIM_MS)."""
        store = self.store()
        if isinstance(store, SharedResultCache):
            loop = asyncio.get_running_loop()
            give_up = time.monotonic() + FLEET_WAIT
            while not (claim := await loop.run_in_executor(self.threads, store.claim, key)).mine:
                if time.monotonic() > give_up:
                    break
                await asyncio.sleep(FLEET_POLL)
                made = await loop.run_in_executor(self.threads, store.get, key)
                if made is not None:
                    fleet.shared = True
                    return WorkResult(Kind.ANIMATED if made else Kind.NOTHING, made)
            fleet.token = claim.token
        self.stats.counts["animations_made"] += 1
        return await self.lanes.run(step)

    def _interpret(self, result: WorkResult, fmt: str) -> Decision:
        if result.kind is Kind.ANIMATED:
            if valid_animation(result.data, fmt):
                return Decision(Outcome.ANIMATED, result.data)
            self.log("invalid", logging.WARNING, f"wink: the pipeline made no valid {fmt}; sent as is.")
            return FAIL
        if result.kind is Kind.NOTHING:
            return PASS
        report(self.log, result)
        return FAIL

    def _store(self, key: str, value: bytes, token: str = "") -> bool:
        """Write to the cache without holding the response, then release the job's claim; until
        written, the finished job answers."""
        cache = self.store()
        if not cache.enabled:
            return False

        def put() -> None:
            cache.put(key, value)
            if isinstance(cache, SharedResultCache):
                cache.release(key, token)

        stored = asyncio.get_running_loop().run_in_executor(self.threads, put)
        self._writing.add(stored)

        def written(future: asyncio.Future[Any]) -> None:
            self._writing.discard(future)
            # A request that looked the key up in the cache just before the entry was written misses
            # it there: the finished job answers it for a moment longer.
            asyncio.get_running_loop().call_later(ANSWERS_AFTER_WRITE, self._jobs.pop, key, None)

        stored.add_done_callback(written)
        return True

    def _release(self, key: str, token: str) -> None:
        """Free a claim whose job stores nothing (it failed), so another proxy may take the work."""
        cache = self.store()
        if token and isinstance(cache, SharedResultCache):
            with contextlib.suppress(RuntimeError):  # the threads are shut down: the claim expires
                self.threads.submit(cache.release, key, token)
