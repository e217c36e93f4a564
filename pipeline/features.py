"""Stage 6b, eyes and mouth: what a warp alone cannot show.

A warp only moves pixels that exist. A closing eye gets its lid painted over it (lids.py), so it reads
as a shut lid rather than as lashes smeared over a squeezed eye. Lips parting over a closed mouth
uncover a mouth interior and upper teeth the photo never had, so they are drawn here, shaded and
tinted to the face's own light.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline import lids
from pipeline import topology as t
from pipeline.easing import polyline_y, smoothstep
from pipeline.motion import FaceMotion
from pipeline.types import Patch, Still


def paint(still: Still, patch: Patch, motions: list[FaceMotion], frame: int) -> Patch:
    """The patch with closing eyes drawn as shut lids and parting lips showing teeth."""
    rgb = patch.rgb.copy()
    origin = np.array([patch.box.x0, patch.box.y0], np.float64)
    for motion in motions:
        for eye in range(len(t.EYES)):
            lids.close_eye(rgb, still.rgb, motion, frame, eye, origin)
        _open_mouth(rgb, still.rgb, motion, frame, origin)
    return Patch(patch.box, rgb, patch.alpha)


#: A mouth whose lips are already this far apart (inner gap over mouth width) shows its own teeth.
OPEN_MOUTH = 0.06
#: How far lips must part (the frame's widest inner gap, IOD units) before teeth begin to show, and
#: by how far they show fully: in a barely parted mouth the teeth sit back in the mouth's shadow, and a
#: light line there reads as a gap, not as teeth. A closed mouth's lips, parting in `wink`, stay in
#: between: its teeth show dimly in the mouth's shadow.
TEETH_FROM, TEETH_FULL = 0.03, 0.12
#: Widths of the upper teeth from the middle outwards (central incisor first), in IOD units.
TOOTH_WIDTHS = (0.085, 0.068, 0.062, 0.058, 0.056)


def _open_mouth(rgb: np.ndarray, still_rgb: np.ndarray, motion: FaceMotion, frame: int, origin: np.ndarray) -> None:
    """Draw a mouth interior and upper teeth into the gap of lips that part over a closed mouth."""
    iod = motion.pose.scale
    still_up, still_low = motion.still[list(t.INNER_UPPER_LIP)], motion.still[list(t.INNER_LOWER_LIP)]
    width_px = float(np.linalg.norm(motion.still[t.MOUTH_LEFT_CORNER] - motion.still[t.MOUTH_RIGHT_CORNER]))
    if float(np.mean(still_low[:, 1] - still_up[:, 1])) > OPEN_MOUTH * width_px:
        return  # the photo's own teeth and mouth are there to be moved by the warp
    upper = motion.frames[frame][list(t.INNER_UPPER_LIP)] - origin
    lower = motion.frames[frame][list(t.INNER_LOWER_LIP)] - origin
    if float(np.max(lower[:, 1] - upper[:, 1])) < 1.5:
        return
    pad = 3
    x0 = max(0, int(min(upper[:, 0].min(), lower[:, 0].min())) - pad)
    x1 = min(rgb.shape[1], int(max(upper[:, 0].max(), lower[:, 0].max())) + pad + 1)
    y0 = max(0, int(upper[:, 1].min()) - pad)
    y1 = min(rgb.shape[0], int(lower[:, 1].max()) + pad + 1)
    if x1 - x0 < 4 or y1 - y0 < 2:
        return
    window = rgb[y0:y1, x0:x1]
    height, width = window.shape[:2]
    upper, lower = upper - [x0, y0], lower - [x0, y0]
    # Where the mouth is open in this frame: the polygon between the inner lip lines.
    mask = np.zeros((height, width), np.uint8)
    polygon = np.vstack([upper, lower[::-1]])
    cv2.fillPoly(mask, [np.round(polygon * 16).astype(np.int32)], (255,), cv2.LINE_AA, 4)
    alpha = cv2.GaussianBlur(mask, (0, 0), 0.6).astype(np.float32)[..., None] / 255.0
    if not alpha.any():
        return
    # The face's light: mean colour of the lips' surroundings in the still, relative to a mid skin tone.
    ox, oy = int(origin[0]), int(origin[1])
    around = still_rgb[max(0, oy + y0 - pad * 4) : oy + y1 + pad * 4, max(0, ox + x0) : ox + x1].reshape(-1, 3)
    skin = around.mean(axis=0) if len(around) else np.array([180.0, 140.0, 120.0])
    light = float(np.clip(skin.mean() / 150.0, 0.35, 1.25))
    xs = np.arange(width, dtype=np.float32)
    ys = np.arange(height, dtype=np.float32)[:, None]
    top, bottom = polyline_y(upper, xs)[None, :], polyline_y(lower, xs)[None, :]
    left, right = upper[:, 0].min(), upper[:, 0].max()
    # The teeth's midline is under the middle of the upper lip, not halfway between the corners: on a
    # turned face the far half of the mouth is foreshortened, and so are its teeth.
    centre = float(np.clip(upper[len(upper) // 2, 0], left + 1, right - 1))
    half_left, half_right = centre - left, right - centre
    u = np.where(xs < centre, 0.5 * (xs - left) / half_left, 0.5 + 0.5 * (xs - centre) / half_right)
    across = np.clip(np.sin(np.pi * np.clip(u, 0, 1)), 0, 1)[None, :]  # 0 at the corners, 1 in the middle
    # Mouth interior: dark, warm, darker towards the corners and the back.
    interior = np.array([92, 38, 40], np.float32) * light * (0.45 + 0.55 * across)[..., None]
    # Upper teeth: from the upper lip down, most of the gap tall (the lower lip hides the lower teeth,
    # a dark line of mouth shows under the upper ones), tapering to the corners.
    tooth_h = np.minimum(0.85 * (bottom - top), 0.075 * iod) * np.sqrt(across)
    depth = np.clip((ys - top) / np.maximum(tooth_h, 1e-3), 0, 1.5)
    in_teeth = (ys >= top - 1) & (depth < 1.0)
    # In the upper lip's shadow at the top; rounded, so a little darker again at the biting edge.
    shade = (0.7 + 0.3 * np.clip(depth * 2.5, 0, 1)) * (0.92 + 0.08 * np.sin(np.pi * np.clip(depth, 0, 1)))
    tint = 0.85 * np.array([236, 228, 212], np.float32) + 0.15 * skin.astype(np.float32)
    # Each tooth is convex: lightest in its middle, a little darker at its edges, darkest at the gaps.
    edges = np.cumsum(TOOTH_WIDTHS) * iod / (0.5 * (half_left + half_right))
    boundaries = np.concatenate([[centre], centre - edges * half_left, centre + edges * half_right])
    distance = np.min(np.abs(xs[:, None] - boundaries[None, :]), axis=1)[None, :]
    crown = np.clip(distance / (0.5 * TOOTH_WIDTHS[-1] * iod), 0, 1)
    gaps = np.clip(1 - distance / max(0.6, 0.005 * iod), 0, 1) * 0.18
    teeth = tint * light * (shade * (0.9 + 0.1 * crown) * (1 - gaps))[..., None]
    # Towards the corners the teeth turn away from the light into the mouth's shadow, and all of them
    # do in a mouth that is barely open (teeth_showing).
    lit = np.clip(across * 1.3, 0, 1) ** 2 * teeth_showing(float(np.max(lower[:, 1] - upper[:, 1])), iod)
    teeth = teeth * lit[..., None] + interior * (1 - lit[..., None])
    soft_edge = np.clip((1.0 - depth) * max(tooth_h.max(), 1) / 1.5, 0, 1)[..., None]
    mouth = interior * (1 - soft_edge * in_teeth[..., None]) + teeth * (soft_edge * in_teeth[..., None])
    # The photo's grain, so the synthesised part is not smoother than its surroundings.
    grain = np.random.default_rng(frame).normal(0, 2.0, mouth.shape[:2]).astype(np.float32)[..., None]
    mouth = mouth + grain
    window[:] = np.clip(window * (1 - alpha) + mouth * alpha, 0, 255).astype(np.uint8)


def teeth_showing(gap_px: float, iod: float) -> float:
    """How much of the upper teeth's light shows (0 none, 1 all) between lips `gap_px` apart at most."""
    return float(smoothstep((gap_px / max(iod, 1e-6) - TEETH_FROM) / (TEETH_FULL - TEETH_FROM)))
