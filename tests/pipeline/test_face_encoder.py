"""The numpy run of dlib's face-recognition network gives dlib's own encodings, on every fixture face."""

from __future__ import annotations

from pathlib import Path

import dlib
import face_recognition
import face_recognition_models
import numpy as np
import pytest

from pipeline import faces
from pipeline.face_encoder import FaceEncoder, ModelFormatError
from pipeline.types import Box

MODEL = Path(face_recognition_models.face_recognition_model_location())


def test_encodings_match_dlib_on_every_fixture_face(fixtures: Path, labels: dict[str, list[str]]) -> None:
    compared = 0
    for photo in sorted(fixtures / name for name in labels if name.startswith("faces/")):
        rgb = face_recognition.load_image_file(photo)
        for top, right, bottom, left in face_recognition.face_locations(rgb):
            ours = faces.encode_faces(rgb, [Box(left, top, right, bottom)])[0]
            dlibs = face_recognition.face_encodings(rgb, [(top, right, bottom, left)])[0]
            # The same network in float32 on another BLAS: rounding only. The match tolerance is 0.5.
            assert np.linalg.norm(ours - dlibs) < 1e-4, photo.name
            compared += 1
    assert compared >= 12


def test_a_chip_encodes_as_dlibs_network_does() -> None:
    rng = np.random.default_rng(3)
    chip = rng.integers(0, 256, (150, 150, 3), dtype=np.uint8)
    dlibs = np.array(dlib.face_recognition_model_v1(str(MODEL)).compute_face_descriptor(chip))
    assert np.abs(FaceEncoder.load(MODEL).encode(chip) - dlibs).max() < 1e-5


def test_another_network_is_refused_with_a_sentence() -> None:
    data = MODEL.read_bytes()
    for broken in (data[: len(data) // 2], data.replace(b"\x01\x04fc_2", b"\x01\x04xx_2"), b"not a model"):
        with pytest.raises(ModelFormatError, match=r"^the model file"):
            FaceEncoder(broken)
