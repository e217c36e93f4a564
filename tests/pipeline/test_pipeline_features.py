"""Eyes and mouth drawn over the warp: a shut lid (rose_1), a closing eye, teeth in a parting mouth (zeman_2)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline import features, lids, motion, topology
from testkit.images import painted, shadowed_socket


def _gap_column(image: np.ndarray, upper: np.ndarray, lower: np.ndarray, x: float) -> np.ndarray:
    """Luminance of the pixels between the inner lips at column x."""
    top = np.interp(x, upper[:, 0], upper[:, 1])
    bottom = np.interp(x, lower[:, 0], lower[:, 1])
    rows = np.arange(int(np.ceil(top)), int(np.floor(bottom)) + 1)
    return image[rows, int(round(x))].astype(float).mean(axis=1)


def test_a_barely_parted_mouth_shows_no_white_line(zeman_face):
    """zeman_2's closed mouth parts about 0.055 IOD in the smile: the teeth stay in the mouth's shadow."""
    still, face_motion, face_warp = zeman_face
    uppers = face_motion.frames[:, list(topology.INNER_UPPER_LIP)]
    lowers = face_motion.frames[:, list(topology.INNER_LOWER_LIP)]
    index = int(np.argmax((lowers[..., 1] - uppers[..., 1]).mean(axis=1)))
    upper, lower = uppers[index], lowers[index]
    assert (lower[:, 1] - upper[:, 1]).max() < 0.06 * face_motion.pose.scale  # barely parted
    image = painted(still, face_motion, face_warp, index)
    xs = np.linspace(upper[:, 0].min(), upper[:, 0].max(), 12)[2:-2]
    lips = still.rgb[int(upper[:, 1].min()) - 6 : int(lower[:, 1].max()) + 6, int(xs.min()) : int(xs.max())]
    gap = np.concatenate([_gap_column(image, upper, lower, x) for x in xs])
    # Nothing in the gap is lighter than the lips around it (the teeth drawn there measured 190 against 149).
    assert gap.max() < np.median(lips.astype(float).mean(axis=2))


def test_a_parting_closed_mouth_shows_teeth_that_fade_into_shadow_at_the_corners(zeman_face, monkeypatch):
    """Teeth, drawn where lips part far enough (here: anywhere they part, so zeman_2's smile shows them)."""
    monkeypatch.setattr(features, "TEETH_FROM", 0.0)
    monkeypatch.setattr(features, "TEETH_FULL", 0.01)
    still, face_motion, face_warp = zeman_face
    uppers = face_motion.frames[:, list(topology.INNER_UPPER_LIP)]
    lowers = face_motion.frames[:, list(topology.INNER_LOWER_LIP)]
    index = int(np.argmax((lowers[..., 1] - uppers[..., 1]).mean(axis=1)))
    upper, lower = uppers[index], lowers[index]
    assert (lower[:, 1] - upper[:, 1]).max() >= 4  # the lips do part in this preset
    image = painted(still, face_motion, face_warp, index)
    width = upper[:, 0].max() - upper[:, 0].min()
    middle = upper[len(upper) // 2, 0] + 0.05 * width  # on a central incisor, not the gap between the two
    teeth = _gap_column(image, upper, lower, middle)
    lips = (
        still.rgb[int(upper[len(upper) // 2, 1]) - 6 : int(lower[len(lower) // 2, 1]) + 6, int(round(middle))]
        .astype(float)
        .mean(axis=1)
    )
    # Teeth under the middle of the upper lip: lighter than the lips of the still, darker below them.
    assert teeth.max() > np.median(lips) + 40
    assert teeth[-1] < teeth.max() - 40
    # Near a corner the teeth have turned into the mouth's shadow: under half as light as the front ones
    # (teeth lit to the corners measured 128 against 193 here).
    corner = upper[:, 0].max() - 0.08 * (upper[:, 0].max() - upper[:, 0].min())
    assert _gap_column(image, upper, lower, corner).max() < teeth.max() / 2


def test_a_shut_lid_is_skin_not_lashes_smeared_over_the_eye(prepared):
    """rose_1's dark lashes and liner, stretched over the eye by the warp alone, used to read as dark
    streaks; the shut lid must be about as light as the skin above the fold, with no dark stripes."""
    still, face_motion, face_warp = prepared("faces/rose_leslie/rose_1.jpg", "any", "wink-left")
    _, upper_lid, _, corners, _, _ = topology.EYES[1]  # the person's own left eye
    index = int(np.argmax(face_motion.eye_closure[:, 1]))
    assert face_motion.eye_closure[index, 1] > 0.95
    image = painted(still, face_motion, face_warp, index).astype(float).mean(axis=2)
    iod = face_motion.pose.scale
    fold = face_motion.still[list(upper_lid)]
    line = face_motion.frames[index][list(upper_lid)]
    left, right = np.sort(face_motion.still[list(corners), 0])
    columns = np.arange(int(left + 0.25 * (right - left)), int(right - 0.25 * (right - left)))
    lid = [
        image[int(np.interp(x, *_by_x(fold))) + 1 : int(np.interp(x, *_by_x(line)) - 0.03 * iod), x] for x in columns
    ]
    skin = [
        still.rgb[int(np.interp(x, *_by_x(fold)) - 0.1 * iod) : int(np.interp(x, *_by_x(fold)) - 0.05 * iod), x]
        .astype(float)
        .mean(axis=1)
        for x in columns
    ]
    lid_pixels, skin_pixels = np.concatenate(lid), np.concatenate(skin)
    # Measured: lid 170 (10th percentile 147) against skin 154; the stretched lashes gave 94 (63).
    assert 0.85 * skin_pixels.mean() <= lid_pixels.mean() <= 1.25 * skin_pixels.mean()
    assert np.percentile(lid_pixels, 10) >= 0.7 * skin_pixels.mean()


def _by_x(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(points[:, 0])
    return points[order, 0], points[order, 1]


def _shut_lid_top(still, face_motion, face_warp, monkeypatch, margin: float) -> tuple[np.ndarray, ...]:
    """The left eye's most shut frame (grey), and over the eye's columns but `margin` of its width at
    each end: those columns, the rows of the shut lid's top and of the brow's lower edge."""
    _, upper_lid, _, corners, brow, _ = topology.EYES[1]
    index = int(np.argmax(face_motion.eye_closure[:, 1]))
    assert face_motion.eye_closure[index, 1] > 0.95
    reaches: list[float] = []  # how far above the fold the lid's top is (LID_TOP, or more over a shadow)
    lid_top = lids._lid_top

    def recorded(*args: object) -> float:
        reaches.append(lid_top(*args))
        return reaches[-1]

    monkeypatch.setattr(lids, "_lid_top", recorded)
    image = painted(still, face_motion, face_warp, index).astype(float).mean(axis=2)
    iod = face_motion.pose.scale
    left, right = np.sort(face_motion.still[list(corners), 0])
    columns = np.arange(int(left + margin * (right - left)), int(right - margin * (right - left)))
    fold = np.interp(columns, *_by_x(face_motion.still[list(upper_lid)]))
    brow_edge = np.interp(columns, *_by_x(face_motion.still[list(brow[5:])]))
    top = np.maximum(fold - reaches[-1] * iod, brow_edge + 0.03 * iod)
    return image, columns, top, brow_edge


@pytest.mark.parametrize("photo", ["faces/zeman/zeman_1.jpg", "faces/zeman/zeman_2.jpg"])
def test_a_shut_lid_has_no_edge_where_it_meets_the_skin_above(prepared, photo, monkeypatch):
    """The shut lid takes its light from the skin around it, so it does not show as a patch: across its top
    edge (a little above the open eye's fold) the light changes by no more than the skin's own texture."""
    still, face_motion, face_warp = prepared(photo, "zeman", "wink-left")
    image, columns, top, brow = _shut_lid_top(still, face_motion, face_warp, monkeypatch, 0.2)
    iod = face_motion.pose.scale
    room = top - brow > 0.06 * iod  # where the skin above the lid is skin, not the brow's hair
    assert room.sum() >= 5
    columns, top = columns[room], top[room]
    rows = np.arange(-int(0.08 * iod), int(0.08 * iod) + 1)
    grey = still.rgb.astype(float).mean(axis=2)

    def profile(picture: np.ndarray) -> np.ndarray:
        return np.array([[picture[int(y) + r, x] for r in rows] for y, x in zip(top, columns, strict=True)]).mean(0)

    # Across the lid's top edge the light changes gradually (a soft crease where the fold was, not a
    # patch's outline): from one row to the next by no more than the skin of the still does there, give
    # or take 3 levels (a flat patch stands out by 25).
    assert np.abs(np.diff(profile(image))).max() <= np.abs(np.diff(profile(grey))).max() + 3


def test_a_shut_lid_in_a_shadowed_socket_takes_the_light_of_the_lid_skin_not_of_the_shadow(prepared):
    """A deep-set eye in shadow used to fill its shut lid with the socket's dark (a dark disc). The lid is
    the skin between fold and brow come down, so it must stay much lighter than the shadow round it."""
    still, face_motion, face_warp = prepared("faces/rose_leslie/rose_1.jpg", "any", "wink-left")
    eye = 1
    _, upper_lid, _, corners, _, _ = topology.EYES[eye]
    dark = shadowed_socket(still, face_motion, eye, 0.3)
    index = int(np.argmax(face_motion.eye_closure[:, eye]))
    image = painted(dark, face_motion, face_warp, index).astype(float).mean(axis=2)
    iod = face_motion.pose.scale
    left, right = np.sort(face_motion.still[list(corners), 0])
    columns = np.arange(int(left + 0.3 * (right - left)), int(right - 0.3 * (right - left)))
    fold = np.interp(columns, *_by_x(face_motion.still[list(upper_lid)]))
    line = np.interp(columns, *_by_x(face_motion.frames[index][list(upper_lid)]))
    # The middle of the lid, top to bottom (towards its edges it turns into the socket's shadow).
    lid = np.concatenate(
        [image[int(f + 0.3 * (b - f)) : int(f + 0.7 * (b - f)), x] for f, b, x in zip(fold, line, columns, strict=True)]
    )
    shadow = np.concatenate(
        [
            dark.rgb[int(f - 0.07 * iod) : int(f - 0.04 * iod), x].mean(axis=1)
            for f, x in zip(fold, columns, strict=True)
        ]
    )
    # Measured: lid 142 against a shadow of 50 above it (2.86x); the lid filled from its surroundings gave
    # 131 (2.64x).
    assert lid.mean() >= 2.75 * shadow.mean()


def test_a_shut_lid_carries_the_skin_texture_of_the_face(prepared):
    """The shut lid is not a smooth painted patch: its fine detail (what a blur takes away) is of the same
    order as the skin's round the eye."""
    still, face_motion, face_warp = prepared("faces/zeman/zeman_1.jpg", "zeman", "wink-left")
    eye = 1
    _, upper_lid, _, corners, _, _ = topology.EYES[eye]
    index = int(np.argmax(face_motion.eye_closure[:, eye]))
    image = painted(still, face_motion, face_warp, index).astype(np.float32).mean(axis=2)
    iod = face_motion.pose.scale
    fine = np.abs(image - cv2.GaussianBlur(image, (0, 0), 0.02 * iod))
    skin = np.abs(
        still.rgb.astype(np.float32).mean(axis=2)
        - cv2.GaussianBlur(still.rgb.astype(np.float32).mean(axis=2), (0, 0), 0.02 * iod)
    )
    left, right = np.sort(face_motion.still[list(corners), 0])
    columns = np.arange(int(left + 0.25 * (right - left)), int(right - 0.25 * (right - left)))
    fold = np.interp(columns, *_by_x(face_motion.still[list(upper_lid)]))
    line = np.interp(columns, *_by_x(face_motion.frames[index][list(upper_lid)]))
    lid = np.concatenate([fine[int(f) : int(b - 0.04 * iod), x] for f, b, x in zip(fold, line, columns, strict=True)])
    cheek = np.concatenate(
        [skin[int(b + 0.1 * iod) : int(b + 0.2 * iod), x] for b, x in zip(line, columns, strict=True)]
    )
    # Measured: 4.2 on the lid against 8.6 on the cheek; the lid filled from its surroundings gave 3.0.
    assert lid.mean() >= 0.45 * cheek.mean()


def _above_fold(face_motion, eye: int, reach: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the still between `reach` (IOD units above the open eye's fold) over the
    middle of the eye."""
    _, upper_lid, _, corners, _, _ = topology.EYES[eye]
    iod = face_motion.pose.scale
    left, right = np.sort(face_motion.still[list(corners), 0])
    columns = np.arange(int(left + 0.3 * (right - left)), int(right - 0.3 * (right - left)))
    fold = np.interp(columns, *_by_x(face_motion.still[list(upper_lid)]))
    rows = [np.arange(int(f - reach[0] * iod), int(f - reach[1] * iod)) for f in fold]
    return np.concatenate(rows), np.concatenate([np.full(len(r), x) for r, x in zip(rows, columns, strict=True)])


def test_a_shut_lid_comes_over_a_deep_set_eyes_shadowed_fold_and_stops_under_lit_lid_skin(prepared):
    """Above the fold of a deep-set eye in shadow, a shut lid comes forward into the light: it covers the
    socket's shadow there. Where that skin is lit (rose_1's own), the lid stops under it and leaves it
    as the warp made it (it is skin the photo shows, and covering it costs the face's identity)."""
    still, face_motion, face_warp = prepared("faces/rose_leslie/rose_1.jpg", "any", "wink-left")
    eye = 1
    index = int(np.argmax(face_motion.eye_closure[:, eye]))
    rows, columns = _above_fold(face_motion, eye, (0.08, 0.05))
    lit = painted(still, face_motion, face_warp, index).astype(float).mean(axis=2)
    assert (
        np.abs(lit - painted(still, face_motion, face_warp, index, lids_drawn=False).astype(float).mean(axis=2))[
            rows, columns
        ].max()
        == 0
    )
    dark = shadowed_socket(still, face_motion, eye, 0.3)
    shadow = (
        painted(dark, face_motion, face_warp, index, lids_drawn=False).astype(float).mean(axis=2)[rows, columns].mean()
    )
    lid = painted(dark, face_motion, face_warp, index).astype(float).mean(axis=2)[rows, columns].mean()
    # Measured: 120 over a shadow of 87; a lid that stopped at LID_TOP there left the shadow (87).
    assert lid >= 1.25 * shadow


def test_a_deep_set_eyes_shut_lid_comes_out_of_the_brows_shadow_gradually(prepared, monkeypatch):
    """On obama_2's deep-set eye, lit from above, the shut lid comes up to just under the brow, out of the
    socket's shadow. Its top turns up into the fold, in the brow's shadow, so its light rises over some
    height, as a convex lid's does, instead of starting at its edge: a lit egg cut out of the shadow."""
    still, face_motion, face_warp = prepared("faces/obama/obama_2.jpg", "any", "wink-left")
    image, columns, top, brow_edge = _shut_lid_top(still, face_motion, face_warp, monkeypatch, 0.3)
    iod = face_motion.pose.scale
    assert np.median(top - brow_edge) < 0.05 * iod  # the lid does come up to the brow here
    rows = np.arange(-int(0.04 * iod), int(0.12 * iod) + 1)
    profile = np.array([[image[int(y) + r, x] for r in rows] for y, x in zip(top, columns, strict=True)]).mean(0)
    shadow, lit = profile[: len(rows) // 4].min(), profile[-3:].mean()
    assert lit > shadow + 40  # the lid's middle is lit
    quarter = int(np.argmax(profile > shadow + 0.25 * (lit - shadow)))
    three_quarters = int(np.argmax(profile > shadow + 0.75 * (lit - shadow)))
    # Measured: from a quarter to three quarters of the way, the light rises over 0.050 IOD (6 rows);
    # lifted right up to its top edge, over 0.025 (3 rows).
    assert three_quarters - quarter >= 0.04 * iod


def test_under_a_shut_lid_the_lower_lid_keeps_its_own_wrinkles_up_to_the_lash_line(prepared):
    """Once the lids meet, the lower lid's margin and lashes go under the shut lid: the skin just under the
    lash line is the lower lid's own, raised, with the wrinkles of biden_2's under-eye bag, not a smooth
    patch (below the lashes of the shut lid). Its fine detail is of the order of that skin's in the photo."""
    still, face_motion, face_warp = prepared("faces/biden/biden_2.jpg", "any", "wink-left")
    eye = 1
    _, upper_lid, lower_lid, corners, _, _ = topology.EYES[eye]
    index = int(np.argmax(face_motion.eye_closure[:, eye]))
    assert face_motion.eye_closure[index, eye] > 0.95
    iod = face_motion.pose.scale

    def fine(image: np.ndarray) -> np.ndarray:
        grey = image.astype(np.float32).mean(axis=2)
        return np.abs(grey - cv2.GaussianBlur(grey, (0, 0), 0.02 * iod))

    left, right = np.sort(face_motion.still[list(corners), 0])
    columns = np.arange(int(left + 0.3 * (right - left)), int(right - 0.3 * (right - left)))
    line = np.interp(columns, *_by_x(face_motion.frames[index][list(upper_lid)]))
    rim = np.interp(columns, *_by_x(face_motion.still[list(lower_lid)]))
    shut = fine(painted(still, face_motion, face_warp, index))
    under_line = np.concatenate(
        [shut[int(y + 0.06 * iod) : int(y + 0.1 * iod), x] for y, x in zip(line, columns, strict=True)]
    )
    bag = fine(still.rgb)
    bag_skin = np.concatenate(
        [bag[int(y + 0.06 * iod) : int(y + 0.12 * iod), x] for y, x in zip(rim, columns, strict=True)]
    )
    # Measured: 4.7 under the lash line against 7.9 on the bag in the photo; the bag's grain mirrored
    # onto a smooth patch of lid skin gave 3.5.
    assert under_line.mean() >= 0.5 * bag_skin.mean()


def _slit_shares(image: np.ndarray, still_rgb: np.ndarray, face_motion, index: int, eye: int) -> tuple[float, float]:
    """Of the pixels between a frame's lids: the share as light as the still's white of the eye (its 85th
    percentile of light, less 15 %), and the share as dark as its iris (its 30th percentile)."""
    _, upper, lower, corners, _, _ = topology.EYES[eye]

    def inside(points: np.ndarray) -> np.ndarray:
        mask = np.zeros(image.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(points).astype(np.int32)], (1,))
        return mask > 0

    outline = [corners[0], *upper, corners[1], *lower[::-1]]
    opening = cv2.cvtColor(still_rgb, cv2.COLOR_RGB2GRAY)[inside(face_motion.still[outline])].astype(float)
    slit = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[inside(face_motion.frames[index][outline])].astype(float)
    white = float(np.mean(slit >= 0.85 * np.percentile(opening, 85)))
    return white, float(np.mean(slit <= np.percentile(opening, 30)))


def test_a_half_closed_eye_shows_its_iris_under_the_lid_not_a_band_of_white(animators, fixtures, monkeypatch):
    """On its way down the lid meets a rising lower lid, so the slit left is over the iris. With the upper
    lid alone coming down, zeman_2's closing frame showed 38 % white of the eye to 22 % iris; now 21 to 34."""

    def closing_slit() -> tuple[float, float]:
        stages = animators("zeman", "wink").stages((fixtures / "faces/zeman/zeman_2.jpg").read_bytes())
        still, face_motion, face_warp = stages.still, stages.motions[0], stages.warps[0]
        shut = int(np.argmax(face_motion.eye_closure[:, 1]))
        assert 0.3 < face_motion.eye_closure[shut - 1, 1] < 0.8, "the frame before the shut one is half-closed"
        return _slit_shares(painted(still, face_motion, face_warp, shut - 1), still.rgb, face_motion, shut - 1, 1)

    white, iris = closing_slit()
    assert white <= 0.25 and iris > white
    monkeypatch.setattr(motion, "LOWER_LID_RISE", 0.0)
    white, iris = closing_slit()
    assert white > 0.3 and iris < white  # the band of white the issue saw, without the lower lid's rise


def test_a_lid_box_fewer_rows_high_than_the_band_samples_is_still_drawn():
    """A small face's shut lid can be fewer pixels high than the rows its skin's light is sampled from
    (lids.BAND_ROWS): the sampling must not depend on the lid box's height (found by the fuzz run)."""
    from pipeline import lids

    rng = np.random.default_rng(0)
    still = rng.integers(60, 200, (80, 80, 3), dtype=np.uint8)
    width, height = 20, lids.BAND_ROWS - 4
    columns = np.ones(width, np.float32)
    skin = lids._lid_skin(
        still,
        np.array([10.0, 30.0]),
        (0, 0, width, height),
        top_y=1 * columns,
        bottom_y=(height - 1) * columns,
        fold_y=-2 * columns,
        brow_y=-12 * columns,
        down=np.array([0.0, 1.0]),
        tone=np.full(3, np.nan, np.float32),
        iod=20.0,
    )
    assert skin.shape == (height, width, 3) and np.isfinite(skin).all()
