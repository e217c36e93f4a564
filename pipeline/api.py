"""The pipeline's public, flat API: image bytes in, animated image bytes out.

Conventions used everywhere in the package:
- images are numpy arrays, RGB in sRGB (decode converts other colour spaces), uint8, shape (height, width, 3);
  alpha, when present, is (height, width) uint8;
- boxes are `Box(x0, y0, x1, y1)` in whole pixels of the decoded (EXIF-upright) image, x1/y1 exclusive;
- landmark arrays are float32 (N, 3): x and y in pixels of the decoded image, z in the same pixel scale.

`Animator` holds the loaded models, the target and the preset, so that a batch (the CLI) or a worker
process (the proxy add-on) pays for loading once.  `animate()` is the one-call convenience.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from pipeline import decode, encode, faces, formats, landmarks, motion, provenance, render, warp
from pipeline.errors import ImageError, UsageError, WinkError
from pipeline.faces import Face
from pipeline.motion import FaceMotion
from pipeline.presets import Preset, load_preset
from pipeline.targets import Target, load_target
from pipeline.types import PIPELINE_VERSION, Box, Frame, Landmarks, SigningKey, Still

#: The output formats' names (pipeline.formats holds what each one is).
FORMATS = formats.NAMES

__all__ = [
    "FORMATS",
    "PIPELINE_VERSION",
    "Animation",
    "Animator",
    "Stages",
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
    #: What the C2PA Content Credentials add to the file (measured by the benchmarks).
    credentials_bytes: int = 0

    @property
    def animated(self) -> bool:
        return self.data is not None


@dataclass
class Stages:
    """What one image came to before its frames are drawn (Animator.stages), for tests and tools.

    The lists stop where the pipeline stopped: no face big enough (`still` None, unless the look
    decoded the whole image anyway), none of the target (no meshes), or no mesh found. `faces` are
    all identified faces, the target's marked `is_target`; `meshes`, `motions` and `warps` are those
    of the target's faces, in the same order.
    """

    detections: list[tuple[Box, float]]
    width: int
    height: int
    timings_ms: dict[str, float]
    still: Still | None = None
    faces: list[Face] = field(default_factory=list)
    meshes: list[Landmarks] = field(default_factory=list)
    motions: list[FaceMotion] = field(default_factory=list)
    warps: list[warp.FaceWarp] = field(default_factory=list)

    @property
    def to_identify(self) -> list[Box]:
        """The detected faces big enough to animate: the ones worth identifying."""
        return [box for box, _ in self.detections if box.height >= faces.MIN_FACE_PX]


#: A detection scoring under this must show a face mesh before dlib encodes it (the mesh costs less
#: than the encoding). It lies between the scores of real faces and those of the detector's false alarms
#: on scenery and noise, most of which show no mesh. A face without a mesh could never be animated, so
#: the check loses nothing the pipeline would have animated.
MESH_FIRST_BELOW = 0.75


def _plausible(full: Still, box: Box, score: float) -> bool:
    """Worth identifying: too small to animate (never identified), a confident detection, or one that
    shows a face mesh (MESH_FIRST_BELOW). The look checks this when it decoded the whole image anyway,
    so the detector's false alarms on scenery end there instead of waiting behind identifications."""
    return box.height < faces.MIN_FACE_PX or score >= MESH_FIRST_BELOW or landmarks.face_mesh(full.rgb, box) is not None


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


