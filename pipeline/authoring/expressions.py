"""The preset library beyond the default `wink`, authored with the controls of pipeline.authoring.

Eyes are the person's own: `wink-left` closes the person's left eye (on the image's right in a frontal
photo), like the default `wink`. The controls added here (brows, mouth opening, nod) follow the same
rule as those of pipeline.authoring: one number in, per-landmark canonical offsets (IOD units) out.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pipeline import topology as t
from pipeline.authoring.controls import LID_CLOSE_FRAMES, Offsets, Segment, bake, eyelid, smile
from pipeline.authoring.curves import bump, interp_line
from pipeline.presets import Preset

SOURCE = "authored: pipeline.expressions"
#: Brow raise at amount 1 (IOD units); a drop uses a negative amount.
BROW_LIFT = 0.075
#: Jaw drop of the lower lip at amount 1 (IOD units).
JAW_DROP = 0.11
#: Nod angle at amount 1 (radians, about 3 degrees): chin down, about a pivot near the neck.
NOD_RADIANS = 0.045
NOD_PIVOT = np.array([0.0, 2.3, 0.9])  # canonical: below the chin, behind the face


def brows(reference: np.ndarray, amount: float) -> Offsets:
    """Raise (amount > 0) or lower (< 0) both brows; the forehead above and the lid skin below follow less.

    The eyelids themselves stay put, so the eyes keep their openness.
    """
    out = np.zeros_like(reference)
    if amount == 0:
        return out
    x, y = reference[:, 0], reference[:, 1]
    for _, upper, _, corners, brow, _ in t.EYES:
        xs = reference[list(corners), 0]
        centre_x, half = xs.mean(), 0.5 * (xs.max() - xs.min())
        across = np.clip(1 - np.abs(x - centre_x) / (half * 1.9), 0, 1) ** 0.7
        brow_y = interp_line(reference, brow[:5], x)  # upper edge
        lid_y = interp_line(reference, (corners[0], *upper, corners[1]), x)
        # Full lift on the brow, fading to zero at the lid margin and, upwards, over most of the forehead.
        below = np.clip((lid_y - y) / np.maximum(lid_y - brow_y, 1e-6), 0, 1) ** 1.5
        above = np.clip(1 - (brow_y - y) / 0.55, 0, 1)
        weight = np.where(y > brow_y, below, above) * across
        weight[list(upper)] = 0
        weight[list(corners)] = 0
        out[:, 1] = (
            np.minimum(out[:, 1], -BROW_LIFT * amount * weight)
            if amount > 0
            else np.maximum(out[:, 1], -BROW_LIFT * amount * weight)
        )
        if amount < 0:  # a frown draws the brows a little towards each other
            out[:, 0] += np.sign(centre_x) * BROW_LIFT * 0.3 * amount * weight * (y <= brow_y + 0.1)
    out[t.LEFT_IRIS + t.RIGHT_IRIS, :] = 0
    return out


def mouth_open(reference: np.ndarray, amount: float) -> Offsets:
    """The jaw drops: the lower lip and chin come down, the corners widen a touch; the upper lip stays."""
    out = np.zeros_like(reference)
    if amount == 0:
        return out
    x, y = reference[:, 0], reference[:, 1]
    left, right = reference[t.MOUTH_RIGHT_CORNER, 0], reference[t.MOUTH_LEFT_CORNER, 0]
    centre_x, half = (left + right) / 2, (right - left) / 2
    mouth_y = interp_line(reference, t.INNER_UPPER_LIP, x)
    chin_y = reference[t.CHIN, 1]
    jaw = y > mouth_y + 1e-4
    jaw[list(t.INNER_UPPER_LIP)] = False
    jaw[list(t.INNER_LOWER_LIP)] = True
    jaw[[t.MOUTH_RIGHT_CORNER, t.MOUTH_LEFT_CORNER]] = False
    # The jaw hinges: full drop in the middle of the chin, less towards the cheeks.
    across = np.clip(1 - ((x - centre_x) / (half * 2.2)) ** 2, 0, 1)
    depth = np.clip((y - mouth_y) / np.maximum(chin_y - mouth_y, 1e-6), 0, 1)
    out[jaw, 1] = JAW_DROP * amount * across[jaw] * (0.8 + 0.2 * depth[jaw])
    for corner, sign in ((t.MOUTH_RIGHT_CORNER, -1.0), (t.MOUTH_LEFT_CORNER, 1.0)):
        weight = bump(reference, reference[corner], 0.35)
        out[:, 0] += sign * 0.03 * amount * weight
        out[:, 1] += 0.5 * JAW_DROP * amount * weight * jaw
    out[t.LEFT_IRIS + t.RIGHT_IRIS, :] = 0
    return out


def nod(reference: np.ndarray, amount: float) -> Offsets:
    """The whole face turns chin-down about a pivot at the neck (a rigid rotation of the landmarks).

    The warp's fixed anchor ring around the face outline absorbs the motion, so there is no seam.
    """
    angle = NOD_RADIANS * amount
    cos, sin = np.cos(angle), np.sin(angle)
    rel = reference - NOD_PIVOT
    turned = rel.copy()
    # The face lies above the pivot and in front of it (z < 0): a positive angle moves it down, the forehead
    # towards the camera.
    turned[:, 1] = rel[:, 1] * cos - rel[:, 2] * sin
    turned[:, 2] = rel[:, 1] * sin + rel[:, 2] * cos
    return turned - rel


def _preset(
    name: str,
    description: str,
    reference: np.ndarray,
    controls: dict[str, Callable[[float], Offsets]],
    segments: list[Segment],
    hold_still_ms: int = 400,
    end_ms: int = 100,
) -> Preset:
    offsets, durations = bake(reference, controls, segments, hold_still_ms=hold_still_ms, end_ms=end_ms)
    return Preset(name, description, offsets, durations, reference.astype(np.float32), source=SOURCE)


def _wink(side: str):
    def build(reference: np.ndarray) -> Preset:
        controls = {"wink": lambda a: eyelid(reference, side, a)}
        segments = [Segment(LID_CLOSE_FRAMES, {"wink": (0, 1)}, hold_ms=200), Segment(6, {"wink": (1, 0)})]
        return _preset(
            f"wink-{side}",
            f"Winks with the {side} eye (the person's own {side}) and opens it again.",
            reference,
            controls,
            segments,
            hold_still_ms=700,
            end_ms=500,
        )

    return build


def blink_preset(reference: np.ndarray) -> Preset:
    controls = {"blink": lambda a: eyelid(reference, "left", a) + eyelid(reference, "right", a)}
    # Shut 150 ms (the shortest hold), then open over 200 ms, twice as long as the lids took to close.
    segments = [Segment(LID_CLOSE_FRAMES, {"blink": (0, 1)}, hold_ms=150), Segment(4, {"blink": (1, 0)})]
    return _preset("blink", "Blinks with both eyes.", reference, controls, segments, hold_still_ms=1000, end_ms=650)


def smile_preset(reference: np.ndarray) -> Preset:
    controls = {"smile": lambda a: smile(reference, a)}
    segments = [Segment(8, {"smile": (0, 1)}, hold_ms=600, frame_ms=67), Segment(8, {"smile": (1, 0)}, frame_ms=67)]
    return _preset("smile", "Smiles, holds the smile, and relaxes again.", reference, controls, segments)


#: The eyebrows preset's raise and frown (brows() amounts), short of a full raise: raised that far,
#: dlib reads some faces' eyes as partly shut, though their pixels do not change.
EYEBROWS_RAISE, EYEBROWS_FROWN = 0.73, -0.45


def eyebrows_preset(reference: np.ndarray) -> Preset:
    controls = {"brows": lambda a: brows(reference, a)}
    segments = [
        Segment(6, {"brows": (0, EYEBROWS_RAISE)}, hold_ms=300),
        Segment(8, {"brows": (EYEBROWS_RAISE, EYEBROWS_FROWN)}, hold_ms=300),
        Segment(5, {"brows": (EYEBROWS_FROWN, 0)}),
    ]
    return _preset(
        "eyebrows",
        "Raises both eyebrows, then draws them down into a frown, and relaxes.",
        reference,
        controls,
        segments,
    )


def surprise_preset(reference: np.ndarray) -> Preset:
    controls = {"brows": lambda a: brows(reference, a), "mouth": lambda a: mouth_open(reference, a)}
    segments = [
        Segment(6, {"brows": (0, 1), "mouth": (0, 1)}, hold_ms=500),
        Segment(8, {"brows": (1, 0), "mouth": (1, 0)}, frame_ms=67),
    ]
    return _preset(
        "surprise",
        "Looks surprised: eyebrows up, the mouth opens a little, then relaxes.",
        reference,
        controls,
        segments,
    )


def nod_preset(reference: np.ndarray) -> Preset:
    controls = {"nod": lambda a: nod(reference, a)}
    segments = [
        Segment(16, {"nod": (0, 1)}, hold_ms=100, frame_ms=45),
        Segment(18, {"nod": (1, 0)}, frame_ms=45),
    ]
    return _preset(
        "nod",
        "Nods once: the head tips down a little and comes back up.",
        reference,
        controls,
        segments,
        hold_still_ms=300,
        end_ms=300,
    )


PRESETS: dict[str, Callable[[np.ndarray], Preset]] = {
    "wink-left": _wink("left"),
    "wink-right": _wink("right"),
    "blink": blink_preset,
    "smile": smile_preset,
    "eyebrows": eyebrows_preset,
    "surprise": surprise_preset,
    "nod": nod_preset,
}
