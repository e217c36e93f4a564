"""Stage 6b, eyes and mouth: what a warp alone cannot show.

A warp only moves pixels that exist. A closing eye gets a smoothed lid and a soft lash line where the
lids meet, so it reads as a shut lid rather than a squeezed eye. Lips parting over a closed mouth
uncover a mouth interior and upper teeth the photo never had, so they are drawn here, shaded and
tinted to the face's own light.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline import topology as t
from pipeline.decode import Still
from pipeline.easing import smoothstep
from pipeline.motion import FaceMotion
from pipeline.warp import Patch

#: Below this closure an eye is left to the warp alone.
LASH_FROM = 0.25


def _curve(points: np.ndarray, samples: int = 32) -> np.ndarray:
    """A smooth curve through polyline points (Catmull-Rom), for lids that should not look faceted."""
    padded = np.vstack([points[:1], points, points[-1:]])
    out = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1], padded[i], padded[i + 1], padded[i + 2]
        for u in np.linspace(0, 1, max(2, samples // (len(points) - 1)), endpoint=False):
            out.append(0.5 * (2 * p1 + (-p0 + p2) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u * u
                              + (-p0 + 3 * p1 - 3 * p2 + p3) * u**3))
    out.append(points[-1])
    return np.asarray(out)


def _soft_polyline(shape: tuple[int, int], curve: np.ndarray, thickness: float) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    pts = np.round(curve * 16).astype(np.int32)
    cv2.polylines(mask, [pts], False, 255, max(1, round(thickness)), cv2.LINE_AA, 4)
    return cv2.GaussianBlur(mask, (0, 0), max(0.6, thickness * 0.35)).astype(np.float32) / 255.0


def _lash_colour(still_rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Colour of the line where shut lids meet: the darker pixels along the open eye's upper lid margin,
    darkened further, since the lashes of both lids and the shadow between them gather there."""
    height, width = still_rgb.shape[:2]
    xs = np.clip(np.round(points[:, 0]).astype(int), 0, width - 1)
    samples = [still_rgb[np.clip(np.round(points[:, 1]).astype(int) + dy, 0, height - 1), xs] for dy in (-2, -1, 0)]
    pixels = np.vstack(samples).astype(np.float32)
    darkest = pixels[np.argsort(pixels.sum(axis=1))[: max(1, len(pixels) // 4)]]
    return np.minimum(darkest.mean(axis=0) * 0.55, 60.0)


def _close_eye(rgb: np.ndarray, still_rgb: np.ndarray, motion: FaceMotion, frame: int, eye: int,
               origin: np.ndarray) -> None:
    closure = float(motion.eye_closure[frame, eye])
    strength = float(smoothstep((closure - LASH_FROM) / (1 - LASH_FROM)))
    if strength <= 0:
        return
    _, upper, lower, corners, _, _ = t.EYES[eye]
    iod = motion.pose.scale
    lid = motion.frames[frame][[corners[0], *upper, corners[1]]] - origin
    curve = _curve(lid)
    gap = float(np.mean(motion.still[list(lower), 1] - motion.still[list(upper), 1]))
    lift = np.array([0.0, max(gap, 0.0) + 0.04 * iod])
    # Work on a small window around the eye only.
    pad = int(0.12 * iod) + 4
    x0 = max(0, int(curve[:, 0].min()) - pad)
    y0 = max(0, int((curve[:, 1] - lift[1]).min()) - pad)
    x1 = min(rgb.shape[1], int(curve[:, 0].max()) + pad)
    y1 = min(rgb.shape[0], int(curve[:, 1].max() + 0.05 * iod) + pad)
    if x1 <= x0 or y1 <= y0:
        return
    window = rgb[y0:y1, x0:x1]
    curve = curve - [x0, y0]
    height, width = window.shape[:2]
    # The lid: soften the stretched skin above the lid line, so no crease or iris streak shows.
    below = np.array([0.0, 0.05 * iod])
    band = np.vstack([curve + below, (curve - lift)[::-1]])
    band_mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(band_mask, [np.round(band * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    band_alpha = cv2.GaussianBlur(band_mask, (0, 0), 0.03 * iod + 0.5).astype(np.float32) / 255.0
    smooth = cv2.GaussianBlur(window, (0, 0), 0.012 * iod + 0.5)
    alpha = (band_alpha * 0.8 * strength)[..., None]
    blended = window * (1 - alpha) + smooth * alpha
    # A shut lid shows the skin that the open eye's fold hid: as light as the skin under the brow, never
    # the darker shadow, liner or lashes that the stretch drags down. Shift the band's colour to it.
    band_top = int(max(0, (curve[:, 1] - lift[1]).min()))
    ref_rows = slice(max(0, band_top - int(0.08 * iod) - 1), band_top + 1)
    ref_cols = slice(int(max(0, curve[:, 0].min())), int(curve[:, 0].max()) + 1)
    reference = window[ref_rows, ref_cols].reshape(-1, 3)
    core = band_alpha > 0.5
    if len(reference) and core.any():
        shift = np.median(reference, axis=0) - blended[core].mean(axis=0)
        blended = blended + (band_alpha * 0.8 * np.sqrt(strength))[..., None] * np.maximum(shift, 0)
    # Under the lash line a shut eye shows smooth lower-lid skin, not the open eye's bright rim: mirror
    # the skin from further down into the band just under the line.
    depth = 0.06 * iod
    xs = np.arange(width, dtype=np.float32)
    line_y = _line_y(curve, xs).astype(np.float32)
    ys = np.arange(height, dtype=np.float32)[:, None]
    under = ys - line_y[None, :]
    inside = (under > 0) & (under < depth)
    map_y = np.where(inside, 2 * (line_y[None, :] + depth) - ys, ys).astype(np.float32)
    map_x = np.broadcast_to(xs, (height, width)).astype(np.float32)
    mirrored = cv2.remap(blended.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    span = np.clip((xs - curve[:, 0].min()) / max(float(np.ptp(curve[:, 0])), 1e-3), 0, 1)
    cover = (inside * np.clip(np.sin(np.pi * span) * 1.4, 0, 1)[None, :] * strength).astype(np.float32)
    cover = cv2.GaussianBlur(cover, (0, 0), 1.0)[..., None]
    blended = blended * (1 - cover) + mirrored * cover
    # The lash line where the lids meet: darkest in the middle, fading to the corners.
    line = _soft_polyline((height, width), curve, 0.015 * iod + 1.0)
    left, right = sorted((curve[0, 0], curve[-1, 0]))
    fade = np.clip(np.sin(np.pi * np.clip((xs - left) / max(right - left, 1e-3), 0, 1)) * 1.6, 0, 1)
    darkness = (line * fade[None, :] * 0.92 * strength)[..., None]
    lash = _lash_colour(still_rgb, motion.still[list(upper)])
    window[:] = np.clip(blended * (1 - darkness) + lash * darkness, 0, 255).astype(np.uint8)


def paint(still: Still, patch: Patch, motions: list[FaceMotion], frame: int) -> Patch:
    """The patch with closing eyes drawn as shut lids and parting lips showing teeth."""
    rgb = patch.rgb.copy()
    origin = np.array([patch.box.x0, patch.box.y0], np.float64)
    for motion in motions:
        for eye in range(len(t.EYES)):
            _close_eye(rgb, still.rgb, motion, frame, eye, origin)
        _open_mouth(rgb, still.rgb, motion, frame, origin)
    return Patch(patch.box, rgb, patch.alpha)


#: A mouth whose lips are already this far apart (inner gap over mouth width) shows its own teeth.
OPEN_MOUTH = 0.06
#: Widths of the upper teeth from the middle outwards (central incisor first), in IOD units.
TOOTH_WIDTHS = (0.085, 0.068, 0.062, 0.058, 0.056)


def _line_y(points: np.ndarray, xs: np.ndarray) -> np.ndarray:
    order = np.argsort(points[:, 0])
    return np.interp(xs, points[order, 0], points[order, 1])


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
    cv2.fillPoly(mask, [np.round(polygon * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
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
    top, bottom = _line_y(upper, xs)[None, :], _line_y(lower, xs)[None, :]
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
    # Towards the corners the teeth turn away from the light into the mouth's shadow.
    lit = np.clip(across * 1.3, 0, 1) ** 2
    teeth = teeth * lit[..., None] + interior * (1 - lit[..., None])
    soft_edge = np.clip((1.0 - depth) * max(tooth_h.max(), 1) / 1.5, 0, 1)[..., None]
    mouth = interior * (1 - soft_edge * in_teeth[..., None]) + teeth * (soft_edge * in_teeth[..., None])
    # The photo's grain, so the synthesised part is not smoother than its surroundings.
    grain = np.random.default_rng(frame).normal(0, 2.0, mouth.shape[:2]).astype(np.float32)[..., None]
    mouth = mouth + grain
    window[:] = np.clip(window * (1 - alpha) + mouth * alpha, 0, 255).astype(np.uint8)
