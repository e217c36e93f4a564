"""The worker processes: started warm, watched, replaced when one dies or hangs, stopped without waiting.

`WorkerPool` wraps a ProcessPoolExecutor through its public API only. Its processes are forked by
multiprocessing's fork server, not from the proxy (no copies of the proxy's event loop or threads):
a clean process that imported the pipeline once (proxy_addon.fork_preload), so a new worker only
loads its models. Spawned afresh, each one would import mitmproxy's main script and the pipeline again,
and a pool that replaces a frozen worker would be ready several times later.
The first launch waits for the server's imports, so it runs in a thread, off the event loop. The
processes sign in on a `Roster` (proxy_addon.roster), which is how the status page knows whether they
have loaded their models, and how the watchdog sees them.

The watchdog kills a worker that is stopped (SIGSTOP) or whose heartbeat stopped, and one whose job
runs far past the deadline; the pool is then replaced at once. A job whose worker died under it (a
crash, the kernel's out-of-memory killer, or the watchdog for running away) is named by
`JobKilledWorker`, so the scheduler remembers its image instead of crashing the next pool with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path

from proxy_addon import worker_process
from proxy_addon.protocol import Kind, Step, WorkResult
from proxy_addon.roster import Roster

logger = logging.getLogger(__name__)


class JobKilledWorker(BrokenProcessPool):
    """The worker running this job died under it: the job is to blame, not the pool."""


#: What the fork server imports before it forks workers: the pipeline, and what mitmdump's main
#: script imports. multiprocessing runs the main script in every new process (under another name, so
#: only its imports happen): mitmproxy's, slow, unless the server has them already. "__main__" itself
#: is not passed to the server on Python 3.11 (its forkserver asks the preparation data for a key
#: named "main_path", which is called "init_main_from_path" there); it is named in case a later one does.
PRELOAD = ["__main__", "mitmproxy.tools.main", "proxy_addon.fork_preload"]


def _context() -> ForkServerContext:
    """The fork server's context, set up before the server starts (the first worker starts it)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


@dataclass(frozen=True)
class PoolSettings:
    """What the processes are started with: how many, the (target, preset) they load, the confdir whose
    key signs their animations ("" for the pipeline's default), the address space each may use (MB, 0:
    unlimited), and the response deadline the watchdog's limits scale with."""

    size: int
    target: str
    preset: str
    confdir: str = ""
    memory_mb: int = 0
    deadline: float = 3.0

    @property
    def stall_limit(self) -> float:
        """Seconds a worker may be stopped, or without a heartbeat, before it is replaced."""
        return max(1.0, self.deadline / 2)

    @property
    def job_limit(self) -> float:
        """Seconds a job may run (its response left at the deadline) before its worker is killed."""
        return max(15.0, 5 * self.deadline)


