"""Shared by the preset tests: judging an animation per eye, and the mouth-opening measure of `surprise`."""

from __future__ import annotations

import functools
import io
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from tests.pipeline.helpers import frames_of, judge


@functools.cache
def judge_still(judge_script: Path, original: Path) -> dict:
    """The judge's record of the still itself: its min_ear_l / min_ear_r are the still's own eye openness.

    Judged once per photo and session: several tests compare their animations with the same still.
    """
    still = io.BytesIO()
    ImageOps.exif_transpose(Image.open(original)).convert("RGB").save(still, "PNG")  # a one-frame 'animation'
    with tempfile.TemporaryDirectory() as folder:
        return judge(judge_script, original, still.getvalue(), Path(folder))["faces"][0]


def eye_ratios(judge_script: Path, original: Path, animated: bytes, tmp_path: Path) -> tuple[dict, dict]:
    """Judged record, and the lowest openness of each of the person's own eyes relative to the still.

    The judge's `ear_l` is dlib's first eye (points 36-41), on the image's left: the person's RIGHT eye.
    """
    record = judge(judge_script, original, animated, tmp_path)["faces"][0]
    base = judge_still(judge_script, original)
    ratios = {"right": record["min_ear_l"] / base["min_ear_l"], "left": record["min_ear_r"] / base["min_ear_r"]}
    return record, ratios


def _still_and_face(original: Path) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The still as the judge reads it (EXIF-upright RGB) and the judge's box of its first face."""
    import face_recognition as fr

    still = np.asarray(ImageOps.exif_transpose(Image.open(original)).convert("RGB"))
    return still, fr.face_locations(still, number_of_times_to_upsample=1)[0]


def eye_cover(original: Path, animated: bytes) -> dict[str, float]:
    """Per eye of the person's own, the largest share of the still's open eye that any frame covers.

    The eye is dlib's outline of it in the still (as the judge finds it); a pixel counts as covered when
    it differs from the still by more than 24 levels. dlib's eye aspect ratio cannot tell which eye shuts
    here: it moves by about 0.1 when a few pixels near an eye change (frames with almost no motion read
    0.85-1.2 of the still) and reads the shut lid on the Zeman photos at 0.76-0.84. This can: a shut eye
    covers most of its outline (0.62-0.97 measured), an open one next to none (at most 0.04; 0.17 when
    a smile squints it).
    """
    import face_recognition as fr

    still, box = _still_and_face(original)
    marks = fr.face_landmarks(still, [box], model="large")[0]
    frames = frames_of(animated)
    assert all(frame.shape == still.shape for frame in frames)
    cover = {}
    for side, key in (("left", "right_eye"), ("right", "left_eye")):  # dlib's right_eye is on the image's right
        outline = np.zeros(still.shape[:2], np.uint8)
        cv2.fillPoly(outline, [np.round(np.asarray(marks[key])).astype(np.int32)], 1)
        inside = outline.astype(bool)
        cover[side] = max(
            float((np.abs(f.astype(int) - still.astype(int)).max(axis=2)[inside] > 24).mean()) for f in frames
        )
    return cover


def mouth_opening_gain(original: Path, animated: bytes) -> float:
    """Largest inner-lip gap over the still's (dlib points 62 to 66), in inter-ocular units.

    The measure for `surprise` ("the mouth opens a little"): the bar is a gain of at least 0.04 IOD.
    """
    import face_recognition as fr

    still, box = _still_and_face(original)

    def opening(rgb: np.ndarray) -> float | None:
        marks = fr.face_landmarks(rgb, [box], model="large")
        if not marks:
            return None
        m = marks[0]
        iod = np.linalg.norm(np.mean(m["left_eye"], axis=0) - np.mean(m["right_eye"], axis=0))
        return float(np.linalg.norm(np.subtract(m["top_lip"][9], m["bottom_lip"][10])) / iod)

    base = opening(still)
    values = [v for v in (opening(f) for f in frames_of(animated)) if v is not None]
    return max(values) - base


def wink_cli(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    """The `wink` command in its own process (it redirects file descriptor 2, which must not leak into pytest)."""
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, timeout=timeout)


def png_text(data: bytes) -> dict:
    with Image.open(io.BytesIO(data)) as image:
        return dict(image.text)


def common_bars(record: dict) -> None:
    """The bars every preset must hold on a judged face (issue 3): identity, locality, steps, loop."""
    assert record["max_id_dist"] <= 0.35
    assert record["changed_outside"] <= 0.002
    assert record["max_step"] <= 4
    assert record["last_vs_first"] <= 1.5
