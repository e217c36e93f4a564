"""Shared by the preset tests: the bars every preset holds, and the mouth-opening measure of `surprise`."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from testkit.images import frames_of


def _still_and_face(original: Path) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The still as the judge reads it (EXIF-upright RGB) and the judge's box of its first face."""
    import face_recognition as fr

    still = np.asarray(ImageOps.exif_transpose(Image.open(original)).convert("RGB"))
    return still, fr.face_locations(still, number_of_times_to_upsample=1)[0]


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
