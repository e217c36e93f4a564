"""The project's own authored presets: keyframed motion of landmark groups in the canonical face frame.

Each control (eyelid closure, smile, brow raise, ...) turns one number into per-landmark offsets on the
reference face; a timeline of keyframes samples the controls at a fixed frame rate and bakes the sum
into a preset file. `python -m pipeline.authoring` (authoring/__main__.py) rewrites assets/presets/ from
this code and the library in authoring/expressions.py.

The reference face (assets/presets/reference_face.npy) is a neutral canonical face: the mean of the
Face Mesh landmarks of a few frontal photos, stored as coordinates only (`python -m pipeline.authoring
--reference PHOTO...` recomputes it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline import topology as t
from pipeline.authoring.curves import bump as _bump
from pipeline.authoring.curves import interp_line as _interp_line
from pipeline.easing import smoothstep
from pipeline.presets import PRESETS_DIR, Preset

REFERENCE_PATH = PRESETS_DIR / "reference_face.npy"
FRAME_MS = 50  # 20 frames per second of motion; slow motions may use 15 (67 ms)

Offsets = np.ndarray  # (478, 3) in IOD units


def load_reference() -> np.ndarray:
    return np.load(REFERENCE_PATH).astype(np.float64)


def compute_reference(photos: list[Path]) -> np.ndarray:
    """Mean canonical landmarks of the largest face in each photo."""
    from pipeline import decode, faces, landmarks, pose

    shapes = []
    for photo in photos:
        still = decode.decode(photo.read_bytes())
        box = faces.largest_face(still)
        if box is None:
            continue
        marks = landmarks.face_mesh(still.rgb, box)
        if marks is not None:
            shapes.append(pose.estimate_pose(marks.points).to_canonical(marks.points))
    if not shapes:
        raise SystemExit("no face found in the reference photos")
    return np.mean(shapes, axis=0).astype(np.float32)


def _eye(side: str):
    return next(eye for eye in t.EYES if eye[0] == side)


#: How far under the open lower lid's margin the shut lids meet, over the eye's middle (IOD units).
LID_PRESS = 0.05
#: How far the skin between lid and brow follows a closing lid, at the lid (none at the brow): little,
#: since the lid unrolls from under the fold, which stays; features paints the lid it uncovers.
SKIN_DRAG = 0.35


def eyelid(reference: np.ndarray, side: str, closure: float) -> Offsets:
    """Close one eye: the upper lid comes down over the eye, the lid skin above it stretches after it.

    Lid skin between the lid margin and the brow moves down less the nearer it is to the brow, so the
    warp covers the eye with the person's own lid rather than squeezing the eyeball.
    """
    _, upper, lower, corners, brow, iris = _eye(side)
    out = np.zeros_like(reference)
    if closure == 0:
        return out
    gaps = reference[list(lower), 1] - reference[list(upper), 1]
    x = reference[:, 0]
    xs = reference[list(corners), 0]
    x_lo, x_hi = xs.min(), xs.max()
    span = x_hi - x_lo
    # The lids meet a little below the lower lid's margin: the lower lid's rim is pressed together
    # from both sides (the cheek pushes up in a wink), so no bright rim shows under the lash line. Less
    # so towards the corners, which stay where they are: the shut lash line is one smooth arc, no hooks.
    along = np.clip((reference[list(lower), 0] - x_lo) / span, 0, 1)
    rim = LID_PRESS * np.sin(np.pi * along) ** 0.5
    out[list(upper), 1] = closure * (gaps + rim)
    out[list(lower), 1] = closure * rim
    lid_y = _interp_line(reference, (corners[0], *upper, corners[1]), x)
    brow_y = _interp_line(reference, brow[5:], x)  # the brow's lower edge
    gap_x = np.interp(x, np.sort(reference[list(upper), 0]), gaps[np.argsort(reference[list(upper), 0])])
    inside_x = np.clip(1 - np.maximum(x_lo - x, x - x_hi) / (0.25 * span), 0, 1)
    above = (reference[:, 1] < lid_y - 1e-4) & (reference[:, 1] > brow_y)
    w_y = np.clip((reference[:, 1] - brow_y) / np.maximum(lid_y - brow_y, 1e-6), 0, 1) ** 1.3
    skin = above & (inside_x > 0)
    skin[list(upper)] = False
    out[skin, 1] = closure * gap_x[skin] * w_y[skin] * inside_x[skin] * SKIN_DRAG
    lower_y = _interp_line(reference, (corners[0], *lower, corners[1]), x)
    below = (reference[:, 1] > lower_y + 1e-4) & (reference[:, 1] < lower_y + 0.12) & (inside_x > 0)
    w_below = np.clip(1 - (reference[:, 1] - lower_y) / 0.12, 0, 1)
    out[below, 1] -= closure * 0.05 * w_below[below] * inside_x[below]
    # The brow of the winking eye comes down slightly.
    out[list(brow), 1] += 0.02 * closure
    out[list(iris), :] = 0
    return out


def smile(reference: np.ndarray, amount: float) -> Offsets:
    """Mouth corners up and out, cheeks up, lips parted a little to show the upper teeth."""
    out = np.zeros_like(reference)
    if amount == 0:
        return out
    below_eyes = np.clip((reference[:, 1] - 0.25) / 0.25, 0, 1)
    for corner, sign in ((t.MOUTH_RIGHT_CORNER, -1.0), (t.MOUTH_LEFT_CORNER, 1.0)):
        pull = np.array([sign * 0.07, -0.085, 0.0]) * amount
        weight = _bump(reference, reference[corner], 0.5) * below_eyes
        out += weight[:, None] * pull
        cheek = reference[corner] + np.array([sign * 0.05, -0.32, 0.0])
        out[:, 1] -= 0.035 * amount * _bump(reference, cheek, 0.4) * below_eyes
    mouth_left, mouth_right = reference[t.MOUTH_RIGHT_CORNER, 0], reference[t.MOUTH_LEFT_CORNER, 0]
    centre_x, half = (mouth_left + mouth_right) / 2, (mouth_right - mouth_left) / 2
    taper = np.clip(1 - ((reference[:, 0] - centre_x) / (half * 1.05)) ** 2, 0, 1)
    mouth_y = _interp_line(reference, t.INNER_UPPER_LIP, reference[:, 0])
    chin_y = reference[t.CHIN, 1]
    # Upper lip lifts a little, the lower lip and jaw drop: the lips part.
    upper = (reference[:, 1] <= mouth_y + 1e-4) & (reference[:, 1] > mouth_y - 0.22)
    w_up = np.clip(1 - (mouth_y - reference[:, 1]) / 0.22, 0, 1)
    out[upper, 1] -= 0.018 * amount * taper[upper] * w_up[upper]
    lower = reference[:, 1] > mouth_y + 1e-4
    lower[list(t.INNER_UPPER_LIP)] = False
    lower[list(t.INNER_LOWER_LIP)] = True
    w_low = np.clip(1 - (reference[:, 1] - mouth_y) / np.maximum(chin_y - mouth_y, 1e-6), 0, 1) ** 0.7
    out[lower, 1] += 0.05 * amount * taper[lower] * w_low[lower]
    # Smiling eyes: lower lids rise a touch.
    for _, _, lower_lid, *_ in t.EYES:
        out[list(lower_lid), 1] -= 0.006 * amount
    return out


@dataclass(frozen=True)
class Segment:
    """One stretch of the timeline: each control eases from its start to its end value."""

    frames: int
    controls: dict[str, tuple[float, float]]
    hold_ms: int = 0  # extra time on the segment's last frame
    frame_ms: int = FRAME_MS


def bake(
    reference: np.ndarray,
    controls: dict[str, Callable[[float], Offsets]],
    segments: list[Segment],
    hold_still_ms: int,
    end_ms: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample the timeline: frame 0 is the still held `hold_still_ms`, the last frame is the still again."""
    state = dict.fromkeys(controls, 0.0)
    frames = [np.zeros_like(reference)]
    durations = [hold_still_ms]
    for segment in segments:
        for k in range(1, segment.frames + 1):
            u = smoothstep(k / segment.frames)
            for name, (a, b) in segment.controls.items():
                state[name] = a + (b - a) * u
            frames.append(sum((controls[name](state[name]) for name in controls), np.zeros_like(reference)))
            durations.append(segment.frame_ms)
        durations[-1] += segment.hold_ms
        for name, (_, b) in segment.controls.items():
            state[name] = b
    if any(abs(v) > 1e-9 for v in state.values()):
        raise ValueError("the timeline must end at the still")
    frames[-1] = np.zeros_like(reference)
    durations[-1] += end_ms
    return np.asarray(frames, dtype=np.float32), np.asarray(durations, dtype=np.int32)


