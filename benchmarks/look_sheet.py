"""A look sheet: the closing eye and the smile of one photo's animation, zoomed, in one PNG.

    uv run python benchmarks/look_sheet.py PHOTO [--preset wink] [--target any] [-o sheet.png]

Row 1 is the eye that closes most, at 3x: still, half-closed, shut, half-reopened. Row 2 is the mouth
at 2x: still, widest smile. The frames are the animation the pipeline serves (Animator.animate, WebP),
decoded, so what the sheet shows is what a person who zooms in sees, coding included. They are picked by
the preset's lid timing: each tile is the served frame showing at the middle of the preset frame whose
closure (motion.eye_closure, 0 open, 1 shut) is nearest the tile's, and its label says which.
A photo of a real person must stay out of the repository: write its sheet into artifacts/.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageSequence

from pipeline import topology as t
from pipeline.api import Animator
from pipeline.motion import FaceMotion

#: Zoom of the eye row and of the mouth row.
EYE_ZOOM, MOUTH_ZOOM = 3, 2
#: Room round the eye (share of its width each side; above, up to the brow's top plus this share).
EYE_MARGIN = 0.35
#: Room round the mouth (share of its width each side).
MOUTH_MARGIN = 0.3
#: Closure of the eye's tiles: still, half-closed (while closing), shut, half-reopened (while opening).
HALF = 0.5
#: Height of a tile's label strip, in sheet pixels, and the gap between tiles.
LABEL_PX, GAP_PX = 22, 6
LABEL_FONT, LABEL_SCALE = cv2.FONT_HERSHEY_SIMPLEX, 0.45
BACKGROUND = (32, 32, 32)


def served_frames(data: bytes) -> tuple[list[np.ndarray], np.ndarray, int]:
    """The frames of an animated image, composited, RGB, with each one's start time and the loop, in ms."""
    image = Image.open(io.BytesIO(data))
    frames, durations = [], []
    for frame in ImageSequence.Iterator(image):
        frames.append(np.asarray(frame.convert("RGB")).copy())
        durations.append(int(frame.info.get("duration", 0)))
    return frames, np.concatenate([[0], np.cumsum(durations)[:-1]]), int(sum(durations))


def eye_frames(closure: np.ndarray) -> list[tuple[str, int]]:
    """Preset frames of the tiles of one eye's closure curve (F,): still, half-closed, shut, half-reopened."""
    shut = int(np.argmax(closure))
    closing = int(np.argmin(np.abs(closure[: shut + 1] - HALF)))
    opening = shut + int(np.argmin(np.abs(closure[shut:] - HALF)))
    return [("still", 0), ("half-closed", closing), ("shut", shut), ("half-reopened", opening)]


def mouth_frames(motion: FaceMotion) -> list[tuple[str, int]]:
    """Preset frames of the mouth's tiles: the still and the widest smile (corners furthest apart)."""
    corners = motion.frames[:, [t.MOUTH_RIGHT_CORNER, t.MOUTH_LEFT_CORNER]]
    width = np.linalg.norm(corners[:, 0] - corners[:, 1], axis=1)
    return [("still", 0), ("widest smile", int(np.argmax(width)))]


def served_index(starts: np.ndarray, loop_ms: int, durations_ms: np.ndarray, index: int) -> int:
    """The served frame showing at the middle of preset frame `index`.

    In-betweens take their time from the frame before them, so a preset frame keeps its place in the
    loop; where they made the loop longer, the preset's times are stretched to the served loop.
    """
    preset_starts = np.concatenate([[0], np.cumsum(durations_ms)[:-1]])
    middle = (preset_starts[index] + durations_ms[index] / 2) * loop_ms / float(durations_ms.sum())
    return int(np.searchsorted(starts, middle, side="right") - 1)


def crop_box(points: np.ndarray, margin: float, top_points: np.ndarray | None, shape: tuple[int, ...]) -> tuple:
    """A box (x0, y0, x1, y1) round `points`, `margin` of their width each side, up to `top_points` too."""
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    pad = margin * (x1 - x0)
    if top_points is not None:
        y0 = min(y0, top_points[:, 1].min())
    box = (int(x0 - pad), int(y0 - pad / 2), int(x1 + pad), int(y1 + pad))
    return max(0, box[0]), max(0, box[1]), min(shape[1], box[2]), min(shape[0], box[3])


