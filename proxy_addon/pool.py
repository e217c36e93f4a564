"""The worker processes: started warm, replaced when one dies, stopped without waiting for them.

`WorkerPool` wraps a ProcessPoolExecutor (spawned processes: no forked copies of the proxy's event
loop) through its public API only; the processes sign in on a `Roster`, which is how the status page
knows their pids and whether they have loaded their models.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from proxy_addon import worker
from proxy_addon.protocol import Kind, Roster, WorkResult

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoolSettings:
    """What the processes are started with: how many, the (target, preset) they load, and the confdir
    whose key signs their animations ("" for the pipeline's default)."""

    size: int
    target: str
    preset: str
    confdir: str = ""


class WorkerPool:
    """Runs image work in worker processes; a pool broken by a dead worker is replaced on next use."""

    def __init__(self, report: Callable[[WorkResult], None]) -> None:
        self.report = report  # told of a warm-up that failed (a bad preset, a broken model)
        self.settings = PoolSettings(1, "zeman", "wink", "")
        self.restarts = 0
        self._executor: ProcessPoolExecutor | None = None
        self._roster: Roster | None = None
        self._warming: set[asyncio.Future[WorkResult]] = set()

    @property
    def running(self) -> bool:
        return self._executor is not None

    def configure(self, settings: PoolSettings) -> None:
        """New settings: another size restarts the processes (lazily), another pair warms them up."""
        old, self.settings = self.settings, settings
        if self._executor is None or old == settings:
            return
        if old.size != settings.size or old.confdir != settings.confdir:  # both are fixed at process start
            self.stop()
        else:
            self._warm(self._executor)

    def start(self) -> ProcessPoolExecutor:
        """The running executor, started (and warmed) if there is none."""
        if self._executor is None:
            spawn = multiprocessing.get_context("spawn")
            self._roster = Roster(spawn, self.settings.size)
            self._executor = ProcessPoolExecutor(
                max_workers=self.settings.size,
                mp_context=spawn,
                initializer=worker.init,
                initargs=(self.settings.target, self.settings.preset, self.settings.confdir, self._roster),
            )
            self._warm(self._executor)
        return self._executor

    async def run(self, fn: Callable[..., WorkResult], *args: Any) -> WorkResult:
        """fn(*args) in a worker. Raises BrokenProcessPool when a worker died under it (the pool is then
        replaced, once, by whoever notices first)."""
        executor = self.start()
        try:
            future = executor.submit(fn, *args)
        except (BrokenProcessPool, RuntimeError):
            executor = self._replace(executor)
            future = executor.submit(fn, *args)
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            self._replace(executor)
            raise

    def stop(self) -> None:
        """Cancel waiting work and end the processes now; a new start() makes new ones."""
        executor, roster, self._executor, self._roster = self._executor, self._roster, None, None
        if executor is None:
            return
        processes = [process for process, _ in roster.living()] if roster is not None else []
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with contextlib.suppress(Exception):
                process.terminate()

    def pids(self) -> list[int]:
        """The living worker processes of the current pool."""
        roster = self._roster
        return sorted(process.pid for process, _ in roster.living() if process.pid) if roster else []

    def ready(self) -> int:
        """Living workers of the current pool that have loaded their models."""
        roster = self._roster
        return sum(ready for _, ready in roster.living()) if roster else 0

    def _replace(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        if self._executor is broken:
            self.stop()
            self.restarts += 1
            logger.warning("wink: a worker process died; starting a new worker pool.")
        return self.start()

    def _warm(self, executor: ProcessPoolExecutor) -> None:
        """Start every worker now (each loads the models as it starts), so no page waits for that; a job
        per worker, since workers are started as jobs arrive. Outside an event loop (start-up checks)
        the processes start with the first image instead."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        settings = self.settings
        for _ in range(settings.size):
            try:
                submitted = executor.submit(worker.warm, settings.target, settings.preset)
                future = asyncio.wrap_future(submitted, loop=loop)
            except (BrokenProcessPool, RuntimeError):
                return
            self._warming.add(future)
            future.add_done_callback(self._warmed)

    def _warmed(self, future: asyncio.Future[WorkResult]) -> None:
        self._warming.discard(future)
        if future.cancelled() or future.exception() is not None:
            return
        result = future.result()
        if result.kind is not Kind.NOTHING:
            self.report(result)