class Animator:
    """Animates the faces of one target with one preset; reuse it, the models load once per process.

    Every animation is signed with C2PA Content Credentials (pipeline.provenance) by the key of
    `confdir` (default: provenance.default_confdir()), made there on first use; `signing_key` gives
    the key itself instead.
    """

    def __init__(
        self,
        target: str | Target = "zeman",
        preset: str | Preset = "wink",
        confdir: Path | None = None,
        signing_key: SigningKey | None = None,
    ):
        self.target = load_target(target) if isinstance(target, str) else target
        self.preset = load_preset(preset) if isinstance(preset, str) else preset
        self.confdir = confdir
        self._signing_key = signing_key

    @property
    def signing_key(self) -> SigningKey:
        if self._signing_key is None:
            self._signing_key = provenance.load_key(self.confdir)
        return self._signing_key

    def warm(self) -> None:
        """Load every model now (a worker process does this before its first real image)."""
        blank = np.full((256, 256, 3), 128, np.uint8)
        faces.detect(blank, 1.0, 256, 256)
        landmarks.face_mesh(blank, Box(64, 64, 192, 192))
        faces.encode_faces(blank, [Box(64, 64, 192, 192)])
        still = encode.encode("gif", blank, None, [Frame(None, 100)])
        provenance.sign(still, "gif", self.preset.name, self.signing_key)  # makes the key on first use

    def look(self, data: bytes) -> Stages:
        """The cheap first look: decode a preview and detect faces. `Stages.to_identify` lists the faces
        big enough to animate; with none, the image is done with (most photos on a page end here).

        Raises ImageError for bytes that are not a still image the pipeline reads.
        """
        timings: dict[str, float] = {}
        start = time.perf_counter()
        small, full = decode.for_detection(data)  # a large JPEG: a draft decode, a fraction of the work
        timings["decode"] = _ms_since(start)

        start = time.perf_counter()
        width, height = small.full_size
        detections = faces.detect(small.rgb, small.scale, width, height)
        if full is not None:  # the whole image is at hand: a doubtful detection shows its mesh now
            detections = [(box, score) for box, score in detections if _plausible(full, box, score)]
        timings["detect"] = _ms_since(start)
        return Stages(detections, width, height, timings, still=full)

    def identify(self, data: bytes, detections: Stages | list[tuple[Box, float]] | None = None) -> Stages:
        """The look, then whose faces they are: the full image decoded, each big face compared with the
        target (the face-recognition encoding: the expensive part). `detections`: the look already taken, or its
        detections (from another process, say)."""
        if detections is None:
            found = self.look(data)
        elif isinstance(detections, Stages):
            found = detections
        else:
            found = Stages(list(detections), 0, 0, {})
        if not found.to_identify:
            return found
        start = time.perf_counter()
        full = found.still if found.still is not None and found.still.width == found.width else None
        if full is None:
            full = decode.decode(data)
            found.timings_ms["decode"] = found.timings_ms.get("decode", 0.0) + _ms_since(start)
            start = time.perf_counter()
        found.still, found.width, found.height = full, full.width, full.height
        plausible = [(box, score) for box, score in found.detections if _plausible(full, box, score)]
        found.faces = faces.identify(full.rgb, plausible, self.target.encodings, self.target.tolerance)
        found.timings_ms["identify"] = _ms_since(start)
        return found

    def stages(self, data: bytes, targets: list[Box] | None = None) -> Stages:
        """Everything `animate` finds in an image before it draws frames: decode, detect, identify, mesh,
        plan the motion and build the warps. Stops early (empty lists) where animate would stop.

        `targets`: the target's face boxes, already found by `identify` (in another process, say):
        the look and the identification are skipped.

        Raises ImageError for bytes that are not a still image the pipeline reads.
        """
        if targets is None:
            found = self.identify(data)
        else:
            start = time.perf_counter()
            whole = decode.decode(data)
            found = Stages([], whole.width, whole.height, {"decode": _ms_since(start)}, still=whole)
            found.faces = [faces.Face(box, 1.0, 0.0, True) for box in targets]
        chosen = [face for face in found.faces if face.is_target]
        full = found.still
        if full is None or not chosen:
            return found

        start = time.perf_counter()
        found.meshes = [m for m in (landmarks.face_mesh(full.rgb, face.box) for face in chosen) if m is not None]
        found.timings_ms["mesh"] = _ms_since(start)
        if not found.meshes:
            return found

        start = time.perf_counter()
        found.motions = [motion.plan_motion(mesh, self.preset) for mesh in found.meshes]
        found.warps = [warp.FaceWarp(m.still, full.width, full.height) for m in found.motions]
        found.timings_ms["warp"] = _ms_since(start)  # animate adds the drawing of the frames
        return found

    def animate(self, data: bytes, fmt: str = "webp", targets: list[Box] | None = None) -> Animation:
        """Animated bytes of the image, or an Animation with data None when no target face is in it.
        `targets` as for `stages`.

        Raises ImageError for bytes that are not a still image the pipeline reads.
        """
        if fmt not in FORMATS:
            raise UsageError(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}.")
        found = self.stages(data, targets)
        timings, full, meshes = found.timings_ms, found.still, found.meshes
        if full is None or not meshes:
            return Animation(None, None, len(found.detections), 0, found.width, found.height, timings)

        focus = Box.union(*(m.box for m in meshes))
        assert focus is not None  # there is a mesh
        # The encode begins with the still (a WebP's first frame needs nothing else) while the frames are
        # drawn; "encode" times what is left of it once they are.
        with encode.begin(fmt, full.rgb, full.alpha, full.icc_profile, focus.shrunk(0.15), source=data) as encoding:
            start = time.perf_counter()
            face_boxes = [m.box.shrunk(0.08) for m in meshes]  # about where a face detector frames each face
            frames = render.render_frames(full, found.motions, found.warps, list(self.preset.durations_ms), face_boxes)
            timings["warp"] += _ms_since(start)

            start = time.perf_counter()
            encoded = encoding.finish(frames)
            timings["encode"] = _ms_since(start)

        start = time.perf_counter()
        signed = provenance.sign(encoded, fmt, self.preset.name, self.signing_key)
        timings["sign"] = _ms_since(start)
        return Animation(
            signed,
            formats.get(fmt).http_mime,
            len(found.detections),
            len(meshes),
            width=full.width,
            height=full.height,
            timings_ms=timings,
            credentials_bytes=len(signed) - len(encoded),
        )


@cache
def animator(target: str = "zeman", preset: str = "wink", confdir: str | None = None) -> Animator:
    """The process's Animator for a target, preset and signing confdir, made once (a proxy worker)."""
    return Animator(target, preset, Path(confdir) if confdir else None)


def animate(data: bytes, *, target: str = "zeman", preset: str = "wink", fmt: str = "webp") -> Animation:
    """One-call form of `Animator(target, preset).animate(data, fmt)`, reusing loaded animators."""
    return animator(target, preset).animate(data, fmt)
