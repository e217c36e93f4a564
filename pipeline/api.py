"""The pipeline's public, flat API: image bytes in, animated image bytes out.

Conventions used everywhere in the package:
- images are numpy arrays, RGB, uint8, shape (height, width, 3); alpha, when present, is (height, width) uint8;
- boxes are `Box(x0, y0, x1, y1)` in whole pixels of the decoded (EXIF-upright) image, x1/y1 exclusive;
- landmark arrays are float32 (N, 3): x and y in pixels of the decoded image, z in the same pixel scale.

`Animator` holds the loaded models, the target and the preset, so that a batch (the CLI) or a worker
process (the proxy add-on) pays for loading once.  `animate()` is the one-call convenience.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.errors import ImageError, UsageError, WinkError

#: Bumped whenever the same input could produce different output bytes; part of every cache key.
PIPELINE_VERSION = "1"

FORMATS = ("webp", "apng", "gif")
MIME_TYPES = {"webp": "image/webp", "apng": "image/apng", "gif": "image/gif"}

__all__ = [
    "FORMATS",
    "MIME_TYPES",
    "PIPELINE_VERSION",
    "Animation",
    "Animator",
    "ImageError",
    "UsageError",
    "WinkError",
    "animate",
]


@dataclass(frozen=True)
class Animation:
    """What the pipeline made of one image.

    `data` is None when there was nothing to do (no target face): that is a normal result, not an error.
    """

    data: bytes | None
    mime: str | None
    faces_found: int
    faces_animated: int
    width: int
    height: int
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def animated(self) -> bool:
        return self.data is not None
