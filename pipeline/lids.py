"""Stage 6b, the shut lid: what a closing eye shows once its own lid has slid over the eyeball.

The lid is the person's own skin: the still's lid and brow skin, stretched down over the eye and moved
in the gradient domain (that skin plus a smooth field that meets the frame round the lid), its light
at least the tone of the upper lid and brow so a deep socket's shadow does not become a dark disc,
shaded as a convex surface, with a soft crease and a lash line whose lashes point down and out.
features.paint calls `close_eye` per frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline import topology as t
from pipeline.easing import polyline_y, smoothstep
from pipeline.motion import FaceMotion

#: Closure by which the lid is fully painted over the part of the eye it covers (it fades in before).
LID_FROM = 0.3
#: How far above the open eye's upper lid a shut lid is painted (IOD units): over a hooded eye's fold.
#: Where the skin above is lit, it is skin the photo shows: kept low so that covering it does not take a
#: face's identity distance over its bar (see docs/decisions.md).
LID_TOP = 0.04
#: How far above the fold a shut lid reaches where the skin above the fold is a deep-set eye's shadow
#: (IOD units, never nearer the brow than 0.03): that dark is the socket's, and a shut lid comes forward
#: out of it into the light. How dark that skin is, relative to the lid's tone, for the lid to reach
#: that far (first value) and to stay at LID_TOP (second): between the shadowed skin of deep-set eyes and
#: the lit skin of open ones (the fixtures' readings are in docs/decisions.md).
LID_TOP_SHADOW = 0.1
SHADOWED_FOLD = (0.45, 0.7)
#: Over how much of that the lid fades in from the top (IOD units): the skin there is part lid, part fold.
LID_TOP_FADE = 0.02
#: How far under the open eye's lower lid margin its bright rim reaches (IOD units), painted over too.
RIM_DEPTH = 0.06
#: How light the lower lid's margin itself is (its first 0.02 IOD, relative to the cheek) below which a
#: shut lid leaves it bare (first value), and above which it covers RIM_DEPTH of it (second). A margin
#: that is dark (its lashes, with no wet rim showing, as on a small or soft photo) is no rim to cover:
#: covered to RIM_DEPTH, its dark line showed under the lid, and MediaPipe read it as the lower edge of
#: an opening, so a shut eye read as partly open.
DARK_MARGIN = (0.45, 0.55)
#: How far a shut lid's margin reaches under the lower lid's margin at most (IOD units), over its lashes,
#: where the skin under them is as light as the cheek (LASH_SKIN): MediaPipe takes a lower lid margin
#: and lashes left bare under a shut lid for the lower edge of an opening, so they are covered. Where that
#: skin is darker (make-up, a shadowed bag) it is part of the face, and the margin stays at RIM_DEPTH:
#: covering it changes the face enough to take its identity distance over the bar.
RIM_REACH = 0.12
#: From how far down the cover under a shut lid's lash line (a share of its depth) the lower lid's own
#: skin is raised to the lash line, over the margin and its lashes: the lower lid keeps its own grain
#: (under-eye wrinkles carry on to the lash line), and MediaPipe reads the eye more shut than with a
#: smooth patch of mirrored skin there.
RAISED_FROM = 0.5
#: From how far down a shut lid's margin under its lash line (a share of its depth) its shade fades out:
#: the lower lid there faces up into the light. The shade right under the lash line stays: without it,
#: MediaPipe reads a shut lid as more open.
MARGIN_FADE = 0.5
#: How light the skin under the lower lid's lashes is, relative to the cheek, where the margin starts to
#: reach further (first value) and reaches RIM_REACH (second).
LASH_SKIN = (0.75, 0.9)
#: How far past the eye corners the lid is painted, fading out (IOD units): the lashes converge there.
CORNER_REACH = 0.15
#: How light a shut lid's middle is at least, relative to the tone of the upper lid and brow skin: a lid
#: comes forward out of a deep-set eye's shadowed socket into the light (and faces it, so a little lighter
#: than the band's lighter half), and no lighter, as a lighter lid raises the face's identity distance.
LID_LIGHT = 1.1
#: Over what share of a shut lid's height, from its top, that lift into the light comes in: the top of
#: the lid turns up into the fold, under the brow and in its shadow. Lifted right up to its top, a deep-set
#: eye's lid reads as a lit egg cut out of the socket's shadow, with a hard step at its top.
LIGHT_FROM_TOP = 0.5
#: How light a shut lid is at least, relative to the skin under the eye (under a brow in shadow).
UNDER_EYE_SHARE = 0.8
#: How much a shut lid's crease, where the open eye's fold was, darkens the lid.
CREASE_DARKNESS = 0.12
#: How much darker a shut lid turns towards its lash line, away from the light.
EDGE_SHADE = 0.12
#: Scale below which the lid and brow skin's detail is clipped to DETAIL_MAX (IOD units).
DETAIL_SCALE = 0.025
#: Largest level a shut lid's skin detail may add or take (a glint or a stray lash is not skin detail).
DETAIL_MAX = 10.0
#: How far the lid and brow skin a shut lid is made of keeps from the fold and from the brow's hairs (IOD units).
SKIN_GAP = 0.04
#: How light the band of lid and brow skin a shut lid is made of is at least, relative to the lid's tone
#: (a band in a deep-set eye's shadow is raised to it; the lid's middle is lit further, to LID_LIGHT).
BAND_LIGHT = 0.75
#: How many rows of that band are sampled, top to bottom, for its light per column.
BAND_ROWS = 12
#: How far that band may be stretched before its grain gives way to the grain of the skin under the eye.
MAX_STRETCH = 2.5
#: How far under the shut lid's lowest point that skin starts (IOD units).
DETAIL_GAP = 0.05
#: Length of the lashes of a shut lid, over its middle, and their spacing along the lash line (IOD units).
LASH_LENGTH = 0.04
LASH_SPACING = 0.012
#: Thickness of the line where the shut lids meet (IOD units, plus 0.8 px).
LASH_LINE = 0.012
#: How soon the lash line reaches full darkness from the eye corners (a gain on sin(pi * across)).
LASH_FADE = 1.6
#: How dark a lash is at its root (it thins out towards its tip).
LASH_DARKNESS = 0.45


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
    cv2.polylines(mask, [pts], False, (255,), max(1, round(thickness)), cv2.LINE_AA, 4)
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


def close_eye(
    rgb: np.ndarray, still_rgb: np.ndarray, motion: FaceMotion, frame: int, eye: int, origin: np.ndarray
) -> None:
    """Cover a closing eye with its upper lid: the person's own lid skin, shaded, with a crease and lashes.

    The warp slides the lid margin down, but the lid skin a photo shows is a thin strip (none at all on
    a hooded eye), and stretching it over the eye smears the lashes and liner into dark streaks. So the
    part of the eye the lid now covers is drawn, in layers:
    - skin: the still's band of lid and brow skin between the brow and the fold, stretched down over
      the lid column by column (`_lid_skin`): its grain and fine lines, its light along the lid, at least
      the tone of the upper lid and brow skin, so a deep-set eye's shadowed socket does not fill the lid
      with a dark disc. It is the still's, so it stays put from frame to frame. Its top is a little
      above the fold, and higher where the skin there is the socket's shadow (`_lid_top`);
    - seam: a gradient-domain transfer. The lid is that skin plus a membrane fill of how far it is from
      the frame's skin round the lid, so it meets it without an edge; in the lid's middle, lifted to
      LID_LIGHT of the lid skin's tone, since there it comes forward out of the socket's shadow;
    - under the lash line, once the lids meet: the lower lid's own skin, raised over its margin and
      lashes (`_lower_lid_raised`), so the skin under the eye keeps its wrinkles up to the lash line;
    - shape: shaded as a convex lid over the eyeball, lit above its middle and darker towards the lashes,
      with a soft crease where the fold was;
    - a lash line along the lid margin, with lashes that point down and out.
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
    rim_depth = _rim_depth(still_rgb, rim + origin.astype(np.float32), iod)
    brow_edge = (motion.still[list(brow[5:])] - origin).astype(np.float32)
    # Windows with room for the skin around the lid that the fill starts from, and for the lashes.
    pad_x, pad_y = int((CORNER_REACH + 0.04) * iod) + 3, int(max(0.06, LASH_LENGTH) * iod) + 3
    x0 = max(0, int(line[:, 0].min()) - pad_x)
    x1 = min(rgb.shape[1], int(line[:, 0].max()) + pad_x + 1)
    y1 = min(rgb.shape[0], int(max(line[:, 1].max(), rim[:, 1].max()) + rim_depth * iod) + pad_y + 1)
    if x1 - x0 < 8:
        return
    xs = np.arange(x1 - x0, dtype=np.float32)
    # The open eye's lids, fold and brow per column, in patch coordinates (x from x0).
    fold_at, brow_at = polyline_y(fold - [x0, 0], xs), polyline_y(brow_edge - [x0, 0], xs)
    rim_at = polyline_y(rim - [x0, 0], xs)
    # The lid's tone and how far over the fold it comes, read from a window that reaches LID_TOP over it.
    y0 = max(0, int(min(fold[:, 1].min() - LID_TOP * iod, line[:, 1].min())) - pad_y)
    tone_box = (x0, y0, x1, y1)
    tone = _lid_tone(still_rgb, origin, tone_box, fold_at - y0, brow_at - y0, rim_at - y0, iod)
    reach = _lid_top(still_rgb, origin, tone_box, fold_at - y0, brow_at - y0, tone, iod)
    # The window drawn in: room for the skin above the lid that the fill starts from, and the lashes.
    y0 = min(y0, max(0, int(fold[:, 1].min() - reach * iod) - pad_y))
    if y1 - y0 < 8:
        return
    window = rgb[y0:y1, x0:x1].astype(np.float32)
    height, width = window.shape[:2]
    ys = np.arange(height, dtype=np.float32)[:, None]
    line_y = polyline_y(line - [x0, y0], xs).astype(np.float32)
    rim_line = (rim_at - y0).astype(np.float32)
    fold_y, brow_y = fold_at - y0, brow_at - y0
    box = (x0, y0, x1, y1)
    # The lid's top: a little above the open eye's fold (its shadow goes under the lid), never the brow.
    top_y = np.maximum(fold_y - reach * iod, brow_y + 0.03 * iod)
    top_y = np.minimum(top_y, line_y - 1.0).astype(np.float32)
    # Where: between the fold and just under the rim, over the eye corners and a little past them,
    # where the stretched lashes of both lids converge.
    soft = max(1.0, 0.02 * iod)
    fade_in = np.clip((ys - top_y[None, :]) / (LID_TOP_FADE * iod + soft), 0, 1)  # wide at the top: no outline there
    # Below the lash line only the rim, once the lids meet (pressed together): the eyeball stays visible
    # under a lid that is still on its way.
    meeting = np.clip(1 - (rim_line - line_y) / (0.02 * iod), 0, 1)
    bottom = line_y + rim_depth * iod * meeting
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
    depth = np.clip((ys - top_y[None, :]) / np.maximum(line_y - top_y, 1.0)[None, :], 0, 1)
    middle = np.sin(np.pi * across)
    # The lid and brow skin of the still, stretched down over the lid: its grain, its fine lines and its
    # own light. Moved into the lid in the gradient domain: the lid is that skin plus a smooth field
    # (a membrane fill of the difference) that makes it meet the frame's skin round the lid without a seam.
    source = _lid_skin(still_rgb, origin, box, top_y, bottom, fold_y, brow_y, motion.pose.rotation[:2, 1], tone, iod)
    # Under the lash line, over the lower lid's margin and lashes: the lower lid's own skin, raised.
    margin = np.clip((ys - line_y[None, :]) / np.maximum(bottom - line_y, 1.0)[None, :], 0, 1)
    margin = np.where(ys > line_y[None, :], margin, 0).astype(np.float32)
    if float((bottom - line_y).max()) > 1.5:
        source = _lower_lid_raised(window, source, line_y, bottom, soft, iod)
    skin = source + _membrane(window - source, known)
    # In its middle the lid comes forward out of the socket into the light: at least LID_LIGHT of the
    # lid skin's tone there, whatever shadow the seam brought in from round the lid; its top, turning
    # up into the fold under the brow, comes out of that shadow gradually (LIGHT_FROM_TOP).
    # (Measured on the skin's light, not per pixel: the lift must not flatten its grain.)
    missing, towards = _lift(cv2.GaussianBlur(skin, (0, 0), max(1.0, 2 * DETAIL_SCALE * iod)), tone)
    span = np.clip((ys - top_y[None, :]) / np.maximum(bottom - top_y, 1.0)[None, :], 0, 1)
    bulge = np.sqrt(np.clip(np.sin(np.pi * span) * middle, 0, 1)) * smoothstep(span / LIGHT_FROM_TOP)
    skin = skin + (missing * bulge)[..., None] * towards
    # Convex: lit a little above its middle, turning away from the light towards the lashes and corners.
    shading = 1.0 + 0.05 * middle * np.exp(-(((depth - 0.35) / 0.3) ** 2)) - EDGE_SHADE * depth**3 - 0.03 * (1 - middle)
    crease_line = np.stack([xs, fold_y - 0.6 * LID_TOP * iod], axis=1).astype(np.float32)
    crease = _soft_polyline((height, width), crease_line, 0.01 * iod + 1)
    shading = shading * (1 - CREASE_DARKNESS * crease * np.clip(middle * 1.5, 0, 1))
    # The lower lid under the lash line faces up into the light again: its shade fades out to its edge.
    shading = 1 + (shading - 1) * (1 - smoothstep((margin - MARGIN_FADE) / (1 - MARGIN_FADE)))
    lid = skin * shading[..., None]
    cover = (region * strength)[..., None]
    out = window * (1 - cover) + lid * cover
    # The lash line where the lids meet, darkest in the middle and fading to the corners, and the lashes.
    lash_mask = _soft_polyline((height, width), line - [x0, y0], LASH_LINE * iod + 0.8)
    fade = np.clip(middle * LASH_FADE, 0, 1)
    lashes = _lashes((height, width), line - [x0, y0], motion.pose.rotation[:2, 1], eye, iod)
    darkness = (np.maximum(lash_mask * fade * 0.9, lashes * LASH_DARKNESS) * strength)[..., None]
    lash = _lash_colour(still_rgb, motion.still[list(upper)])
    out = out * (1 - darkness) + lash * darkness
    rgb[y0:y1, x0:x1] = np.clip(out, 0, 255).astype(np.uint8)