def stopped(pid: int) -> bool:
    """The process is stopped (SIGSTOP, a debugger): Linux's /proc says T or t."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] in ("T", "t")
    except (OSError, IndexError):
        return False


class WorkerPool:
    """Runs image work in worker processes; a pool broken by a dead worker is replaced on next use."""

    def __init__(self, report: Callable[[WorkResult], None]) -> None:
        self.report = report  # told of a warm-up that failed (a bad preset, a broken model)
        self.settings = PoolSettings(1, "zeman", "wink", "")
        self.restarts = 0
        self.hung = 0  # workers the watchdog replaced
        self._executor: ProcessPoolExecutor | None = None
        self._roster: Roster | None = None
        self._warming: set[asyncio.Future[WorkResult]] = set()
        self._jobs = itertools.count(1)
        self._seen: dict[int, BaseProcess] = {}  # this pool's processes, kept to read their exit codes
        self._innocent: set[int] = set()  # pids the watchdog killed for being frozen, not for their job
        self._blamed: set[int] = set()  # jobs whose worker died under them
        self._stopped_since: dict[int, float] = {}
        self._watchdog: asyncio.Task[None] | None = None
        self._launching: asyncio.Future[list[Future[WorkResult]]] | None = None  # being forked, in a thread

    @property
    def running(self) -> bool:
        return self._executor is not None

    def configure(self, settings: PoolSettings) -> None:
        """New settings: another size or memory restarts the processes (lazily), another pair warms them."""
        old, self.settings = self.settings, settings
        if self._executor is None or old == settings:
            return
        if (old.size, old.memory_mb, old.confdir) != (settings.size, settings.memory_mb, settings.confdir):
            self.stop()
        elif (old.target, old.preset) != (settings.target, settings.preset):
            self._warm(self._executor)

    def start(self) -> ProcessPoolExecutor:
        """The running executor, started (and warmed) if there is none."""
        if self._executor is None:
            context = _context()
            settings = self.settings
            self._roster = Roster(context, settings.size)
            self._seen, self._stopped_since, self._innocent = {}, {}, set()
            self._executor = ProcessPoolExecutor(
                max_workers=settings.size,
                mp_context=context,
                initializer=worker_process.init,
                initargs=(settings.target, settings.preset, settings.confdir, self._roster, settings.memory_mb),
            )
            self._warm(self._executor)
            self._watch()
        return self._executor

    async def run(self, step: Step) -> WorkResult:
        """worker_process.run_job(job, step) in a worker. Raises JobKilledWorker when the worker died under
        this very job, BrokenProcessPool when another one broke the pool (which is then replaced,
        once, by whoever notices first)."""
        job = next(self._jobs)
        executor = self.start()
        launching = self._launching
        if launching is not None and not launching.done():
            with contextlib.suppress(Exception):  # a pool that broke meanwhile shows at submit
                await asyncio.shield(launching)  # a submit now would fork a process on the event loop
        try:
            future = executor.submit(worker_process.run_job, job, step)
        except (BrokenProcessPool, RuntimeError):
            executor = self._replace(executor)
            future = executor.submit(worker_process.run_job, job, step)
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool as error:
            await self._settle()
            self._autopsy()
            self._replace(executor)
            if job in self._blamed:
                self._blamed.discard(job)
                raise JobKilledWorker(str(error)) from error
            raise

    def stop(self) -> None:
        """Cancel waiting work and end the processes now; a new start() makes new ones."""
        executor, roster, self._executor, self._roster = self._executor, self._roster, None, None
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if executor is None:
            return
        processes = [process for process, _ in roster.living()] if roster is not None else []
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with contextlib.suppress(Exception):
                os.kill(process.pid or 0, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
                process.terminate()

    def pids(self) -> list[int]:
        """The living worker processes of the current pool (for tests and logs, not for the API)."""
        roster = self._roster
        return sorted(process.pid for process, _ in roster.living() if process.pid) if roster else []

    def ready(self) -> int:
        """Living workers of the current pool that have loaded their models and are not frozen.

        Asked for every image: while the watchdog patrols, its last reading of /proc (at most half a
        second old) says which processes are stopped, instead of two file reads on the event loop."""
        roster = self._roster
        if roster is None:
            return 0
        now, silent = time.monotonic(), 2 * self.settings.stall_limit + 2
        patrolled = self._watchdog is not None and not self._watchdog.done()

        def frozen(pid: int) -> bool:
            return pid in self._stopped_since if patrolled else stopped(pid)

        return sum(
            member.ready and now - member.beat < silent and not frozen(member.pid) for _, member in roster.living()
        )

    async def _settle(self, limit: float = 0.5) -> None:
        """Give the processes that were running jobs a moment to have exit codes: the pool breaks as soon
        as a dead worker's pipe closes, a little before the kernel can say how it died."""
        roster = self._roster
        if roster is None:
            return
        busy = [self._seen[member.pid] for member in roster.members() if member.job and member.pid in self._seen]
        deadline = time.monotonic() + limit
        while any(process.exitcode is None for process in busy) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    def _autopsy(self) -> None:
        """Blame the job of every worker that died by itself (not terminated by the pool, not killed by
        the watchdog for being frozen)."""
        roster = self._roster
        if roster is None:
            return
        for member in roster.members():
            process = self._seen.get(member.pid)
            code = process.exitcode if process is not None else None
            if member.job and code is not None and code != -signal.SIGTERM and member.pid not in self._innocent:
                self._blamed.add(member.job)

    def _replace(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        if self._executor is broken:
            self._autopsy()
            self.stop()
            self.restarts += 1
            logger.warning("wink: a worker process died; starting a new worker pool.")
        return self.start()

    def _watch(self) -> None:
        with contextlib.suppress(RuntimeError):  # no event loop (start-up checks): nothing to watch
            self._watchdog = asyncio.get_running_loop().create_task(self._patrol())

    async def _patrol(self) -> None:
        period = min(0.5, self.settings.stall_limit / 4)
        while True:
            await asyncio.sleep(period)
            executor = self._executor
            if executor is not None and self.inspect():
                self._replace(executor)

    def inspect(self) -> bool:
        """One look at every worker; kills the frozen and the runaway. True when one was killed."""
        roster, settings, now = self._roster, self.settings, time.monotonic()
        if roster is None:
            return False
        killed = False
        for process, member in roster.living():
            self._seen[member.pid] = process
            if stopped(member.pid):
                self._stopped_since.setdefault(member.pid, now)
            else:
                self._stopped_since.pop(member.pid, None)
            frozen = now - self._stopped_since.get(member.pid, now) >= settings.stall_limit or (
                member.beat and now - member.beat >= 2 * settings.stall_limit + 2
            )
            runaway = member.job and now - member.since > settings.job_limit
            if not frozen and not runaway:
                continue
            if frozen:
                self._innocent.add(member.pid)
            logger.warning(
                "wink: a worker was %s; replacing the worker pool.", "frozen" if frozen else "stuck on one image"
            )
            with contextlib.suppress(OSError):
                os.kill(member.pid, signal.SIGKILL)
            process.join(timeout=0.2)
            self.hung += 1
            killed = True
        return killed

    def _warm(self, executor: ProcessPoolExecutor) -> None:
        """Start every worker now (each loads the models as it starts), so no page waits for that; a job
        per worker, since workers are started as jobs arrive. The jobs are submitted from a thread:
        the first fork waits for the fork server's imports. Outside an event loop (start-up checks)
        the processes start with the first image instead."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        settings = self.settings

        def submit() -> list[Future[WorkResult]]:
            submitted = []
            for _ in range(settings.size):
                try:
                    submitted.append(executor.submit(worker_process.warm, settings.target, settings.preset))
                except (BrokenProcessPool, RuntimeError):
                    break
            return submitted

        def watch(launched: asyncio.Future[list[Future[WorkResult]]]) -> None:
            if launched.cancelled() or launched.exception() is not None:
                return
            for submitted in launched.result():
                future = asyncio.wrap_future(submitted, loop=loop)
                self._warming.add(future)
                future.add_done_callback(self._warmed)

        launched = loop.run_in_executor(None, submit)
        launched.add_done_callback(watch)
        self._launching = launched

    def _warmed(self, future: asyncio.Future[WorkResult]) -> None:
        self._warming.discard(future)
        if future.cancelled() or future.exception() is not None:
            return
        result = future.result()
        if result.kind is not Kind.NOTHING:
            self.report(result)
