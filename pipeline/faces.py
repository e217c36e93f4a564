"""Stage 2, faces: find faces cheaply with MediaPipe, then identify only those with face_recognition.

Detection runs on the small preview (milliseconds); the expensive encoding (dlib's network, per face) runs
only for faces big enough to animate, on the full image.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from pipeline.decode import shrink
from pipeline.face_encoder import CHIP_PADDING, CHIP_SIZE, FaceEncoder
from pipeline.mediapipe_solutions import solutions
from pipeline.types import Box, Still

#: Faces smaller than this (box height, full-image pixels) are not worth animating and are skipped.
MIN_FACE_PX = 40


@dataclass(frozen=True)
class Face:
    """A detected face; `distance` is to the nearest enrolled encoding of the target (0 for `any`)."""

    box: Box
    score: float
    distance: float
    is_target: bool


@cache
def _detector(model_selection: int):
    return solutions().face_detection.FaceDetection(model_selection=model_selection, min_detection_confidence=0.5)


def _iou(a: Box, b: Box) -> float:
    ix = max(0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union else 0.0


def detect(preview_rgb: np.ndarray, scale: float, width: int, height: int) -> list[tuple[Box, float]]:
    """Face boxes (full-image pixels) with detector scores, biggest first.

    The full-range model finds small faces in group photos; the short-range model is better at faces
    filling the frame. Both are cheap on a preview, so both run and their boxes are merged.
    """
    h, w = preview_rgb.shape[:2]
    found: list[tuple[Box, float]] = []
    for model in (1, 0):
        result = _detector(model).process(preview_rgb)
        for detection in result.detections or ():
            rel = detection.location_data.relative_bounding_box
            box = Box(
                round(rel.xmin * w),
                round(rel.ymin * h),
                round((rel.xmin + rel.width) * w),
                round((rel.ymin + rel.height) * h),
            ).scaled(scale)
            box = Box(max(0, box.x0), max(0, box.y0), min(width, box.x1), min(height, box.y1))
            if box.width <= 0 or box.height <= 0:
                continue
            score = float(detection.score[0])
            if all(_iou(box, other) < 0.4 for other, _ in found):
                found.append((box, score))
    found.sort(key=lambda item: -item[0].width * item[0].height)
    return found


def largest_face(still: Still) -> Box | None:
    """The biggest face big enough to animate in a decoded image (enrolling, authoring), or None."""
    small = shrink(still)
    found = [box for box, _ in detect(small.rgb, small.scale, still.width, still.height) if box.height >= MIN_FACE_PX]
    return found[0] if found else None


@cache
def _encoder() -> tuple[Any, FaceEncoder]:
    """dlib's 5-point shape predictor (it aligns the chip) and the face-recognition network."""
    import dlib
    import face_recognition_models

    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
    return predictor, FaceEncoder.load(face_recognition_models.face_recognition_model_location())


def encode_faces(rgb: np.ndarray, boxes: list[Box]) -> np.ndarray:
    """128-d face_recognition encodings, one row per box (dlib's 5-point alignment inside the box).

    The same numbers as `face_recognition.face_encodings(rgb, boxes)`, a quarter of the time: see
    pipeline/face_encoder.py.
    """
    import dlib

    if not boxes:
        return np.zeros((0, 128))
    predictor, encoder = _encoder()
    image = np.ascontiguousarray(rgb)
    rows = []
    for box in boxes:
        shape = predictor(image, dlib.rectangle(box.x0, box.y0, box.x1, box.y1))
        chip = dlib.get_face_chip(image, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
        rows.append(encoder.encode(chip))
    return np.stack(rows)


def identify(
    rgb: np.ndarray, detections: list[tuple[Box, float]], encodings: np.ndarray | None, tolerance: float
) -> list[Face]:
    """Faces big enough to animate, each compared with the target's enrolled encodings.

    `encodings` None means the target is `any`: every face counts and nothing is encoded.
    """
    big = [(box, score) for box, score in detections if box.height >= MIN_FACE_PX]
    if encodings is None:
        return [Face(box, score, 0.0, True) for box, score in big]
    if not big:
        return []
    found = encode_faces(rgb, [box for box, _ in big])
    faces = []
    for (box, score), encoding in zip(big, found, strict=True):
        distance = float(np.min(np.linalg.norm(encodings - encoding, axis=1)))
        faces.append(Face(box, score, distance, distance <= tolerance))
    return faces
