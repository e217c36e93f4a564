"""Stage 6b, eyes and mouth: what a warp alone cannot show.

A warp only moves pixels that exist. A closing eye gets a lid painted in the light of the skin around
it and a lash line where the lids meet, so it reads as a shut lid rather than as lashes smeared over a
squeezed eye. Lips parting over a closed mouth
uncover a mouth interior and upper teeth the photo never had, so they are drawn here, shaded and
tinted to the face's own light.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline import topology as t
from pipeline.easing import smoothstep
from pipeline.motion import FaceMotion
from pipeline.types import Patch, Still

#: Closure by which the lid is fully painted over the part of the eye it covers (it fades in before).
LID_FROM = 0.3
#: How far above the open eye's upper lid a shut lid is painted (IOD units): over a hooded eye's fold.
LID_TOP = 0.04
#: How far under the open eye's lower lid margin its bright rim reaches (IOD units), painted over too.
RIM_DEPTH = 0.035
#: How far past the eye corners the lid is painted, fading out (IOD units): the lashes converge there.
CORNER_REACH = 0.08


def _curve(points: np.ndarray, samples: int = 32) -> np.ndarray:
    """A smooth curve through polyline points (Catmull-Rom), for lids that should not look faceted."""
    padded = np.vstack([points[:1], points, points[-1:]])
    p0, p1, p2, p3 = padded[:-3], padded[1:-2], padded[2:-1], padded[3:]  # one row per segment
    u = np.linspace(0, 1, max(2, samples // (len(points) - 1)), endpoint=False)[None, :, None]
    p0, p1, p2, p3 = (p[:, None, :] for p in (p0, p1, p2, p3))
    out = 0.5 * (2 * p1 + (-p0 + p2) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u**2 + (-p0 + 3 * p1 - 3 * p2 + p3) * u**3)
    return np.vstack([out.reshape(-1, points.shape[1]), points[-1:]])


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


def _push_pull(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """A smooth field through the known pixels (known 1) across the rest, coarse levels filling the gaps.

    Where even the coarsest level knows nothing (skin known only at one end of a wide window), the mean
    of the known pixels stands in (at least one pixel must be known).
    """
    levels = []
    weighted, weight = values * known[..., None], known
    while min(weight.shape) > 2:
        levels.append((weighted, weight))
        weighted, weight = cv2.pyrDown(weighted), cv2.pyrDown(weight)
    mean = values[known > 0.5].mean(axis=0)
    field = np.where((weight > 1e-6)[..., None], weighted / np.maximum(weight, 1e-6)[..., None], mean)
    for weighted, weight in reversed(levels):
        coarse = cv2.pyrUp(field, dstsize=(weight.shape[1], weight.shape[0]))
        share = np.clip(weight, 0, 1)[..., None]
        field = weighted / np.maximum(weight, 1e-6)[..., None] * share + coarse * (1 - share)
    return field


_NEIGHBOURS = np.array([[0, 0.25, 0], [0.25, 0, 0.25], [0, 0.25, 0]], np.float32)


def _membrane(values: np.ndarray, known: np.ndarray, sweeps: int = 40) -> np.ndarray:
    """Fill the pixels where `known` (a boolean mask) is False so they meet the known ones without a seam.

    Push-pull gives the coarse field; Jacobi sweeps then smooth it where it meets the known pixels (the
    few pixels next to them; deeper inside, the field stays push-pull's).
    """
    field = _push_pull(values, known.astype(np.float32))
    fixed = known.astype(np.uint8)
    for _ in range(sweeps):
        field = cv2.filter2D(field, -1, _NEIGHBOURS, borderType=cv2.BORDER_REPLICATE)
        field = cv2.copyTo(values, fixed, field)
    return field


def _close_eye(
    rgb: np.ndarray, still_rgb: np.ndarray, motion: FaceMotion, frame: int, eye: int, origin: np.ndarray
) -> None:
    """Cover a closing eye with its upper lid: skin from the fold down to a lash line where the lids meet.

    The warp slides the lid margin down, but the lid skin a photo shows is a thin strip (none at all on
    a hooded eye), and stretching it over the eye smears the lashes and liner into dark streaks. So the
    part of the eye the lid now covers is painted as skin. Its colour is the frame's own skin around it,
    carried smoothly inwards (a membrane fill), so the lid has no edge: it darkens into the shadow of a
    deep socket and lightens towards the cheek as the skin around it does. On that, a little shade where
    the lid curves under, the fine texture of the skin under the eye (fixed to the face, so it does not
    flicker from frame to frame), and a lash line where the lids meet.
    """
    closure = float(motion.eye_closure[frame, eye])
    strength = float(smoothstep(closure / LID_FROM))  # of the lid and of its lashes, dark from the start
    if strength < 0.01:  # a lower lid rising in a smile, not a closing eye: nothing to draw
        return
    _, upper, lower, corners, brow, _ = t.EYES[eye]
    iod = motion.pose.scale
    line = _curve(motion.frames[frame][[corners[0], *upper, corners[1]]] - origin).astype(np.float32)
    fold = _curve(motion.still[[corners[0], *upper, corners[1]]] - origin).astype(np.float32)
    rim = _curve(motion.still[[corners[0], *lower, corners[1]]] - origin).astype(np.float32)
    brow_edge = (motion.still[list(brow[5:])] - origin).astype(np.float32)
    # A window with room for the skin around the lid that the fill starts from.
    pad_x, pad_y = int((CORNER_REACH + 0.04) * iod) + 3, int(0.06 * iod) + 3
    x0 = max(0, int(line[:, 0].min()) - pad_x)
    x1 = min(rgb.shape[1], int(line[:, 0].max()) + pad_x + 1)
    y0 = max(0, int(min(fold[:, 1].min() - LID_TOP * iod, line[:, 1].min())) - pad_y)
    y1 = min(rgb.shape[0], int(max(line[:, 1].max(), rim[:, 1].max()) + RIM_DEPTH * iod) + pad_y + 1)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return
    window = rgb[y0:y1, x0:x1].astype(np.float32)
    height, width = window.shape[:2]
    xs = np.arange(width, dtype=np.float32)
    ys = np.arange(height, dtype=np.float32)[:, None]
    line_y = _line_y(line - [x0, y0], xs).astype(np.float32)
    rim_line = _line_y(rim - [x0, y0], xs).astype(np.float32)
    # The lid's top: a little above the open eye's fold (its shadow goes under the lid), never the brow.
    fold_y = _line_y(fold - [x0, y0], xs)
    top_y = np.maximum(fold_y - LID_TOP * iod, _line_y(brow_edge - [x0, y0], xs) + 0.03 * iod)
    top_y = np.minimum(top_y, line_y - 1.0).astype(np.float32)
    # Where: between the fold and just under the rim, over the eye corners and a little past them,
    # where the stretched lashes of both lids converge.
    soft = max(1.0, 0.02 * iod)
    fade_in = np.clip((ys - top_y[None, :]) / soft, 0, 1)
    # Below the lash line only the rim, once the lids meet (pressed together): the eyeball stays visible
    # under a lid that is still on its way.
    meeting = np.clip(1 - (rim_line - line_y) / (0.02 * iod), 0, 1)
    bottom = line_y + RIM_DEPTH * iod * meeting
    fade_out = np.clip((bottom[None, :] - ys) / soft, 0, 1)
    left, right = line[:, 0].min() - x0, line[:, 0].max() - x0
    across = np.clip((xs - left) / max(right - left, 1e-3), 0, 1)[None, :]
    reach = CORNER_REACH * iod
    ends = np.clip(np.minimum(xs - (left - reach), (right + reach) - xs) / reach, 0, 1)[None, :]
    region = fade_in * fade_out * ends
    # The skin the fill starts from: above the lid, beyond the corners and, once the lids meet, under
    # the rim (before that, what lies under the lid margin is eyeball).
    known = (ys < top_y[None, :]) | (ends <= 0) | ((ys > bottom[None, :] + soft) & (meeting[None, :] > 0.5))
    if not known.any():  # an eye cut by the edges of the picture (or of the patch): no skin around it
        return
    skin = _membrane(window, known)
    depth = np.clip((ys - top_y[None, :]) / np.maximum(line_y - top_y, 1.0)[None, :], 0, 1)
    curl = 1.0 - 0.06 * depth**4  # the lid curves under towards the lashes
    eye_height = float(np.max(rim_line - fold_y)) + LID_TOP * iod  # of the still's eye, so the same every frame
    texture = _skin_texture(still_rgb, origin, (x0, y0, x1, y1), eye_height, iod)
    lid = skin * curl[..., None] + texture
    cover = (region * strength)[..., None]
    out = window * (1 - cover) + lid * cover
    # The lash line where the lids meet: darkest in the middle, fading to the corners.
    lash_mask = _soft_polyline((height, width), line - [x0, y0], 0.012 * iod + 0.8)
    fade = np.clip(np.sin(np.pi * across) * 1.6, 0, 1)
    darkness = (lash_mask * fade * 0.9 * strength)[..., None]
    lash = _lash_colour(still_rgb, motion.still[list(upper)])
    out = out * (1 - darkness) + lash * darkness
    rgb[y0:y1, x0:x1] = np.clip(out, 0, 255).astype(np.uint8)


def _skin_texture(
    still_rgb: np.ndarray, origin: np.ndarray, window: tuple[int, int, int, int], eye_height: float, iod: float
) -> np.ndarray:
    """The fine detail of the still's skin just under the eye (its local mean taken off), for a window over
    the eye: pores and fine lines for the painted lid, the same in every frame."""
    x0, y0, x1, y1 = (int(v) for v in window)
    drop = int(round(eye_height + 0.06 * iod))
    top, left = y0 + int(origin[1]) + drop, x0 + int(origin[0])
    source = still_rgb[top : top + (y1 - y0), left : left + (x1 - x0)].astype(np.float32)
    if source.shape[:2] != (y1 - y0, x1 - x0):
        return np.zeros((y1 - y0, x1 - x0, 3), np.float32)  # the face runs off the picture: no texture
    return (source - cv2.GaussianBlur(source, (0, 0), max(1.0, 0.02 * iod))) * 0.5


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
