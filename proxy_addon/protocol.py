"""The one protocol between the add-on and its worker processes, and what became of each image.

Workers answer with a `WorkResult` (plain, picklable values); the add-on turns it into a `Decision`
for the response, whose `Outcome` is also the counter the status page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum

from pipeline.types import Box

#: Faces as the workers pass them on: a box (full-image pixels) and the detector's score.
Faces = tuple[tuple[Box, float], ...]


class Kind(Enum):
    """What a worker made of one image (or of loading its models)."""

    ANIMATED = "animated"  # `data` holds the animation
    NOTHING = "nothing"  # no face of the target: a normal result
    FACES = "faces"  # the look found `faces` big enough to animate: whose they are is still to be seen
    TARGETS = "targets"  # `faces` are the target's: they are to be animated
    BAD_IMAGE = "bad image"  # the pipeline cannot read these bytes; `reason` says why
    USAGE = "usage"  # the settings are wrong (an unreadable preset or target); `reason` says why
    ERROR = "error"  # anything else went wrong; `reason` names the exception


class Lane(IntEnum):
    """The steps of one image's work, each a separate job, in the order workers take them up: a quick
    look first, so a page's many photos without a face are never held behind the few with one."""

    LOOK = 0  # is there a face at all? (a preview decoded, two cheap detectors): most images end here
    IDENTIFY = 1  # is it the target? (the face-recognition encoding, about 20 ms a face)
    ANIMATE = 2  # the animation (hundreds of ms)


@dataclass(frozen=True)
class Step:
    """One step of one image's work, as a worker is asked to do it (plain, picklable values)."""

    lane: Lane
    data: bytes
    target: str
    preset: str
    fmt: str
    faces: Faces = ()


@dataclass(frozen=True)
class WorkResult:
    kind: Kind
    data: bytes = b""
    reason: str = ""
    faces: Faces = ()
    #: The worker's CPU time for the step (what the status page and the benchmarks count per kind).
    cpu_ms: float = 0.0


class Outcome(Enum):
    """What became of one image response; the value is its counter's name on the status page."""

    ANIMATED = "animated"
    PASSED = "passed"  # nothing to do, sent as it came
    FAILED = "failed"  # something went wrong, the original was sent
    QUEUE_FULL = "queue_full"  # too much work waiting, the original was sent
    TIMED_OUT = "timeouts"  # past the deadline, the original was sent (the work goes on into the cache)
    WARMING = "warming"  # no worker ready (the pool starting or being replaced): the original at once


class ImageKind(Enum):
    """What an image turned out to be, the rows of the status page's latency per kind."""

    SKIPPED = "skipped"  # passed on what its header says (too small, already animated, ...)
    NO_FACE = "no face"
    OTHER_PEOPLE = "other people"
    TARGET = "target"
    CACHED = "cache"
    UNKNOWN = "unknown"  # its work had not ended when the response left (a timeout, the pool warming)


@dataclass(frozen=True)
class Decision:
    """The answer for one response: the animation to send (ANIMATED only), how to count it, and what
    kind of image it was."""

    outcome: Outcome
    data: bytes | None = None
    kind: ImageKind = ImageKind.UNKNOWN


PASS = Decision(Outcome.PASSED)
FAIL = Decision(Outcome.FAILED)
