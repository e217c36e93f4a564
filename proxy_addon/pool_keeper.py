"""The add-on that keeps the worker pool in step with the options: started when the proxy runs and is
on, restarted for another size, warmed for another target or preset, stopped at shutdown."""

from __future__ import annotations

from mitmproxy import ctx

from proxy_addon.options import WinkOptions
from proxy_addon.pool import PoolSettings, WorkerPool
from proxy_addon.scheduler import Lanes
from proxy_addon.stats import OnceLog, report


class PoolKeeper:
    def __init__(self, log: OnceLog, options: WinkOptions) -> None:
        self.pool = WorkerPool(lambda result: report(log, result))
        self.lanes = Lanes(self.pool)
        self.options = options
        self._running = False  # no processes for start-up checks, only once the proxy runs

    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        if updated & {"wink_workers", "wink_target", "wink_preset", "wink_worker_memory", "wink_timeout", "confdir"}:
            self.pool.configure(
                PoolSettings(
                    opts.wink_workers,
                    opts.wink_target,
                    opts.wink_preset,
                    opts.confdir,
                    opts.wink_worker_memory,
                    self.options.timeout,
                )
            )
        if "wink_enabled" in updated and opts.wink_enabled and self._running:
            self.pool.start()  # switched on (e.g. from the extension): warm before the first image

    def running(self) -> None:
        self._running = True
        if ctx.options.wink_enabled:
            self.pool.start()

    def done(self) -> None:
        self.pool.stop()
