"""Which step of which image a worker takes up next: quick looks first, and a worker kept for them.

A page has dozens of photos, most without a face, a few of other people, maybe one of the target.
Each image's work is split into steps (proxy_addon.protocol.Lane): the look (~20 ms: is there a
face?), the identification (~20 ms a face: is it the target?) and the animation (hundreds of ms).
Steps wait here, not in the process pool's first-come queue, and start in lane order, so a look never
waits behind identifications or animations that are waiting too.

A step that has started runs to its end (a worker cannot be interrupted), so the long ones are kept
from holding every worker: animations may hold all workers but one (when there are two or more), and
with three workers or more, identifications and animations together all but `RESERVED_FOR_LOOKS`.
A look then waits for at most one identification (~20 ms a face), never for an animation. With two workers
(the default on two cores) nothing more is kept back: a worker kept idle for looks left a page's
photos of other people to a single worker, which cost more than it saved (benchmarks/pageload_bench.py).

Within those limits a waiting animation takes the first worker that is free, before waiting looks:
it cannot take the last worker, so looks still have one, but behind a page's stream of looks an
animation in lane order waited for a free worker for as long as the page kept asking (half a second
and more on the page-load benchmark), and the target's photo is the one its page waits for longest.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass, field

from proxy_addon.pool import WorkerPool
from proxy_addon.protocol import Lane, Step, WorkResult
from proxy_addon.stats import WorkState

#: Workers that only looks may use, when there are at least three (benchmarks/pageload_bench.py).
RESERVED_FOR_LOOKS = 1


@dataclass(order=True)
class _Ticket:
    lane: Lane
    number: int
    granted: asyncio.Future[None] = field(compare=False)


class Lanes:
    """Runs steps in the pool's workers, at most one per worker, in lane order."""

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        self.running: Counter[Lane] = Counter()
        self._waiting: list[_Ticket] = []
        self._numbers = itertools.count()

    def waiting(self) -> dict[str, int]:
        """Steps waiting for a worker, per lane (the status page's queue)."""
        counts = Counter(ticket.lane for ticket in self._waiting)
        return {lane.name.lower(): counts[lane] for lane in Lane}

    def working(self) -> dict[str, int]:
        """Steps running in workers now, per lane."""
        return {lane.name.lower(): self.running[lane] for lane in Lane}

    def work_state(self) -> WorkState:
        """A copy of what the status page shows: the steps per lane and the workers."""
        pool = self.pool
        return WorkState(self.waiting(), self.working(), pool.ready(), pool.restarts, pool.hung)

    def may_start(self, lane: Lane) -> bool:
        workers = self.pool.settings.size
        if sum(self.running.values()) >= workers:
            return False
        if lane is Lane.LOOK or workers < 2:
            return True
        if lane is Lane.ANIMATE and self.running[Lane.ANIMATE] >= workers - 1:
            return False
        heavy = self.running[Lane.IDENTIFY] + self.running[Lane.ANIMATE]
        return workers < 3 or heavy < workers - RESERVED_FOR_LOOKS

    async def run(self, step: Step) -> WorkResult:
        """The step's result, once a worker was free for it and did it."""
        ticket = _Ticket(step.lane, next(self._numbers), asyncio.get_running_loop().create_future())
        self._waiting.append(ticket)
        self._waiting.sort()
        self._dispatch()
        try:
            await ticket.granted
        except asyncio.CancelledError:
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            elif ticket.granted.done() and not ticket.granted.cancelled():
                self._finished(step.lane)
            raise
        try:
            return await self.pool.run(step)
        finally:
            self._finished(step.lane)

    def _finished(self, lane: Lane) -> None:
        self.running[lane] -= 1
        self._dispatch()

    def _dispatch(self) -> None:
        """Start every waiting step that may start: an animation first (within its limit), then in lane
        order; a step that may not (an animation, all heavy workers busy) does not hold up the looks
        behind it."""
        order = self._waiting
        if self.pool.settings.size >= 2:  # one worker alone takes the looks first
            order = sorted(order, key=lambda ticket: ticket.lane is not Lane.ANIMATE)  # stable: lane order after
        for ticket in list(order):
            if self.may_start(ticket.lane):
                self._waiting.remove(ticket)
                self.running[ticket.lane] += 1
                ticket.granted.set_result(None)
