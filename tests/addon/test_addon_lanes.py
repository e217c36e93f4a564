"""proxy_addon.scheduler.Lanes: the order in which workers take up the steps of the images waiting for them."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from proxy_addon.protocol import Kind, Lane, Step, WorkResult
from proxy_addon.scheduler import Lanes


class FakePool:
    """Workers that finish a step when the test says so; records the order steps started in."""

    def __init__(self, size: int) -> None:
        self.settings = SimpleNamespace(size=size)
        self.started: list[str] = []
        self.release: dict[str, asyncio.Event] = {}

    async def run(self, step: Step) -> WorkResult:
        name = step.data.decode()
        self.started.append(name)
        self.release[name] = asyncio.Event()
        await self.release[name].wait()
        return WorkResult(Kind.NOTHING)


def step(lane: Lane, name: str) -> Step:
    return Step(lane, name.encode(), "zeman", "wink", "webp")


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def finish(pool: FakePool, name: str) -> None:
    pool.release[name].set()
    await settle()


@pytest.mark.asyncio
async def test_looks_go_before_waiting_identifications():
    pool = FakePool(2)
    lanes = Lanes(pool)  # type: ignore[arg-type]
    tasks = [asyncio.create_task(lanes.run(step(Lane.IDENTIFY, f"id{i}"))) for i in range(2)]
    await settle()
    tasks += [asyncio.create_task(lanes.run(step(Lane.IDENTIFY, "id2")))]
    tasks += [asyncio.create_task(lanes.run(step(Lane.LOOK, f"look{i}"))) for i in range(2)]
    await settle()
    assert pool.started == ["id0", "id1"]
    assert lanes.waiting() == {"look": 2, "identify": 1, "animate": 0}
    await finish(pool, "id0")
    await finish(pool, "id1")
    assert pool.started[2:] == ["look0", "look1"]
    await finish(pool, "look0")
    assert pool.started[4:] == ["id2"]
    for name in ("look1", "id2"):
        await finish(pool, name)
    await asyncio.gather(*tasks)
    assert lanes.working() == {"look": 0, "identify": 0, "animate": 0}


@pytest.mark.asyncio
async def test_a_waiting_animation_takes_the_first_free_worker_and_looks_keep_the_other():
    pool = FakePool(2)
    lanes = Lanes(pool)  # type: ignore[arg-type]
    tasks = [asyncio.create_task(lanes.run(step(Lane.LOOK, f"look{i}"))) for i in range(2)]
    await settle()
    tasks += [asyncio.create_task(lanes.run(step(Lane.ANIMATE, f"anim{i}"))) for i in range(2)]
    tasks += [asyncio.create_task(lanes.run(step(Lane.LOOK, f"look{i}"))) for i in range(2, 5)]
    await settle()
    await finish(pool, "look0")
    assert pool.started[2:] == ["anim0"]  # not behind the three looks that were waiting too
    await finish(pool, "look1")
    assert pool.started[3:] == ["look2"]  # the second animation may not take the last worker
    await finish(pool, "look2")
    assert pool.started[4:] == ["look3"]
    await finish(pool, "anim0")
    assert pool.started[5:] == ["anim1"]
    for name in ("look3", "look4", "anim1"):
        await finish(pool, name)
    assert pool.started[6:] == ["look4"]
    await asyncio.gather(*tasks)


@pytest.mark.asyncio
async def test_one_worker_alone_takes_looks_before_a_waiting_animation():
    pool = FakePool(1)
    lanes = Lanes(pool)  # type: ignore[arg-type]
    tasks = [asyncio.create_task(lanes.run(step(Lane.LOOK, "look0")))]
    await settle()
    tasks += [asyncio.create_task(lanes.run(step(Lane.ANIMATE, "anim")))]
    tasks += [asyncio.create_task(lanes.run(step(Lane.LOOK, "look1")))]
    await settle()
    await finish(pool, "look0")
    assert pool.started == ["look0", "look1"]
    for name in ("look1", "anim"):
        await finish(pool, name)
    await asyncio.gather(*tasks)


@pytest.mark.asyncio
async def test_animations_never_hold_every_worker():
    pool = FakePool(2)
    lanes = Lanes(pool)  # type: ignore[arg-type]
    tasks = [asyncio.create_task(lanes.run(step(Lane.ANIMATE, f"anim{i}"))) for i in range(3)]
    await settle()
    assert pool.started == ["anim0"]
    tasks.append(asyncio.create_task(lanes.run(step(Lane.LOOK, "look"))))
    await settle()
    assert pool.started == ["anim0", "look"]  # the second worker was free for it
    await finish(pool, "look")
    assert pool.started == ["anim0", "look"]  # still one animation at a time
    await finish(pool, "anim0")
    assert pool.started[-1] == "anim1"
    for name in ("anim1", "anim2"):
        await finish(pool, name)
    await asyncio.gather(*tasks)


@pytest.mark.asyncio
async def test_with_three_workers_one_is_always_free_for_a_look():
    pool = FakePool(3)
    lanes = Lanes(pool)  # type: ignore[arg-type]
    tasks = [asyncio.create_task(lanes.run(step(Lane.IDENTIFY, f"id{i}"))) for i in range(4)]
    await settle()
    assert pool.started == ["id0", "id1"]
    tasks.append(asyncio.create_task(lanes.run(step(Lane.LOOK, "look"))))
    await settle()
    assert pool.started[-1] == "look"
    for name in ("look", "id0", "id1", "id2", "id3"):
        await finish(pool, name)
    await asyncio.gather(*tasks)


@pytest.mark.asyncio
async def test_a_step_cancelled_while_waiting_or_running_frees_its_place():
    pool = FakePool(1)
    lanes = Lanes(pool)  # type: ignore[arg-type]
    running = asyncio.create_task(lanes.run(step(Lane.LOOK, "a")))
    waiting = asyncio.create_task(lanes.run(step(Lane.LOOK, "b")))
    await settle()
    waiting.cancel()
    running.cancel()
    await settle()
    assert lanes.waiting()["look"] == 0 and lanes.working()["look"] == 0
    later = asyncio.create_task(lanes.run(step(Lane.LOOK, "c")))
    await settle()
    assert pool.started == ["a", "c"]
    await finish(pool, "c")
    assert (await later).kind is Kind.NOTHING
