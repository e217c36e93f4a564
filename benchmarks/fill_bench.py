"""How well each fill rebuilds skin by the eye: the candidates for what moved lid skin cannot cover.

    uv run python benchmarks/fill_bench.py [--repeat 3]

For every fixture face (and scikit-image's `astronaut`), a lid-shaped hole (the eye's width, LENS_HEIGHT
IOD tall) is cut into real skin just under the lower lid, where the grain, wrinkles and light are those a
shut lid's fill must continue, and filled by each candidate: OpenCV's `cv2.inpaint` (Telea), OpenCV
contrib's `xphoto.inpaint` FSR (fast and best) and shift-map, a push-pull membrane (a smooth fill), and
`cv2.seamlessClone` of the skin just under the hole (a patch of the same face, gradient-domain blended).
Per method it reports the mean error against the skin that was there (levels), how much of its grain
is kept (the fill's fine detail, a high-pass's standard deviation, over the original's: 1 is as grainy,
0 smooth) and the time (median ms; on a shared, loaded machine).
"""

from __future__ import annotations

import argparse
import io
import os
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data

from pipeline import topology as t
from pipeline.api import Animator

FIXTURES = Path(os.environ.get("WINK_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures"))
PHOTOS = (
    "zeman/zeman_1.jpg",
    "zeman/zeman_2.jpg",
    "obama/obama_1.jpg",
    "obama/obama_2.jpg",
    "biden/biden_2.jpg",
    "kit_harington/kit_2.jpg",
    "rose_leslie/rose_1.jpg",
    "alex_lacamoire/alex_1.jpg",
    "lin_manuel_miranda/lin_1.png",
)
#: The hole: as tall as this (IOD units), its top this far under the lower lid, so it is skin only.
LENS_HEIGHT, BELOW_LID = 0.06, 0.05
#: Scale of the fine detail whose amount is compared (a Gaussian's sigma, pixels).
DETAIL_SIGMA = 1.5
#: Room round the hole the fills see (IOD units).
CONTEXT = 0.12