def _luminance(pixels: np.ndarray) -> np.ndarray:
    return pixels @ np.array([0.299, 0.587, 0.114], np.float32)


def _still_window(origin: np.ndarray, box: tuple[int, int, int, int]) -> tuple[int, int]:
    """Where a patch window's first pixel is in the still (x, y)."""
    return box[0] + int(origin[0]), box[1] + int(origin[1])


def _middle_columns(box: tuple[int, int, int, int]) -> np.ndarray:
    """The middle three fifths of a patch window's columns: the eye's own skin, away from its corners."""
    width = box[2] - box[0]
    return np.arange(width)[width // 5 : width - width // 5]


def _still_pixels(
    still_rgb: np.ndarray, origin: np.ndarray, box: tuple[int, int, int, int], columns: np.ndarray, where: np.ndarray
) -> np.ndarray | None:
    """The still's pixels (float RGB, one per row) where `where` is set: window rows by `columns`; None
    when none of them is in the picture."""
    left, top = _still_window(origin, box)
    where_rows, where_cols = np.nonzero(where)
    ys, xs = where_rows + top, columns[where_cols] + left
    inside = (ys >= 0) & (ys < still_rgb.shape[0]) & (xs >= 0) & (xs < still_rgb.shape[1])
    if not inside.any():
        return None
    return still_rgb[ys[inside], xs[inside]].astype(np.float32)


def _lid_tone(
    still_rgb: np.ndarray,
    origin: np.ndarray,
    box: tuple[int, int, int, int],
    fold_y: np.ndarray,
    brow_y: np.ndarray,
    rim_y: np.ndarray,
    iod: float,
) -> np.ndarray:
    """The colour a shut lid takes: the lighter half of the still's skin between the fold and the brow,
    made at least UNDER_EYE_SHARE as light as the skin under the eye.

    That skin is what the shut lid is; the socket's shadow round an open eye (its crease, lashes, the
    dark of a deep-set eye) is not. A shut lid comes forward out of the socket into the light the cheek
    gets, so under a heavy brow, whose skin is in shadow too, the skin under the eye sets how light it is
    at least. A hooded eye shows no lid skin above its fold: the skin under the eye stands in. NaN when
    neither is in the picture.
    """
    columns = _middle_columns(box)
    rows = np.arange(int(max(fold_y[columns].max(), rim_y[columns].max() + 0.16 * iod)) + 1)[:, None]
    upper = (rows > brow_y[columns][None, :] + 0.02 * iod + 1) & (rows < fold_y[columns][None, :])
    under = (rows >= rim_y[columns][None, :] + 0.08 * iod) & (rows < rim_y[columns][None, :] + 0.16 * iod)

    def lighter_half(where: np.ndarray) -> np.ndarray | None:
        values = _still_pixels(still_rgb, origin, box, columns, where)
        if values is None:
            return None
        light = _luminance(values)
        lighter = values[(light >= np.percentile(light, 50)) & (light <= np.percentile(light, 90))]
        return lighter.mean(axis=0) if len(lighter) else values.mean(axis=0)

    below = lighter_half(under)
    lid = lighter_half(upper) if upper.sum() >= 0.03 * iod * len(columns) else None
    if lid is None:
        return np.full(3, np.nan, np.float32) if below is None else below
    if below is not None:
        lid = lid * max(1.0, UNDER_EYE_SHARE * float(_luminance(below)) / max(float(_luminance(lid)), 1.0))
    return lid


def _lid_top(
    still_rgb: np.ndarray,
    origin: np.ndarray,
    box: tuple[int, int, int, int],
    fold_y: np.ndarray,
    brow_y: np.ndarray,
    tone: np.ndarray,
    iod: float,
) -> float:
    """How far above the open eye's fold a shut lid reaches (IOD units): LID_TOP, and up to LID_TOP_SHADOW
    where the still's skin in between is in shadow (SHADOWED_FOLD, relative to the lid's tone)."""
    if np.isnan(tone).any():
        return LID_TOP
    columns = _middle_columns(box)
    rows = np.arange(int(fold_y[columns].max()) + 1)[:, None]
    above = (rows >= np.maximum(fold_y[columns] - LID_TOP_SHADOW * iod, brow_y[columns] + 0.03 * iod)[None, :]) & (
        rows < (fold_y[columns] - LID_TOP * iod)[None, :]
    )
    values = _still_pixels(still_rgb, origin, box, columns, above)
    if values is None:
        return LID_TOP
    light = float(np.median(_luminance(values)))
    dark, lit = SHADOWED_FOLD
    shadow = float(smoothstep((lit - light / max(float(_luminance(tone)), 1.0)) / (lit - dark)))
    return LID_TOP + (LID_TOP_SHADOW - LID_TOP) * shadow


def _rim_depth(still_rgb: np.ndarray, rim: np.ndarray, iod: float) -> float:
    """How far under the open eye's lower lid margin (`rim`, a curve in the still) a shut lid reaches (IOD
    units): RIM_DEPTH (none where that margin is dark, DARK_MARGIN), and up to RIM_REACH where the still's
    skin under the lower lid's lashes is as light as the cheek below it."""
    left, right = float(rim[:, 0].min()), float(rim[:, 0].max())
    xs = np.arange(int(left + 0.25 * (right - left)), int(right - 0.25 * (right - left)) + 1)
    xs = xs[(xs >= 0) & (xs < still_rgb.shape[1])]
    if len(xs) == 0:
        return RIM_DEPTH
    rim_y = polyline_y(rim, xs.astype(np.float32))

    def light(start: float, end: float) -> float | None:
        rows = (rim_y[None, :] + np.arange(start * iod, end * iod)[:, None]).astype(int)
        cols = np.broadcast_to(xs[None, :], rows.shape)
        inside = (rows >= 0) & (rows < still_rgb.shape[0])
        if not inside.any():
            return None
        return float(np.median(_luminance(still_rgb[rows[inside], cols[inside]].astype(np.float32))))

    under, cheek = light(0.06, 0.12), light(0.16, 0.24)
    margin = light(0.0, max(0.02, 1.0 / iod))
    if under is None or cheek is None or margin is None or cheek <= 0:
        return RIM_DEPTH
    low, high = LASH_SKIN
    dark, light_margin = DARK_MARGIN
    shallowest = RIM_DEPTH * float(smoothstep((margin / cheek - dark) / (light_margin - dark)))
    return shallowest + (RIM_REACH - shallowest) * float(smoothstep((under / cheek - low) / (high - low)))


def _lift(window: np.ndarray, tone: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How much light each pixel lacks to be LID_LIGHT of the lid's tone, and the colour (per unit of
    light) that makes it up: the tone's. No lift when the tone is unknown (NaN)."""
    if np.isnan(tone).any():
        return np.zeros(window.shape[:2], np.float32), np.zeros(3, np.float32)
    tone_light = max(float(_luminance(tone)), 1.0)
    missing = np.clip(LID_LIGHT * tone_light - _luminance(window), 0, None)
    return missing.astype(np.float32), (tone / tone_light).astype(np.float32)


def _lid_skin(
    still_rgb: np.ndarray,
    origin: np.ndarray,
    box: tuple[int, int, int, int],
    top_y: np.ndarray,
    bottom_y: np.ndarray,
    fold_y: np.ndarray,
    brow_y: np.ndarray,
    down: np.ndarray,
    tone: np.ndarray,
    iod: float,
) -> np.ndarray:
    """The still's lid and brow skin, between the brow and the fold, stretched down over the shut lid.

    A closing lid is that skin unfolding over the eyeball, so each column of the lid (top to lash line)
    takes the same column of the band above the fold, top to bottom. Its grain comes through clipped (a
    glint or a stray hair is not skin); where a hooded eye's thin band would be stretched into streaks,
    the grain of the skin under the eye stands in. Its light is the band's lighter pixels per column,
    raised to BAND_LIGHT of `tone` (NaN: unknown, left as it is).
    """
    left, top = _still_window(origin, box)
    height, width = box[3] - box[1], box[2] - box[0]
    lid_height = np.maximum(bottom_y - top_y, 1.0)
    band_top = brow_y + SKIN_GAP * iod
    band_bottom = np.maximum(fold_y - SKIN_GAP * iod, band_top + 1.0)
    ys = np.arange(height, dtype=np.float32)[:, None]
    along = np.clip((ys - top_y[None, :]) / lid_height[None, :], 0, 1)
    map_y = (band_top[None, :] + along * (band_bottom - band_top)[None, :] + top).astype(np.float32)
    map_x = np.broadcast_to(np.arange(width, dtype=np.float32)[None, :] + left, (height, width)).astype(np.float32)
    picked = cv2.remap(still_rgb, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    smooth = cv2.GaussianBlur(picked, (0, 0), max(1.0, DETAIL_SCALE * iod))
    # The band's light, per column: its lighter pixels (not the fold's shadow, a lash or a brow hair),
    # smoothed along the lid. The lid's shape (lit middle, darker lash line) is shading's, not the band's.
    rows = np.linspace(0, 1, BAND_ROWS, dtype=np.float32)[:, None]
    band_y = (band_top[None, :] + rows * (band_bottom - band_top)[None, :] + top).astype(np.float32)
    # The band's columns, one row of map_x for each sampled row (a lid box may be fewer rows high).
    band_x = np.ascontiguousarray(np.broadcast_to(map_x[:1], band_y.shape))
    band = cv2.remap(still_rgb, band_x, band_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    band = band.astype(np.float32)
    order = np.argsort(_luminance(band), axis=0)[len(rows) // 2 : len(rows) - 1]
    light = np.take_along_axis(band, order[..., None], axis=0).mean(axis=0, keepdims=True)
    light = cv2.GaussianBlur(light, (0, 0), sigmaX=max(1.0, 0.05 * iod), sigmaY=0.1, borderType=cv2.BORDER_REPLICATE)
    if not np.isnan(tone).any():  # a lid in the socket's shadow comes forward into the light
        missing = np.clip(BAND_LIGHT * float(_luminance(tone)) - _luminance(light), 0, None)
        light = light + missing[..., None] * (tone / max(float(_luminance(tone)), 1.0))
    light = np.broadcast_to(light, (height, width, 3))
    # Stretched much, the band's grain turns into streaks: there the grain is the skin's under the eye.
    stretch = lid_height / np.maximum(band_bottom - band_top, 1.0)
    own = np.clip((MAX_STRETCH - stretch) / (0.5 * MAX_STRETCH), 0, 1)[None, :, None]
    skin = light + own * np.clip(picked - smooth, -DETAIL_MAX, DETAIL_MAX)
    if own.min() < 1:  # (the under-eye skin's grain is one more blur of a wider patch: only when needed)
        skin = skin + (1 - own) * _lid_detail(still_rgb, origin, box, top_y, bottom_y, down, iod)
    return skin


def _lid_detail(
    still_rgb: np.ndarray,
    origin: np.ndarray,
    box: tuple[int, int, int, int],
    top_y: np.ndarray,
    bottom_y: np.ndarray,
    down: np.ndarray,
    iod: float,
) -> np.ndarray:
    """The fine detail (grain, pores, fine lines) of a patch of the still's own skin, moved over the lid.

    The patch is the skin just under the eye, moved up by one shift for the whole window along the face's
    own "up", so the lid gets real skin that keeps its structure: no mirrored lines bending into arcs, no
    streaks from columns moved by different amounts. Only the detail is taken (its local mean off, glints
    and lashes clipped), a transfer in the gradient domain: the light is the membrane fill's.
    """
    left, top = _still_window(origin, box)
    height, width = box[3] - box[1], box[2] - box[0]
    down = down / max(float(np.linalg.norm(down)), 1e-6)
    shift = float((bottom_y - top_y).max()) + DETAIL_GAP * iod  # past the lower lid, onto the cheek
    reach = int(np.ceil(shift * abs(down[1]))) + 2
    side = int(np.ceil(shift * abs(down[0]))) + 2
    sx0, sy0 = max(0, left - side), max(0, top)
    sx1, sy1 = min(still_rgb.shape[1], left + width + side), min(still_rgb.shape[0], top + height + reach)
    if sx1 - sx0 < 2 or sy1 - sy0 < 2:
        return np.zeros((height, width, 3), np.float32)
    crop = still_rgb[sy0:sy1, sx0:sx1].astype(np.float32)
    detail = crop - cv2.GaussianBlur(crop, (0, 0), max(1.0, DETAIL_SCALE * iod))
    # Window pixel (x, y) takes the detail at (x, y) + shift * down, in the crop's coordinates.
    move = np.array([[1, 0, left - sx0 + shift * down[0]], [0, 1, top - sy0 + shift * down[1]]], np.float32)
    placed = cv2.warpAffine(
        detail, move, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT
    )
    return np.clip(placed, -DETAIL_MAX, DETAIL_MAX)  # grain and fine lines, not a mole or a lash


def _lower_lid_raised(
    frame: np.ndarray, source: np.ndarray, line_y: np.ndarray, bottom: np.ndarray, soft: float, iod: float
) -> np.ndarray:
    """The lid's skin (`source`, the lid's window) with, under its lash line, the frame's own lower lid
    skin raised over the margin (`frame`: the frame's window).

    A shutting eye's lower lid rises a little, so its margin and lashes go under the upper lid. The skin
    from RAISED_FROM of the way down to the cover's edge is stretched up to the lash line: the bag keeps
    its own wrinkles, pores and light, carried on to the lash line (the skin below joins it seamlessly,
    where the stretch ends), instead of a smooth patch of lid skin.
    """
    height, width = source.shape[:2]
    first = max(0, int(line_y.min()))  # only the rows from the lash line down are raised
    ys = np.arange(first, height, dtype=np.float32)[:, None]
    top, edge = line_y[None, :], (bottom + soft)[None, :]
    depth = np.maximum(edge - top, 1.0)
    hidden = RAISED_FROM * depth
    map_y = np.where(ys < edge, top + hidden + (ys - top) * (1 - RAISED_FROM), ys)
    map_y = np.clip(map_y, 0, len(frame) - 1).astype(np.float32)
    map_x = np.broadcast_to(np.arange(width, dtype=np.float32)[None, :], map_y.shape)
    raised = cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR)
    # From the lid's skin to the lower lid's over the first pixels under the lash line.
    share = smoothstep((ys - top) / max(1.0, 0.02 * iod))[..., None]
    out = source.copy()
    out[first:] = source[first:] * (1 - share) + raised * share
    return out


def _lashes(shape: tuple[int, int], line: np.ndarray, down: np.ndarray, eye: int, iod: float) -> np.ndarray:
    """Coverage of the lashes of a shut upper lid: short strokes from the lash line, down and outwards.

    They lean further out towards the outer corner and are longest over the middle of the lid. Their
    spacing and lengths are fixed per eye, so they stay put from frame to frame.
    """
    down = down / max(float(np.linalg.norm(down)), 1e-6)
    outer, inner = line[0], line[-1]  # lid curves run from the outer to the inner corner
    outwards = (outer - inner) / max(float(np.linalg.norm(outer - inner)), 1e-6)
    lengths = np.cumsum(np.r_[0, np.linalg.norm(np.diff(line, axis=0), axis=1)])
    count = max(4, int(lengths[-1] / (LASH_SPACING * iod)))
    rng = np.random.default_rng(eye)
    along = np.clip(np.linspace(0.04, 0.9, count) + rng.normal(0, 0.01, count), 0, 1)  # 0 outer, 1 inner
    bases = np.stack([np.interp(along * lengths[-1], lengths, line[:, k]) for k in (0, 1)], axis=1)
    lean = 0.15 + 0.75 * (1 - along)
    directions = down[None, :] + lean[:, None] * outwards[None, :]
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    reach = LASH_LENGTH * iod * (0.55 + 0.45 * np.sin(np.pi * along)) * rng.uniform(0.75, 1.1, count)
    tips = bases + directions * reach[:, None]
    mask = np.zeros(shape, np.uint8)
    strokes = np.round(np.stack([bases, tips], axis=1) * 16).astype(np.int32)  # (count, 2, 2)
    cv2.polylines(mask, list(strokes), False, (255,), 1, cv2.LINE_AA, 4)
    return cv2.GaussianBlur(mask, (0, 0), 0.5).astype(np.float32) / 255.0
