"""What every format's encoder does with the frames: the whole canvas of each, and the rectangle
where it may differ from the frame before.

The frames come from render.py as patches over the still. Each encoder starts from the still and
then, frame by frame, writes only what changed (WebP, APNG, GIF) or the whole canvas (AVIF, and any
image with alpha of its own in APNG and GIF, through Pillow's animated writers).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
from PIL import Image

from pipeline.types import Box, Frame

__all__ = ["NEAR_FACE_PAD", "after_still", "canvas_frames", "full_frames", "near_face", "pillow_sequence"]

#: "Near the face", where the lossless formats keep the still's finer colours: the focus grown by this
#: share of its size on every side, well past any face detector's box.
NEAR_FACE_PAD = 0.3

#: One frame as the encoders walk them: the whole canvas (RGB, or RGBA for an image with alpha), the
#: box that may differ from the frame before (None: nothing can), and how long it shows.
Canvas = tuple[np.ndarray, Box | None, int]


def canvas_frames(rgb: np.ndarray, alpha: np.ndarray | None, frames: list[Frame]) -> Iterator[Canvas]:
    """Yield (full RGBA-or-RGB frame, box that may differ from the previous frame, duration).
    The canvas is one array, changed in place from frame to frame: copy what must outlive a step."""
    still = rgb if alpha is None else np.dstack([rgb, alpha])
    canvas = still.copy()
    previous_box: Box | None = None
    for frame in frames:
        if previous_box is not None:  # undo the previous patch
            canvas[previous_box.y0 : previous_box.y1, previous_box.x0 : previous_box.x1] = still[
                previous_box.y0 : previous_box.y1, previous_box.x0 : previous_box.x1
            ]
        box = None
        if frame.patch is not None:
            box = frame.patch.box
            pixels = frame.patch.rgb
            if alpha is not None:
                assert frame.patch.alpha is not None, "a patch of an image with alpha carries its alpha"
                pixels = np.dstack([frame.patch.rgb, frame.patch.alpha])
            canvas[box.y0 : box.y1, box.x0 : box.x1] = pixels
        yield canvas, Box.union(previous_box, box), frame.duration_ms
        previous_box = box


def after_still(rgb: np.ndarray, alpha: np.ndarray | None, frames: list[Frame]) -> Iterator[Canvas]:
    """canvas_frames without the first frame: the still, which every delta encoder writes whole itself."""
    sequence = canvas_frames(rgb, alpha, frames)
    next(sequence)
    yield from sequence


def full_frames(rgb: np.ndarray, alpha: np.ndarray | None, frames: list[Frame]) -> tuple[list[Image.Image], list[int]]:
    """Every frame as a whole Pillow image (RGB, or RGBA with alpha), and their durations."""
    images, durations = [], []
    for canvas, _, duration in canvas_frames(rgb, alpha, frames):
        images.append(Image.fromarray(canvas.copy(), "RGB" if alpha is None else "RGBA"))
        durations.append(duration)
    return images, durations


def near_face(focus: Box, width: int, height: int) -> Box:
    """Where the still keeps its finer colours: the focus grown by NEAR_FACE_PAD, clipped to the image."""
    return focus.padded(NEAR_FACE_PAD, width, height)


def pillow_sequence(images: list[Image.Image], durations: list[int], fmt: str, **options: Any) -> bytes:
    """Pillow's animated writer for `fmt`: the frames, their durations, looping forever."""
    buffer = io.BytesIO()
    images[0].save(buffer, fmt, save_all=True, append_images=images[1:], duration=durations, loop=0, **options)
    return buffer.getvalue()
