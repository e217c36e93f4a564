"""The one protocol between the add-on and its worker processes, and what became of each image.

Workers answer with a `WorkResult` (plain, picklable values); the add-on turns it into a `Decision`
for the response, whose `Outcome` is also the counter the status page shows.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass
from enum import Enum
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess


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


@dataclass(frozen=True)
class Decision:
    """The answer for one response: the animation to send (ANIMATED only) and how to count it."""

    outcome: Outcome
    data: bytes | None = None


PASS = Decision(Outcome.PASSED)
FAIL = Decision(Outcome.FAILED)


class Roster:
    """Shared memory in which each worker process of one pool signs in with its pid, then says it is
    ready (its models loaded). The parent reads it for the status page and to stop its workers;
    it is handed to the workers as they are spawned, the way multiprocessing shares memory."""

    def __init__(self, context: SpawnContext, size: int) -> None:
        self._signed_in = context.Value("i", 0)
        self._pids = context.Array("i", size)  # 0: a slot no process took
        self._ready = context.Array("b", size)

    def sign_in(self, pid: int) -> int | None:
        """Called in the worker: its slot, or None if the pool started more processes than slots."""
        with self._signed_in.get_lock():
            slot = self._signed_in.value
            if slot >= len(self._pids):
                return None
            self._signed_in.value = slot + 1
        self._pids[slot] = pid
        return slot

    def mark_ready(self, slot: int | None) -> None:
        if slot is not None:
            self._ready[slot] = 1

    def members(self) -> list[tuple[int, bool]]:
        """(pid, ready) of every process that signed in, living or not."""
        return [(pid, bool(ready)) for pid, ready in zip(self._pids[:], self._ready[:], strict=True) if pid]

    def living(self) -> list[tuple[BaseProcess, bool]]:
        """The processes of this roster that are still alive (multiprocessing's own children list)."""
        ready = dict(self.members())
        return [(process, ready[process.pid]) for process in multiprocessing.active_children() if process.pid in ready]
