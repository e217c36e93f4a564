"""benchmarks/look_sheet.py: the closing eye and the smile of an animation, zoomed, picked by the lid's timing."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from skimage import data

from benchmarks import look_sheet


def test_eye_tiles_follow_the_lid_timing():
    closure = np.array([0.0, 0.1, 0.45, 0.8, 1.0, 1.0, 0.7, 0.55, 0.2, 0.0])
    picks = dict(look_sheet.eye_frames(closure))
    assert picks == {"still": 0, "half-closed": 2, "shut": 4, "half-reopened": 7}


def test_a_preset_frame_is_found_in_the_served_loop_past_in_betweens():
    durations = np.array([500, 60, 200, 100])
    # Two in-betweens took 40 ms of frame 1's time before frame 2: 500, 20, 20, 20, 200, 100.
    starts = np.array([0, 500, 520, 540, 560, 760])
    assert look_sheet.served_index(starts, 860, durations, 2) == 4
    assert look_sheet.served_index(starts, 860, durations, 3) == 5
    assert look_sheet.served_index(starts, 860, durations, 0) == 0


def test_the_sheet_shows_the_eye_closing_and_the_mouth_in_two_rows():
    encoded = io.BytesIO()
    Image.fromarray(data.astronaut()).save(encoded, "PNG")
    sheet = look_sheet.look_sheet(encoded.getvalue(), "wink", "any")
    rows = np.flatnonzero((sheet != look_sheet.BACKGROUND).any(axis=(1, 2)))
    breaks = np.flatnonzero(np.diff(rows) > look_sheet.GAP_PX)  # under a label, then the gap
    assert len(breaks) == 1, "an eye row and a mouth row"
    eye_row = sheet[: rows[breaks[0]] + 1]
    tiles = np.flatnonzero((eye_row[0] != look_sheet.BACKGROUND).any(axis=1))  # the crops' top row
    starts = np.r_[tiles[0], tiles[1:][np.diff(tiles) > 1]]
    assert len(starts) == 4, "still, half-closed, shut, half-reopened"
    width = int(np.diff(tiles).argmax()) + 1  # the first crop's width
    still, shut = (eye_row[:, s : s + width].astype(float) for s in (starts[0], starts[2]))
    assert np.abs(still - shut).mean() > 5, "the shut tile shows another eye than the still"