def tile(frame: np.ndarray, box: tuple, zoom: int, label: str) -> np.ndarray:
    """The box of a frame zoomed (as a browser zooms: smooth), with its label under it."""
    x0, y0, x1, y1 = box
    crop = frame[y0:y1, x0:x1]
    big = cv2.resize(crop, (crop.shape[1] * zoom, crop.shape[0] * zoom), interpolation=cv2.INTER_CUBIC)
    (text_width, _), _ = cv2.getTextSize(label, LABEL_FONT, LABEL_SCALE, 1)
    width = max(big.shape[1], text_width + 8)  # a small face's tile is widened to its label
    big = np.hstack([big, np.full((big.shape[0], width - big.shape[1], 3), BACKGROUND, np.uint8)])
    strip = np.full((LABEL_PX, width, 3), BACKGROUND, np.uint8)
    cv2.putText(strip, label, (4, LABEL_PX - 7), LABEL_FONT, LABEL_SCALE, (235, 235, 235), 1, cv2.LINE_AA)
    return np.vstack([big, strip])


def row(tiles: list[np.ndarray]) -> np.ndarray:
    height = max(tile.shape[0] for tile in tiles)
    parts = []
    for part in tiles:
        pad = np.full((height - part.shape[0], part.shape[1], 3), BACKGROUND, np.uint8)
        parts += [np.vstack([part, pad]), np.full((height, GAP_PX, 3), BACKGROUND, np.uint8)]
    return np.hstack(parts[:-1])


def stack(rows: list[np.ndarray]) -> np.ndarray:
    width = max(part.shape[1] for part in rows)
    out = []
    for part in rows:
        pad = np.full((part.shape[0], width - part.shape[1], 3), BACKGROUND, np.uint8)
        out += [np.hstack([part, pad]), np.full((GAP_PX, width, 3), BACKGROUND, np.uint8)]
    return np.vstack(out[:-1])


def look_sheet(photo: bytes, preset: str = "wink", target: str = "any") -> np.ndarray:
    """The sheet (RGB) of the photo's largest animated face."""
    animator = Animator(target, preset)
    stages = animator.stages(photo)
    if not stages.motions:
        raise SystemExit(f"No {target} face with a mesh in the photo: nothing to show.")
    motion = max(stages.motions, key=lambda face: face.pose.scale)  # the largest face (obama_4 has two)
    served = animator.animate(photo, "webp")
    assert served.data is not None
    frames, starts, loop_ms = served_frames(served.data)
    durations = animator.preset.durations_ms
    eye = int(np.argmax(motion.eye_closure.max(axis=0)))
    _, upper, lower, corners, brow, _ = t.EYES[eye]
    eye_points = motion.still[[*corners, *upper, *lower]]
    eye_box = crop_box(eye_points, EYE_MARGIN, motion.still[list(brow)], frames[0].shape)
    mouth_box = crop_box(motion.still[list(t.OUTER_UPPER_LIP + t.OUTER_LOWER_LIP)], MOUTH_MARGIN, None, frames[0].shape)
    closure = motion.eye_closure[:, eye]
    rows = []
    for picks, box, zoom, show_closure in (
        (eye_frames(closure), eye_box, EYE_ZOOM, True),
        (mouth_frames(motion), mouth_box, MOUTH_ZOOM, False),
    ):
        tiles = []
        for name, index in picks:
            shown = served_index(starts, loop_ms, durations, index)
            label = f"{name} f{index}" + (f" c={closure[index]:.2f}" if show_closure else "")
            tiles.append(tile(frames[shown], box, zoom, label))
        rows.append(row(tiles))
    return stack(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", type=Path)
    parser.add_argument("--preset", default="wink")
    parser.add_argument("--target", default="any", help="whose face: an enrolled name or `any` (default)")
    parser.add_argument("-o", "--output", type=Path, default=Path("artifacts/look-sheet.png"))
    args = parser.parse_args(argv)
    sheet = look_sheet(args.photo.read_bytes(), args.preset, args.target)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(args.output, optimize=True)
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
