"""Motion: a closing eye's lower lid rises to meet the upper lid on its way, and rests again once shut."""

from __future__ import annotations

import numpy as np

from pipeline import motion, topology
from pipeline.presets import load_preset

_, UPPER, LOWER, CORNERS, _, _ = topology.EYES[1]


def test_the_lower_lid_rises_and_the_skin_under_it_less_the_further_down():
    face = load_preset("wink").reference.astype(np.float64)
    lift = np.full((1, len(LOWER)), 0.02)
    rise = motion.lower_lid_rise(face, LOWER, CORNERS, lift)[0]
    assert np.allclose(rise[list(LOWER)], 0.02)
    low_y = face[list(LOWER), 1].max()
    x0, x1 = np.sort(face[list(CORNERS), 0])
    within = (face[:, 0] > x0) & (face[:, 0] < x1)
    under = within & (face[:, 1] > low_y + 0.02) & (face[:, 1] < low_y + motion.CHEEK_RISE_REACH - 0.02)
    assert under.any() and np.all((rise[under] > 0) & (rise[under] < 0.02))  # the cheek under it, less
    assert np.all(rise[face[:, 1] > low_y + motion.CHEEK_RISE_REACH] == 0)
    assert np.all(rise[list(UPPER)] == 0) and np.all(rise[~within] == 0)  # not the upper lid, not beside the eye


def test_a_winking_eyes_lids_meet_half_way_up_on_the_way_and_at_the_lower_lid_once_shut():
    preset = load_preset("wink")
    reference = preset.reference.astype(np.float64)
    offsets, closure = motion.retarget(preset.offsets, reference, reference)
    plain = preset.offsets.astype(np.float64)
    gap = (reference[list(LOWER), 1] - reference[list(UPPER), 1]).mean()
    shut = int(np.argmax(closure[:, 1]))
    closing = int(np.argmin(np.abs(closure[:shut, 1] - 0.5)))
    raised = plain[closing, list(LOWER), 1].mean() - offsets[closing, list(LOWER), 1].mean()
    assert raised > 0.2 * gap  # on its way, the lower lid is up by a fifth of the eye's gap at least
    # Shut, the lids meet where the lower lid rests (the shut lid is drawn to meet it there).
    assert np.allclose(offsets[shut, list(LOWER), 1], plain[shut, list(LOWER), 1], atol=0.05 * gap)
    gaps = reference[list(LOWER), 1] - reference[list(UPPER), 1]
    assert np.allclose(offsets[shut, list(UPPER), 1] - offsets[shut, list(LOWER), 1], gaps, atol=0.1 * gap)


def test_the_lower_lid_rests_in_a_smile_and_once_shut_and_is_up_half_way():
    share = motion.rise_share(np.array([0.0, 0.15, 0.22 * 0.9, 0.5, 0.9, 1.0]))
    assert np.allclose(share[[0, 1, 2, 4, 5]], 0, atol=1e-3)  # open, a smile's narrowing, nearly and fully shut
    assert share[3] == 1.0
