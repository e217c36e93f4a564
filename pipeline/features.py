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
from pipeline.motion import FaceMotion
from pipeline.warp import Patch

#: Below this closure an eye is left to the warp alone.
LASH_FROM = 0.25


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


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


def _close_eye(rgb: np.ndarray, motion: FaceMotion, frame: int, eye: int, origin: np.ndarray) -> None:
    closure = float(motion.eye_closure[frame, eye])
    strength = _smoothstep((closure - LASH_FROM) / (1 - LASH_FROM))
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
    # Under the lash line a shut eye shows smooth lower-lid skin, not the open eye's bright rim: mirror
    # the skin from further down into the band just under the line.
    depth = 0.06 * iod
    xs_all = np.arange(width, dtype=np.float32)
    order = np.argsort(curve[:, 0])
    line_y = np.interp(xs_all, curve[order, 0], curve[order, 1]).astype(np.float32)
    ys_all = np.arange(height, dtype=np.float32)[:, None]
    under = ys_all - line_y[None, :]
    inside = (under > 0) & (under < depth)
    map_y = np.where(inside, 2 * (line_y[None, :] + depth) - ys_all, ys_all).astype(np.float32)
    map_x = np.broadcast_to(xs_all, (height, width)).astype(np.float32)
    mirrored = cv2.remap(blended.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    span = np.clip((xs_all - curve[:, 0].min()) / max(float(np.ptp(curve[:, 0])), 1e-3), 0, 1)
    cover = (inside * np.clip(np.sin(np.pi * span) * 1.4, 0, 1)[None, :] * strength).astype(np.float32)
    cover = cv2.GaussianBlur(cover, (0, 0), 1.0)[..., None]
    blended = blended * (1 - cover) + mirrored * cover
    # The lash line where the lids meet: darkest in the middle, fading to the corners.
    line = _soft_polyline((height, width), curve, 0.015 * iod + 1.0)
    left, right = sorted((curve[0, 0], curve[-1, 0]))
    xs = np.arange(width, dtype=np.float32)
    fade = np.clip(np.sin(np.pi * np.clip((xs - left) / max(right - left, 1e-3), 0, 1)) * 1.6, 0, 1)
    darkness = (line * fade[None, :] * 0.92 * strength)[..., None]
    lash = np.array([22, 16, 14], np.float32)
    window[:] = np.clip(blended * (1 - darkness) + lash * darkness, 0, 255).astype(np.uint8)


def paint(still: Still, patch: Patch, motions: list[FaceMotion], frame: int) -> Patch:
    """The patch with closing eyes drawn as shut lids (and, later, parted lips as teeth)."""
    rgb = patch.rgb.copy()
    origin = np.array([patch.box.x0, patch.box.y0], np.float64)
    for motion in motions:
        for eye in range(len(t.EYES)):
            _close_eye(rgb, motion, frame, eye, origin)
    return Patch(patch.box, rgb, patch.alpha)