Fill = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _telea(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    return cv2.inpaint(rgb, hole.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)


def _xphoto(kind: int) -> Fill:
    def fill(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
        out = np.zeros_like(rgb)
        known = (~hole).astype(np.uint8) * 255  # xphoto's mask marks the known pixels, not the hole
        if kind == cv2.xphoto.INPAINT_SHIFTMAP:
            lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
            cv2.xphoto.inpaint(lab, known, out, kind)
            return cv2.cvtColor(out, cv2.COLOR_Lab2RGB)
        cv2.xphoto.inpaint(rgb, known, out, kind)
        return out

    return fill


def _membrane(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """A smooth fill: coarse levels of the known pixels carried into the hole (push-pull)."""
    values, known = rgb.astype(np.float32), (~hole).astype(np.float32)
    levels = []
    weighted, weight = values * known[..., None], known
    while min(weight.shape) > 2:
        levels.append((weighted, weight))
        weighted, weight = cv2.pyrDown(weighted), cv2.pyrDown(weight)
    field = weighted / np.maximum(weight, 1e-6)[..., None]
    for weighted, weight in reversed(levels):
        coarse = cv2.pyrUp(field, dstsize=(weight.shape[1], weight.shape[0]))
        share = np.clip(weight, 0, 1)[..., None]
        field = weighted / np.maximum(weight, 1e-6)[..., None] * share + coarse * (1 - share)
    out = np.where(hole[..., None], field, values)
    return np.clip(out, 0, 255).astype(np.uint8)


def _clone(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The skin just under the hole, moved up into it and blended in the gradient domain."""
    rows = np.flatnonzero(hole.any(axis=1))
    shift = int(rows[-1] - rows[0] + 1)
    source = np.roll(rgb, -shift, axis=0)  # source pixel (x, y + shift) lands on (x, y)
    mask = cv2.dilate(hole.astype(np.uint8) * 255, np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero(mask)
    centre = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
    return cv2.seamlessClone(source, rgb, mask, centre, cv2.NORMAL_CLONE)


METHODS: dict[str, Fill] = {
    "telea": _telea,
    "fsr_fast": _xphoto(cv2.xphoto.INPAINT_FSR_FAST),
    "fsr_best": _xphoto(cv2.xphoto.INPAINT_FSR_BEST),
    "shiftmap": _xphoto(cv2.xphoto.INPAINT_SHIFTMAP),
    "membrane": _membrane,
    "seamless_clone": _clone,
}


def under_eye_hole(rgb: np.ndarray, photo: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """A window of skin round a lid-shaped hole under the largest face's left eye, and the hole."""
    stages = Animator("any", "wink").stages(photo)
    if not stages.motions:
        return None
    motion = max(stages.motions, key=lambda face: face.pose.scale)
    iod = motion.pose.scale
    _, _, lower, corners, _, _ = t.EYES[1]
    xs = motion.still[list(corners), 0]
    top = motion.still[list(lower), 1].max() + BELOW_LID * iod
    height = LENS_HEIGHT * iod
    pad = CONTEXT * iod
    x0, x1 = int(xs.min() - pad), int(xs.max() + pad)
    y0, y1 = int(top - pad), int(top + height + 2 * pad + height)  # room under it for the clone's source
    if x0 < 0 or y0 < 0 or x1 > rgb.shape[1] or y1 > rgb.shape[0]:
        return None
    window = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    hole = np.zeros(window.shape[:2], np.uint8)
    centre = (int((xs.min() + xs.max()) / 2) - x0, int(top + height / 2) - y0)
    axes = (int((xs.max() - xs.min()) / 2), max(1, int(height / 2)))
    cv2.ellipse(hole, centre, axes, 0, 0, 360, (1,), -1)
    return window, hole > 0


def _detail(rgb: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return grey - cv2.GaussianBlur(grey, (0, 0), DETAIL_SIGMA)


def score(window: np.ndarray, hole: np.ndarray, filled: np.ndarray) -> tuple[float, float]:
    """Mean error in the hole (levels) and the fill's fine detail over the original's there."""
    error = float(np.abs(filled.astype(np.float32) - window.astype(np.float32))[hole].mean())
    grain = float(_detail(filled)[hole].std() / max(float(_detail(window)[hole].std()), 1e-6))
    return error, grain


def _photos() -> list[tuple[str, bytes]]:
    encoded = io.BytesIO()
    Image.fromarray(data.astronaut()).save(encoded, "PNG")
    photos = [("astronaut", encoded.getvalue())]
    return photos + [(Path(name).stem, (FIXTURES / "faces" / name).read_bytes()) for name in PHOTOS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    totals: dict[str, list[tuple[float, float, float]]] = {name: [] for name in METHODS}
    for label, photo in _photos():
        rgb = np.asarray(Image.open(io.BytesIO(photo)).convert("RGB"))
        cut = under_eye_hole(rgb, photo)
        if cut is None:
            print(f"{label}: no room round the eye, skipped")
            continue
        window, hole = cut
        cells = []
        for name, fill in METHODS.items():
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                filled = fill(window, hole)
                times.append((time.perf_counter() - start) * 1000)
            error, grain = score(window, hole, filled)
            totals[name].append((error, grain, float(np.median(times))))
            cells.append(f"{name} {error:.1f}/{grain:.2f}/{np.median(times):.0f}ms")
        print(f"{label} ({hole.sum()} px): " + "  ".join(cells), flush=True)
    print("median over photos: error (levels) / grain kept / time")
    for name, rows in totals.items():
        error, grain, ms = np.median(np.array(rows), axis=0)
        print(f"  {name:15s} {error:5.1f}  {grain:4.2f}  {ms:7.1f} ms")


if __name__ == "__main__":
    main()
