"""The screenshot sampler (`paint.watch`) against a simulated browser: no browser, a fake clock.

A real browser starts an animation's loop at some unknown moment after the page loads and takes
0.3-0.9 s per screenshot. The paint tests pass only when the shots show 3 visibly different frames,
so the sampler must meet the short frames of a blink (50 ms in a 2.1 s loop) whatever that offset and
that pace, or the real-browser tests fail at random: session 12's CI met a pace that divided the loop
by three and saw only the stills and the shut frame in 30 shots.
"""

from __future__ import annotations

import numpy as np
import pytest

from testkit import paint

#: The blink preset's frame times: a long still, a 50 ms closing frame, the shut lid, the reopening
#: frames, then the still again.
BLINK_MS = [1000, 50, 200, 50, 50, 50, 700]
#: Seconds a screenshot takes in the simulated browser (Chromium here takes ~0.4, Firefox up to ~0.9).
PACES = (0.3, 0.45, 0.7, 0.9)
OFFSET_STEP_MS = 23


def _blink_reference() -> paint.Reference:
    """Small frames that differ visibly in a lid-sized region, except the two stills (frames 0 and 6)."""
    lid_levels = [None, 0, 40, 80, 200, 240, None]  # each moving frame its own, far from the still's 128
    frames = []
    for level in lid_levels:
        frame = np.full((40, 60, 3), 128, np.float32)
        if level is not None:
            frame[10:30, 10:50] = level
        frames.append(frame)
    return paint.Reference(frames, BLINK_MS, (0, 40, 0, 60))


class _Browser:
    """A fake clock and a browser whose loop starts `offset_ms` into its phase at `loaded`. A shot shows
    the frame on screen half way through taking it, give or take the capture's jitter."""

    def __init__(
        self, ref: paint.Reference, offset_ms: int, pace: float, rng: np.random.Generator, slowing: float = 1.0
    ):
        self.ref, self.offset_ms, self.pace, self.rng, self.slowing = ref, offset_ms, pace, rng, slowing
        self.now = self.loaded = 100.0
        self.shots = 0
        self.planned = len(paint.moments_ms(ref))  # the shots at planned moments, before the sweep
        self.starts = np.cumsum([0, *ref.durations_ms])

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)

    def take(self) -> np.ndarray:
        captured = self.now + 0.5 * self.pace + self.rng.uniform(-0.02, 0.02)
        self.now += self.pace + self.rng.uniform(-0.05, 0.05)
        self.shots += 1
        if self.shots == self.planned:
            self.pace *= self.slowing
        phase = ((captured - self.loaded) * 1000 + self.offset_ms) % self.ref.loop_ms
        frame = int(np.searchsorted(self.starts, phase, side="right") - 1)
        return self.ref.frames[frame].copy()


def _watch(monkeypatch: pytest.MonkeyPatch, browser: _Browser) -> list[np.ndarray]:
    monkeypatch.setattr(paint.time, "monotonic", browser.monotonic)
    monkeypatch.setattr(paint.time, "sleep", browser.sleep)
    return paint.watch(browser.take, browser.ref, browser.loaded)


@pytest.mark.parametrize("slowing", [1.0, 1.3], ids=["steady", "slowing"])
@pytest.mark.parametrize("pace", PACES)
def test_the_sampler_sees_three_frames_of_a_blink_whatever_the_loops_offset(monkeypatch, pace, slowing):
    """`slowing`: the shots after the planned moments take 30 % longer (a browser that got busier)."""
    ref = _blink_reference()
    rng = np.random.default_rng(int(pace * 100))
    missed = []
    for offset in range(0, ref.loop_ms, OFFSET_STEP_MS):
        browser = _Browser(ref, offset, pace, rng, slowing)
        shots = _watch(monkeypatch, browser)
        seen = paint.distinct_frames([paint.match(shot, ref) for shot in shots], ref)
        if seen < paint.FRAMES_TO_SEE:
            missed.append((offset, seen, len(shots)))
    assert not missed, f"(loop offset ms, frames seen, shots) that fell short: {missed}"


def test_the_sampler_gives_up_on_a_still_within_its_extra_loops(monkeypatch):
    """A browser that shows only the first frame never reaches 3 frames: the watch ends, in bounded time."""
    ref = _blink_reference()
    still = paint.Reference([ref.frames[0]] * len(BLINK_MS), BLINK_MS, ref.moving)
    browser = _Browser(still, 0, 0.45, np.random.default_rng(0))
    shots = _watch(monkeypatch, browser)
    assert paint.distinct_frames([paint.match(shot, ref) for shot in shots], ref) == 1
    # The planned moments, then the sweep: EXTRA_LOOPS loops (and at most one more) of extra shots.
    loop = ref.loop_ms / 1000
    budget = paint.moments_ms(ref)[-1] / 1000 + (paint.EXTRA_LOOPS + 1) * loop + 2 * browser.pace
    assert browser.now - browser.loaded <= budget


@pytest.mark.parametrize("loop", [1.0, 2.1, 3.35])
@pytest.mark.parametrize("shortest", [0.35, 0.5, 0.8, 1.05, 2.5])
def test_a_sweep_meets_the_loop_at_evenly_spaced_moments_each_once(loop, shortest):
    budget = paint.EXTRA_LOOPS * loop
    interval, count = paint.sweep(loop, shortest, budget)
    assert interval >= shortest
    assert count * interval <= budget + loop
    assert count >= budget // shortest / 2  # not thinned out to find a coprime pair
    phases = sorted(round((k * interval % loop) / loop * count) % count for k in range(count))
    assert phases == list(range(count)), "some points met twice, others never"
