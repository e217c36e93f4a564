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
#: the reason it gives. Not strict: MediaPipe's reading of a shut lid moves between near-identical frames
#: and between machines, and these sit near the bar; a regression on any other face still fails.
#: The judge's openness never reaches 0 on a painted shut lid (its contour pairs sit apart along the lash
#: line), so a lid it sees as shut reads only just under the bar. docs/decisions.md has the readings
#: ("How the judge reads a painted shut lid") and why biden_2's blink stays here ("biden_2's blink stays
#: a known miss": his right eye is read by its place as much as by its lid).
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
