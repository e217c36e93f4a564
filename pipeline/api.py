"""The pipeline's public, flat API: image bytes in, animated image bytes out.

Conventions used everywhere in the package:
- images are numpy arrays, RGB, uint8, shape (height, width, 3); alpha, when present, is (height, width) uint8;
- boxes are `Box(x0, y0, x1, y1)` in whole pixels of the decoded (EXIF-upright) image, x1/y1 exclusive;
- landmark arrays are float32 (N, 3): x and y in pixels of the decoded image, z in the same pixel scale.

`Animator` holds the loaded models, the target and the preset, so that a batch (the CLI) or a worker
process (the proxy add-on) pays for loading once.  `animate()` is the one-call convenience.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from pipeline import decode, encode, faces, landmarks, motion, render, warp
from pipeline.errors import ImageError, UsageError, WinkError
from pipeline.presets import Preset, load_preset
from pipeline.targets import Target, load_target

#: Bumped whenever the same input could produce different output bytes; part of every cache key.
PIPELINE_VERSION = "4"

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
    "animator",
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


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


class Animator:
    """Animates the faces of one target with one preset; reuse it, the models load once per process."""

    def __init__(self, target: str | Target = "zeman", preset: str | Preset = "wink"):
        self.target = load_target(target) if isinstance(target, str) else target
        self.preset = load_preset(preset) if isinstance(preset, str) else preset

    def warm(self) -> None:
        """Load every model now (a worker process does this before its first real image)."""
        import face_recognition  # noqa: F401  (loads dlib's models)

        blank = np.full((256, 256, 3), 128, np.uint8)
        faces.detect(blank, 1.0, 256, 256)
        landmarks.face_mesh(blank, faces.Box(64, 64, 192, 192))
        faces.encode_faces(blank, [faces.Box(64, 64, 192, 192)])

    def animate(self, data: bytes, fmt: str = "webp") -> Animation:
        """Animated bytes of the image, or an Animation with data None when no target face is in it.

        Raises ImageError for bytes that are not a still image the pipeline reads.
        """
        if fmt not in FORMATS:
            raise UsageError(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}.")
        timings: dict[str, float] = {}
        start = time.perf_counter()
        full = None
        if decode.sniff(data[:16]) == "jpeg":
            small = decode.preview(data)  # draft decoding: no full decode for images without faces
        else:
            full = decode.decode(data)
            small = decode.shrink(full)
        timings["decode"] = _ms_since(start)

        start = time.perf_counter()
        width, height = small.full_size
        detections = faces.detect(small.rgb, small.scale, width, height)
        timings["detect"] = _ms_since(start)
        nothing = Animation(None, None, len(detections), 0, width, height, timings)
        if not any(box.height >= faces.MIN_FACE_PX for box, _ in detections):
            return nothing

        start = time.perf_counter()
        if full is None:
            full = decode.decode(data)
            timings["decode"] += _ms_since(start)
            start = time.perf_counter()
        width, height = full.width, full.height
        found = faces.identify(full.rgb, detections, self.target.encodings, self.target.tolerance)
        chosen = [face for face in found if face.is_target]
        timings["identify"] = _ms_since(start)
        nothing = Animation(None, None, len(detections), 0, width, height, timings)
        if not chosen:
            return nothing

        start = time.perf_counter()
        meshes = [m for m in (landmarks.face_mesh(full.rgb, face.box) for face in chosen) if m is not None]
        timings["mesh"] = _ms_since(start)
        if not meshes:
            return nothing

        start = time.perf_counter()
        motions = [motion.plan_motion(mesh, self.preset) for mesh in meshes]
        warps = [warp.FaceWarp(m.still, width, height) for m in motions]
        face_boxes = [m.box.shrunk(0.08) for m in meshes]  # about where a face detector frames each face
        frames = render.render_frames(full, motions, warps, list(self.preset.durations_ms), face_boxes)
        timings["warp"] = _ms_since(start)

        start = time.perf_counter()
        focus = faces.Box.union(*(m.box for m in meshes)).shrunk(0.15)
        encoded = encode.ENCODERS[fmt](full.rgb, full.alpha, frames, full.icc_profile, focus)
        timings["encode"] = _ms_since(start)
        return Animation(encoded, MIME_TYPES[fmt], len(detections), len(meshes), width, height, timings)


@cache
def animator(target: str = "zeman", preset: str = "wink") -> Animator:
    """The process's Animator for a target and preset, made once (the CLI's batch, a proxy worker)."""
    return Animator(target, preset)


def animate(data: bytes, *, target: str = "zeman", preset: str = "wink", fmt: str = "webp") -> Animation:
    """One-call form of `Animator(target, preset).animate(data, fmt)`, reusing loaded animators."""
    return animator(target, preset).animate(data, fmt)