#: Frames (of FRAME_MS) in which a lid closes: about 100 ms, as a real wink or blink does; it then holds
#: shut for a while and opens more slowly.
LID_CLOSE_FRAMES = 2

#: How far the default wink smiles (smile() amount): a full smile changes some faces enough to take their
#: identity distance over its bar; this much still lifts the mouth corners past the smile bar.
WINK_SMILE = 0.85


def wink_preset(reference: np.ndarray) -> Preset:
    controls = {"smile": lambda a: smile(reference, a), "wink": lambda a: eyelid(reference, "left", a)}
    segments = [
        Segment(6, {"smile": (0, WINK_SMILE)}, frame_ms=67),
        Segment(LID_CLOSE_FRAMES, {"wink": (0, 1)}, hold_ms=200),
        Segment(5, {"wink": (1, 0)}, hold_ms=150),
        Segment(6, {"smile": (WINK_SMILE, 0)}, frame_ms=67),
    ]
    offsets, durations = bake(reference, controls, segments, hold_still_ms=500, end_ms=100)
    return Preset(
        "wink",
        "Smiles, then winks with the left eye (the person's own left) and smiles back.",
        offsets,
        durations,
        reference.astype(np.float32),
        source="authored: pipeline.authoring",
    )


AUTHORED: dict[str, Callable[[np.ndarray], Preset]] = {"wink": wink_preset}
