"""What the status page counts: images by outcome, hits of the cache, and the latency the add-on adds."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence

from proxy_addon.protocol import Outcome

logger = logging.getLogger(__name__)


def percentile(samples: Sequence[float], fraction: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return round(ordered[index], 2)


class Stats:
    """Counters (the status page's names) and the last 2000 added latencies, in ms."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(
            ("seen", "animated", "passed", "failed", "cached", "queue_full", "timeouts", "warming"), 0
        )
        self.latencies: deque[float] = deque(maxlen=2000)

    def count(self, outcome: Outcome) -> None:
        self.counts[outcome.value] += 1

    def latency(self) -> dict[str, float | None]:
        samples = list(self.latencies)
        return {"p50": percentile(samples, 0.5), "p95": percentile(samples, 0.95)}


class OnceLog:
    """Logs each cause of trouble once, not once per image."""

    def __init__(self) -> None:
        self._logged: set[str] = set()

    def __call__(self, cause: str, level: int, message: str) -> None:
        if cause not in self._logged:
            self._logged.add(cause)
            logger.log(level, message)
