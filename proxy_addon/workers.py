"""The add-on that keeps the worker pool in step with the options: started when the proxy runs and is
on, restarted for another size, warmed for another target or preset, stopped at shutdown."""

from __future__ import annotations

import logging

from mitmproxy import ctx

from proxy_addon.lanes import Lanes
from proxy_addon.options import WinkOptions
from proxy_addon.pool import PoolSettings, WorkerPool
from proxy_addon.protocol import Kind, WorkResult
from proxy_addon.stats import OnceLog


def report(log: OnceLog, result: WorkResult) -> None:
    """Log a worker's failure once per reason, at the level its kind deserves."""
    if result.kind is Kind.BAD_IMAGE:
        log(f"bad:{result.reason}", logging.INFO, f"wink: an image could not be animated: {result.reason}")
    elif result.kind is Kind.USAGE:
        log(f"usage:{result.reason}", logging.ERROR, f"wink: {result.reason}")
    elif result.kind is Kind.ERROR:
        log(f"error:{result.reason}", logging.WARNING, f"wink: image work failed: {result.reason}")


class Workers:
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
