"""Eyes and mouth drawn over the warp: a shut lid (rose_1), teeth in a closed mouth that parts (zeman_2)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline import features, topology, warp


def _painted(still, face_motion, face_warp, index: int) -> np.ndarray:
    dest = face_warp.vertex_positions(face_motion.frames[index])
    source = face_warp.source_positions(face_motion.sources[index])
    patch = features.paint(still, warp.render(still.rgb, None, [(face_warp, dest, source)]), [face_motion], index)
    out = still.rgb.copy()
    out[patch.box.y0 : patch.box.y1, patch.box.x0 : patch.box.x1] = patch.rgb
    return out


def _gap_column(image: np.ndarray, upper: np.ndarray, lower: np.ndarray, x: float) -> np.ndarray:
    """Luminance of the pixels between the inner lips at column x."""
    top = np.interp(x, upper[:, 0], upper[:, 1])
    bottom = np.interp(x, lower[:, 0], lower[:, 1])
    rows = np.arange(int(np.ceil(top)), int(np.floor(bottom)) + 1)
    return image[rows, int(round(x))].astype(float).mean(axis=1)


def test_a_parting_closed_mouth_shows_teeth_that_fade_into_shadow_at_the_corners(zeman_face):
    still, face_motion, face_warp = zeman_face
    uppers = face_motion.frames[:, list(topology.INNER_UPPER_LIP)]
    lowers = face_motion.frames[:, list(topology.INNER_LOWER_LIP)]
    index = int(np.argmax((lowers[..., 1] - uppers[..., 1]).mean(axis=1)))
    upper, lower = uppers[index], lowers[index]
    assert (lower[:, 1] - upper[:, 1]).max() >= 4  # the lips do part in this preset
    image = _painted(still, face_motion, face_warp, index)
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
    image = _painted(still, face_motion, face_warp, index).astype(float).mean(axis=2)
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


@pytest.mark.parametrize("photo", ["faces/zeman/zeman_1.jpg", "faces/zeman/zeman_2.jpg"])
def test_a_shut_lid_has_no_edge_where_it_meets_the_skin_above(prepared, photo):
    """The shut lid takes its light from the skin around it, so it does not show as a patch: across its top
    edge (a little above the open eye's fold) the light changes by no more than the skin's own texture."""
    still, face_motion, face_warp = prepared(photo, "zeman", "wink-left")
    _, upper_lid, _, corners, _, _ = topology.EYES[1]
    index = int(np.argmax(face_motion.eye_closure[:, 1]))
    assert face_motion.eye_closure[index, 1] > 0.95
    image = _painted(still, face_motion, face_warp, index).astype(float).mean(axis=2)
    iod = face_motion.pose.scale
    left, right = np.sort(face_motion.still[list(corners), 0])
    columns = np.arange(int(left + 0.2 * (right - left)), int(right - 0.2 * (right - left)))
    top = np.interp(columns, *_by_x(face_motion.still[list(upper_lid)])) - features.LID_TOP * iod
    step = max(1, int(0.02 * iod))

    def band(lo: int, hi: int) -> np.ndarray:
        return np.array([image[int(y) + lo : int(y) + hi, x].mean() for y, x in zip(top, columns, strict=True)])

    # Measured: 10.4 and 3.9; the flat-coloured lid it replaces stood out by 27.8 and 24.6, the warp alone
    # (no lid painted) by 14.9 and 21.0.
    assert np.abs(band(step, 3 * step) - band(-3 * step, -step)).mean() <= 12
