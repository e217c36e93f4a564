"""The one protocol between the add-on and its worker processes, and what became of each image.

Workers answer with a `WorkResult` (plain, picklable values); the add-on turns it into a `Decision`
for the response, whose `Outcome` is also the counter the status page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    """What a worker made of one image (or of loading its models)."""

    ANIMATED = "animated"  # `data` holds the animation
    NOTHING = "nothing"  # no face of the target: a normal result
    BAD_IMAGE = "bad image"  # the pipeline cannot read these bytes; `reason` says why
    USAGE = "usage"  # the settings are wrong (an unreadable preset or target); `reason` says why
    ERROR = "error"  # anything else went wrong; `reason` names the exception


@dataclass(frozen=True)
class WorkResult:
    kind: Kind
    data: bytes = b""
    reason: str = ""


class Outcome(Enum):
    """What became of one image response; the value is its counter's name on the status page."""

    ANIMATED = "animated"
    PASSED = "passed"  # nothing to do, sent as it came
    FAILED = "failed"  # something went wrong, the original was sent
    QUEUE_FULL = "queue_full"  # too much work waiting, the original was sent
    TIMED_OUT = "timeouts"  # past the deadline, the original was sent (the work goes on into the cache)
    WARMING = "warming"  # no worker ready (the pool starting or being replaced): the original at once


@dataclass(frozen=True)
class Decision:
    """The answer for one response: the animation to send (ANIMATED only) and how to count it."""

    outcome: Outcome
    data: bytes | None = None


PASS = Decision(Outcome.PASSED)
FAIL = Decision(Outcome.FAILED)
