"""Stage 6c, frames: every frame of the preset drawn (warp, then eyes and mouth), with in-betweens.

A preset moves the same distance on every face, but what a viewer sees as a jump is how much the
picture changes from one frame to the next, and that grows with the face's texture: a beard or curls
moving two pixels change far more than smooth skin does. Where a frame would change the face by more
than STEP_BUDGET levels on average, frames a fraction of the way are drawn in between, in the time
the motion already takes, so no face jumps, however detailed.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import cv2
import numpy as np

from pipeline import features, warp
from pipeline.motion import FaceMotion
from pipeline.types import Box, Frame, Patch, Still

#: Largest mean change over the face between consecutive frames, in levels (the judge's bar is 4;
#: coding adds a little).
STEP_BUDGET = 3.0
#: Shortest frame an in-between may get: browsers show frames under about 20 ms for far longer.
MIN_FRAME_MS = 20
#: Halvings of one step at most (up to 7 in-betweens): a textured face changes less than linearly
#: with the distance moved, so a step is halved again where half of it is still too much.
MAX_HALVINGS = 3
#: In-betweens that do not fit in the time the motion takes make the loop longer, up to this.
MAX_LOOP_MS = 3000
#: Threads that draw the preset's frames (each frame is drawn on its own from the still): OpenCV and
#: numpy release the GIL for most of a frame's work, so a second core that is idle is used.
DRAWING_THREADS = 2


def _draw(still: Still, motions: list[FaceMotion], warps: list[warp.FaceWarp], index: int) -> Patch | None:
    dests = [w.vertex_positions(m.frames[index]) for m, w in zip(motions, warps, strict=True)]
    sources = [w.source_positions(m.sources[index]) for m, w in zip(motions, warps, strict=True)]
    patch = warp.render(still.rgb, still.alpha, list(zip(warps, dests, sources, strict=True)))
    return None if patch is None else features.paint(still, patch, motions, index)


def _key(motions: list[FaceMotion], index: int) -> bytes:
    return b"".join(np.round(m.frames[index], 2).tobytes() + np.round(m.sources[index], 2).tobytes() for m in motions)


def _views(still: Still, patch: Patch | None, regions: list[Box]) -> list[np.ndarray]:
    """The frame's pixels inside each region."""
    views = []
    for region in regions:
        view = still.rgb[region.y0 : region.y1, region.x0 : region.x1].copy()
        if patch is not None:
            box = patch.box
            x0, y0 = max(box.x0, region.x0), max(box.y0, region.y0)
            x1, y1 = min(box.x1, region.x1), min(box.y1, region.y1)
            if x1 > x0 and y1 > y0:
                view[y0 - region.y0 : y1 - region.y0, x0 - region.x0 : x1 - region.x0] = patch.rgb[
                    y0 - box.y0 : y1 - box.y0, x0 - box.x0 : x1 - box.x0
                ]
        views.append(view)
    return views


def _step(before: list[np.ndarray], after: list[np.ndarray]) -> float:
    """The largest mean change of a face between two frames, in levels."""
    return max(float(np.mean(cv2.mean(cv2.absdiff(a, b))[:3])) for a, b in zip(after, before, strict=True))


class _InBetweens:
    """Draws frames part of the way from one preset frame to the next until no step is over budget."""

    def __init__(self, still: Still, motions: list[FaceMotion], warps: list[warp.FaceWarp], regions: list[Box]):
        self.still, self.motions, self.warps, self.regions = still, motions, warps, regions

    def between(
        self,
        index: int,
        low: float,
        high: float,
        low_views: list[np.ndarray],
        high_views: list[np.ndarray],
        halvings: int = 0,
    ) -> list[Patch | None]:
        """Patches strictly between fractions `low` and `high` of the way from frame index-1 to index."""
        if halvings >= MAX_HALVINGS or _step(low_views, high_views) <= STEP_BUDGET:
            return []
        middle = (low + high) / 2
        partway = [m.between(index - 1, index, middle) for m in self.motions]
        patch = _draw(self.still, partway, self.warps, 0)
        views = _views(self.still, patch, self.regions)
        return (
            self.between(index, low, middle, low_views, views, halvings + 1)
            + [patch]
            + self.between(index, middle, high, views, high_views, halvings + 1)
        )


def render_frames(
    still: Still, motions: list[FaceMotion], warps: list[warp.FaceWarp], durations_ms: list[int], regions: list[Box]
) -> list[Frame]:
    """Every frame of the motions (frame 0 is the still itself), with in-betweens where a face (one
    region per face) would otherwise change by more than STEP_BUDGET from one frame to the next.

    In-betweens share the time of the motion they split (taken from the frame before, which shows
    while the face is on its way); when that is too short for them, the loop grows, up to MAX_LOOP_MS.
    """
    with ThreadPoolExecutor(DRAWING_THREADS, thread_name_prefix="wink-draw") as pool:
        return _frames(still, motions, warps, durations_ms, regions, pool)


def _frames(
    still: Still,
    motions: list[FaceMotion],
    warps: list[warp.FaceWarp],
    durations_ms: list[int],
    regions: list[Box],
    pool: ThreadPoolExecutor,
) -> list[Frame]:
    keys = [_key(motions, index) for index in range(len(durations_ms))]
    drawn: dict[bytes, Future[Patch | None]] = {}
    for index, key in enumerate(keys):  # frames that show the same pose are drawn once
        if index and key not in drawn and key != keys[0]:
            drawn[key] = pool.submit(_draw, still, motions, warps, index)
    in_betweens = _InBetweens(still, motions, warps, regions)
    spare_ms = MAX_LOOP_MS - sum(int(d) for d in durations_ms)
    frames: list[Frame] = []
    previous = _views(still, None, regions)
    for index, duration in enumerate(durations_ms):
        key = keys[index]
        patch = drawn[key].result() if key in drawn else None
        views = _views(still, patch, regions)
        if frames:
            extra = in_betweens.between(index, 0.0, 1.0, previous, views)
            if extra:
                interval = min(frames[-1].duration_ms, int(duration))
                share = max(MIN_FRAME_MS, interval // (len(extra) + 1))
                taken = min(share * len(extra), frames[-1].duration_ms - MIN_FRAME_MS)
                if share * len(extra) - taken <= spare_ms:
                    spare_ms -= share * len(extra) - taken
                    frames[-1] = Frame(frames[-1].patch, frames[-1].duration_ms - taken)
                    frames.extend(Frame(between, share) for between in extra)
        frames.append(Frame(patch, int(duration)))
        previous = views
    return frames
