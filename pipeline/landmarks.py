"""Stage 3, landmarks: MediaPipe Face Mesh (refined: 478 points, irises included) on a crop of one face.

The crop is square, centred on the detected box and padded (with black where it leaves the image) so a
face cut by the image edge still sits in the middle of what Face Mesh sees.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from pipeline.mediapipe_solutions import solutions
from pipeline.types import Box, Landmarks

#: Face Mesh works at 192x192 internally; a larger crop only costs resizing time.
CROP_SIDE = 384


@cache
def _mesh():
    return solutions().face_mesh.FaceMesh(
        static_image_mode=True, refine_landmarks=True, max_num_faces=1, min_detection_confidence=0.4
    )


def face_mesh(rgb: np.ndarray, box: Box) -> Landmarks | None:
    """The face mesh of the face in `box`, or None when Face Mesh does not find it there."""
    height, width = rgb.shape[:2]
    side = round(max(box.width, box.height) * 1.7)
    cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    x1, y1 = x0 + side, y0 + side
    crop = rgb[max(0, y0) : min(height, y1), max(0, x0) : min(width, x1)]
    if crop.size == 0:
        return None
    crop = cv2.copyMakeBorder(
        crop, max(0, -y0), max(0, y1 - height), max(0, -x0), max(0, x1 - width), cv2.BORDER_CONSTANT, value=(0, 0, 0)
    )
    factor = 1.0
    if side > CROP_SIDE:
        factor = CROP_SIDE / side
        crop = cv2.resize(crop, (CROP_SIDE, CROP_SIDE), interpolation=cv2.INTER_AREA)
    result = _mesh().process(np.ascontiguousarray(crop))
    if not result.multi_face_landmarks:
        return None
    marks = result.multi_face_landmarks[0].landmark
    crop_side = crop.shape[0]
    rel = np.array([(m.x, m.y, m.z) for m in marks], dtype=np.float32)
    points = np.empty_like(rel)
    points[:, 0] = rel[:, 0] * crop_side / factor + x0
    points[:, 1] = rel[:, 1] * crop_side / factor + y0
    points[:, 2] = rel[:, 2] * crop_side / factor
    centre = points[:, :2].mean(axis=0)
    if not (box.x0 <= centre[0] <= box.x1 and box.y0 <= centre[1] <= box.y1):
        return None  # Face Mesh locked onto another face in the padded crop
    return Landmarks(points=points, box=box)
