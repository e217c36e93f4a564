"""Every preset on people other than the target (`--target any`), judged from outside.

obama_1's fine colour detail keeps lossy WebP over a level away from the still (so its first frame is
lossless), and alex_2's beard changes a lot per pixel moved (so it gets in-between frames): the bars
that do not depend on dlib reading an eye shut must hold on them as on the zeman photos.
"""

from __future__ import annotations

import re

import pytest

from pipeline.api import Animator
from testkit.fixtures import fixture_path
from testkit.judge import judge
from tests.presets.helpers_presets import common_bars

FACES = ["faces/obama/obama_1.jpg", "faces/alex_lacamoire/alex_2.jpg"]
PRESETS = ["wink", "wink-left", "wink-right", "blink", "smile", "eyebrows", "surprise", "nod"]


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_starts_on_the_still_closes_its_loop_and_never_jumps(judge_script, tmp_path, preset, face):
    photo = fixture_path(face)
    result = Animator("any", preset).animate(photo.read_bytes())
    assert result.animated and result.faces_animated == 1
    record = judge(judge_script, photo, result.data, tmp_path)["faces"][0]
    assert record["first_vs_orig"] <= 1.5  # the fidelity rule of issue 15 (with PSNR >= 40 dB, test_pipeline_size)
    common_bars(record)


#: Every fixture photo of one person other than the target, but obama_1 again at other sizes and crops.
LID_FACES = [
    "faces/obama/obama_1.jpg",
    "faces/obama/obama_2.jpg",
    "faces/obama/obama_4.jpg",
    "faces/biden/biden_1.jpg",
    "faces/biden/biden_2.jpg",
    "faces/kit_harington/kit_1.jpg",
    "faces/kit_harington/kit_2.jpg",
    "faces/rose_leslie/rose_1.jpg",
    "faces/alex_lacamoire/alex_1.jpg",
    "faces/alex_lacamoire/alex_2.jpg",
    "faces/alex_lacamoire/alex_3.png",
    "faces/lin_manuel_miranda/lin_1.png",
]
#: Faces on which MediaPipe, as the judge runs it, does not yet read the painted lid shut (issue 14), with
#: what it read when this was written. Not strict: MediaPipe's reading of a shut lid moves by about 0.1
#: between near-identical frames and machines, and these sit near the bar (obama_2's blink read 0.37 on
#: one machine and passed on CI's); a regression on any other face still fails.
#: The judge's openness is the distance between paired upper and lower contour points over the eye's
#: width. On a shut lid the pairs do not meet: they sit apart along the lash line (on obama_2's left eye
#: about 0.11 of the eye's width, as in its still), so a lid MediaPipe sees as shut (its pairs 1-2 px
#: apart vertically) still reads about 0.39 of the still there, and about 0.36 on biden_2's right eye.
#: (A real shut eye can read closer: the wink in video/wink.mp4 has its pairs 0.054 of the eye's width
#: apart along the lid, against 0.096 open; the painted lids' pairs sit 0.066-0.110 apart.) A lid that
#: comes over obama_2's shadowed fold (lids.LID_TOP_SHADOW) narrows it: 0.41 -> 0.36, and the lower lid's
#: own skin raised over its margin (lids.RAISED_FROM) to 0.346, held 250 ms (with the judge's crop moved
#: 2 px, 9 of 9 crops pass, median 0.29). That took obama_2's blink and biden_2's wink off this list too
#: (0.30 and 0.25, 9 of 9 crops each).
#: biden_2's right eye is read by its place as much as by its lid: docs/decisions.md ("biden_2's blink
#: stays a known miss") has the judge's readings of each shut lid moved onto the other eye.
LID_MISSES: dict[tuple[str, str], str] = {
    (
        "faces/biden/biden_2.jpg",
        "blink",
    ): "the right eye reads 0.42 (median 0.45 over 9 crops moved 2 px, none pass; 0.46 before RAISED_FROM)",
}


def test_the_lid_faces_are_every_other_fixture_face(labels):
    """A face added to the fixtures is judged too: the list is the labels' single-person photos."""
    copies = re.compile(r"obama_(\d+p|small|partial_\d)\.")
    others = {path for path, people in labels.items() if path.startswith("faces/") and people != ["zeman"]}
    assert set(LID_FACES) == {path for path in others if not copies.search(path)}


def _faces(preset: str) -> list:
    """LID_FACES as parameters, the known misses of `preset` marked as expected failures."""
    return [
        pytest.param(face, marks=pytest.mark.xfail(strict=False, reason=LID_MISSES[face, preset]))
        if (face, preset) in LID_MISSES
        else face
        for face in LID_FACES
    ]


def _judged(judge_script, tmp_path, face: str, preset: str) -> dict:
    photo = fixture_path(face)
    result = Animator("any", preset).animate(photo.read_bytes())
    assert result.animated  # obama_4 has a second, small face in the background: animated too
    record = judge(judge_script, photo, result.data, tmp_path)["faces"][0]
    common_bars(record)
    assert record["mp_lost_frames"] == 0
    return record


@pytest.mark.parametrize("face", _faces("wink"))
def test_wink_shuts_the_left_eye_and_holds_it_on_every_face(judge_script, tmp_path, face):
    """Issue 14 on faces other than the target's: the eye MediaPipe reads closing most is the person's own
    left, at or below 0.35 of its still openness, for at least 100 ms."""
    record = _judged(judge_script, tmp_path, face, "wink")
    assert record["mp_closing_eye"] == "left"
    assert record["mp_wink_ratio"] <= 0.35
    assert record["mp_shut_ms"] >= 100


@pytest.mark.parametrize("face", _faces("blink"))
def test_blink_shuts_both_eyes_on_every_face(judge_script, tmp_path, face):
    record = _judged(judge_script, tmp_path, face, "blink")
    assert max(record["mp_wink_ratio"], record["mp_other_eye_ratio"]) <= 0.35
