"""What the stages hand each other, and the one module every stage imports.

Conventions (stated once in pipeline/api.py): images are RGB uint8 arrays (height, width, 3), alpha
(height, width) uint8; boxes are whole pixels of the decoded, upright image, x1/y1 exclusive.
Nothing here imports a model or a codec, so the proxy add-on can use it without loading either.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Bumped whenever the same input could produce different output bytes; part of every cache key.
PIPELINE_VERSION = "16"

#: Landmarks of the refined mesh: 468 face points and 10 iris points.
N_LANDMARKS = 478


@dataclass(frozen=True)
class Box:
    """A rectangle in whole pixels of the full upright image; x1 and y1 are exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def scaled(self, factor: float) -> Box:
        return Box(round(self.x0 * factor), round(self.y0 * factor), round(self.x1 * factor), round(self.y1 * factor))

    def padded(self, fraction: float, width: int, height: int) -> Box:
        """Grown by `fraction` of its size on every side, clipped to the image."""
        dx, dy = round(self.width * fraction), round(self.height * fraction)
        return Box(max(0, self.x0 - dx), max(0, self.y0 - dy), min(width, self.x1 + dx), min(height, self.y1 + dy))

    def shrunk(self, fraction: float) -> Box:
        """Smaller by `fraction` of its size on every side (the inner face of a detector's box)."""
        dx, dy = round(self.width * fraction), round(self.height * fraction)
        return Box(self.x0 + dx, self.y0 + dy, max(self.x0 + dx + 1, self.x1 - dx), max(self.y0 + dy + 1, self.y1 - dy))

    @staticmethod
    def union(*boxes: Box | None) -> Box | None:
        """The smallest box holding every given box (None ones ignored); None when there are none."""
        real = [box for box in boxes if box is not None]
        if not real:
            return None
        return Box(min(b.x0 for b in real), min(b.y0 for b in real), max(b.x1 for b in real), max(b.y1 for b in real))

    def as_css(self) -> tuple[int, int, int, int]:
        """face_recognition's (top, right, bottom, left) order."""
        return (self.y0, self.x1, self.y1, self.x0)


@dataclass(frozen=True)
class Still:
    """An upright still image ready for the pipeline.

    `full_size` is the (width, height) of the whole upright image, which a preview's `rgb` is a
    smaller copy of; `scale` is the size of one pixel of `rgb` in pixels of it (1.0 for a full decode),
    so boxes found on a preview map back by multiplying. `icc_profile` is the photo's own profile
    only when it is sRGB in all but name; pixels in any other space have been converted to sRGB.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    icc_profile: bytes | None
    full_size: tuple[int, int]

    @property
    def width(self) -> int:
        return self.rgb.shape[1]

    @property
    def height(self) -> int:
        return self.rgb.shape[0]

    @property
    def scale(self) -> float:
        return self.full_size[0] / self.width


@dataclass(frozen=True)
class Landmarks:
    """Face Mesh points of one face, float32 (478, 3): x, y in full-image pixels, z in the same scale."""

    points: np.ndarray
    box: Box


@dataclass(frozen=True)
class Patch:
    """Pixels of one frame inside `box`; everything outside the box is the still."""

    box: Box
    rgb: np.ndarray
    alpha: np.ndarray | None


@dataclass(frozen=True)
class Frame:
    """One frame of the animation: the patch that differs from the still (None: the still itself)."""

    patch: Patch | None
    duration_ms: int


@dataclass(frozen=True)
class SigningKey:
    """What signs the C2PA Content Credentials: a PEM certificate chain (end entity first) and its PEM
    private key. The key is left out of repr, so no log line or traceback ever shows it."""

    chain_pem: bytes
    key_pem: bytes = field(repr=False)
