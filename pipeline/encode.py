"""Stage 7, encode: the still plus per-frame patches become an animated file of the chosen format.

Each format's encoder is its own module in pipeline/formats/, registered in pipeline.formats.FORMATS;
this stage looks the format up and runs it. marking.py says, in every format, that the result is
synthetic.
"""

from __future__ import annotations

import numpy as np

from pipeline import formats
from pipeline.formats.spec import Picture
from pipeline.types import Box, Frame

__all__ = ["Encoding", "begin", "encode"]


class Encoding:
    """An encode begun before its frames are drawn (`begin`), finished with them (`finish`).

    A format may start on the still alone (WebP chooses and encodes its first frame on a thread while
    the frames are drawn); the others start when their frames are there. Use it as a context
    manager, so such a thread ends even when drawing the frames fails.
    """

    def __init__(self, fmt: str, picture: Picture) -> None:
        self._started = formats.get(fmt).begin(picture)

    def __enter__(self) -> Encoding:
        return self

    def __exit__(self, *_: object) -> None:
        self._started.close()

    def finish(self, frames: list[Frame]) -> bytes:
        """The encoded animation of these frames (frame 0 is the still itself)."""
        return self._started.finish(frames)


def begin(
    fmt: str,
    rgb: np.ndarray,
    alpha: np.ndarray | None,
    icc_profile: bytes | None = None,
    focus: Box | None = None,
    source: bytes | None = None,
) -> Encoding:
    """Start encoding the still `rgb` as `fmt` (a name in formats.FORMATS); `Encoding.finish(frames)` ends it.
    `focus` is where the faces are, `source` the bytes the photo was served as (None when unknown)."""
    return Encoding(fmt, Picture(rgb, alpha, icc_profile, focus, source))


def encode(
    fmt: str,
    rgb: np.ndarray,
    alpha: np.ndarray | None,
    frames: list[Frame],
    icc_profile: bytes | None = None,
    focus: Box | None = None,
    source: bytes | None = None,
) -> bytes:
    """The whole encode at once: the still and its frames as `fmt`."""
    with begin(fmt, rgb, alpha, icc_profile, focus, source) as encoding:
        return encoding.finish(frames)
