"""What the status page counts: images by outcome, hits of the cache, and the latency the add-on adds."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from proxy_addon.protocol import ImageKind, Kind, Outcome, WorkResult

logger = logging.getLogger(__name__)


def percentile(samples: Sequence[float], fraction: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return round(ordered[index], 2)


#: Samples kept per series: enough for a day's percentiles, bounded in memory.
SAMPLES = 2000


class Stats:
    """Counters (the status page's names), the last added latencies in ms (all, and per kind of image),
    and the workers' CPU ms per image of each kind."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(
            ("seen", "animated", "passed", "failed", "cached", "queue_full", "timeouts", "warming", "animations_made"),
            0,
        )
        self.latencies: deque[float] = deque(maxlen=SAMPLES)
        self.by_kind: dict[ImageKind, deque[float]] = {kind: deque(maxlen=SAMPLES) for kind in ImageKind}
        self.cpu_by_kind: dict[ImageKind, deque[float]] = {kind: deque(maxlen=SAMPLES) for kind in ImageKind}

    def count(self, outcome: Outcome) -> None:
        self.counts[outcome.value] += 1

    def added(self, kind: ImageKind, ms: float) -> None:
        """The latency one image response got from the add-on."""
        self.latencies.append(ms)
        self.by_kind[kind].append(ms)

    def cpu(self, kind: ImageKind, ms: float) -> None:
        """The workers' CPU time for all the steps of one image."""
        self.cpu_by_kind[kind].append(ms)

    def latency(self) -> dict[str, float | None]:
        samples = list(self.latencies)
        return {"p50": percentile(samples, 0.5), "p95": percentile(samples, 0.95)}

    def latency_by_kind(self) -> dict[str, dict[str, float | int | None]]:
        """Per kind of image: how many, the added latency's p50 and p95, and the workers' median CPU."""
        return {
            kind.value: {
                "count": len(self.by_kind[kind]),
                "p50": percentile(self.by_kind[kind], 0.5),
                "p95": percentile(self.by_kind[kind], 0.95),
                "cpu_p50": percentile(self.cpu_by_kind[kind], 0.5),
            }
            for kind in ImageKind
        }


class OnceLog:
    """Logs each cause of trouble once, not once per image."""

    def __init__(self) -> None:
        self._logged: set[str] = set()

    def __call__(self, cause: str, level: int, message: str) -> None:
        if cause not in self._logged:
            self._logged.add(cause)
            logger.log(level, message)


def report(log: OnceLog, result: WorkResult) -> None:
    """Log a worker's failure once per reason, at the level its kind deserves."""
    if result.kind is Kind.BAD_IMAGE:
        log(f"bad:{result.reason}", logging.INFO, f"wink: an image could not be animated: {result.reason}")
    elif result.kind is Kind.USAGE:
        log(f"usage:{result.reason}", logging.ERROR, f"wink: {result.reason}")
    elif result.kind is Kind.ERROR:
        log(f"error:{result.reason}", logging.WARNING, f"wink: image work failed: {result.reason}")


@dataclass(frozen=True)
class WorkState:
    """What the status page shows of the work: steps waiting for a worker and running, per lane, and
    the workers (loaded and live, pools replaced, frozen or runaway workers killed)."""

    waiting: dict[str, int]
    running: dict[str, int]
    ready: int
    restarts: int
    hung: int


class WorkStatus(Protocol):
    """The one thing the control host may ask of the work: a copy of its state, never the queue itself."""

    def work_state(self) -> WorkState: ...
