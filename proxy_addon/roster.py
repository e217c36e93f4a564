"""Shared memory in which the worker processes of one pool say who they are and what they do.

Each worker signs in with its pid, says when its models are loaded, beats a heartbeat, and names the
job it is running and since when. The parent reads it for the status page, for the watchdog that
replaces frozen or runaway workers, and to tell which job a dead worker was running. It is handed to
the workers as they are started, the way multiprocessing shares memory.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess


@dataclass(frozen=True)
class Member:
    """One worker as the roster last saw it."""

    pid: int
    ready: bool
    beat: float  # time.monotonic() of its last heartbeat (0: none yet)
    job: int  # the job it runs (0: none)
    since: float  # time.monotonic() when that job started


class Roster:
    def __init__(self, context: BaseContext, size: int) -> None:
        self._signed_in = context.Value("i", 0)
        self._pids = context.Array("i", size)  # 0: a slot no process took
        self._ready = context.Array("b", size)
        self._beats = context.Array("d", size)
        self._jobs = context.Array("q", size)
        self._since = context.Array("d", size)

    def sign_in(self, pid: int) -> int | None:
        """Called in the worker: its slot, or None if the pool started more processes than slots."""
        with self._signed_in.get_lock():
            slot = self._signed_in.value
            if slot >= len(self._pids):
                return None
            self._signed_in.value = slot + 1
        self._beats[slot] = time.monotonic()
        self._pids[slot] = pid
        return slot

    def mark_ready(self, slot: int | None) -> None:
        if slot is not None:
            self._ready[slot] = 1

    def beat(self, slot: int | None) -> None:
        if slot is not None:
            self._beats[slot] = time.monotonic()

    def running(self, slot: int | None, job: int) -> None:
        """Called in the worker as a job starts (job > 0) and ends (0)."""
        if slot is not None:
            self._since[slot] = time.monotonic()
            self._jobs[slot] = job

    def members(self) -> list[Member]:
        """Every process that signed in, living or not."""
        rows = zip(self._pids[:], self._ready[:], self._beats[:], self._jobs[:], self._since[:], strict=True)
        return [Member(pid, bool(ready), beat, job, since) for pid, ready, beat, job, since in rows if pid]

    def living(self) -> list[tuple[BaseProcess, Member]]:
        """The processes of this roster that are still alive (multiprocessing's own children list)."""
        known = {member.pid: member for member in self.members()}
        return [(process, known[process.pid]) for process in multiprocessing.active_children() if process.pid in known]
