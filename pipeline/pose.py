"""Stage 4, pose: the canonical face frame in which presets describe motion.

Canonical frame of one face, built from points that an expression does not move (eye corners, nose):
- origin: midway between the two eyes' corner midpoints;
- x: towards the person's left eye (image right in a frontal photo), y: down the face (glabella to
  below the nose, made orthogonal to x), z = x cross y (away from the camera);
- unit: the inter-ocular distance (IOD), between the two eyes' corner midpoints.
A preset offset (dx, dy, dz) in IOD units means the same motion on any face, at any size or turn:
image offset = IOD * R @ offset, of which x and y are used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline import topology as t


@dataclass(frozen=True)
class Pose:
    """Where the canonical frame sits in the image: p_image = origin + scale * rotation @ p_canonical."""

    origin: np.ndarray  # (3,)
    rotation: np.ndarray  # (3, 3), columns are the canonical axes in image coordinates
    scale: float  # IOD in pixels

    def to_canonical(self, points: np.ndarray) -> np.ndarray:
        return ((points - self.origin) @ self.rotation) / self.scale

    def offsets_to_image(self, offsets: np.ndarray) -> np.ndarray:
        """Canonical offsets (..., 3) to image-pixel offsets (..., 3)."""
        return offsets @ (self.rotation.T * self.scale)

    @property
    def yaw_degrees(self) -> float:
        """How far the face is turned left or right (0 when frontal)."""
        return float(np.degrees(np.arcsin(np.clip(self.rotation[2, 0], -1.0, 1.0))))


def estimate_pose(points: np.ndarray) -> Pose:
    """The canonical frame of a face from its (478, 3) Face Mesh points."""
    points = np.asarray(points, dtype=np.float64)
    right_eye = points[list(t.RIGHT_EYE_CORNERS)].mean(axis=0)
    left_eye = points[list(t.LEFT_EYE_CORNERS)].mean(axis=0)
    across = left_eye - right_eye
    scale = float(np.linalg.norm(across))
    x_axis = across / scale
    down = points[t.SUBNASALE] - points[t.GLABELLA]
    down = down - (down @ x_axis) * x_axis
    y_axis = down / np.linalg.norm(down)
    z_axis = np.cross(x_axis, y_axis)
    rotation = np.stack([x_axis, y_axis, z_axis], axis=1)
    return Pose(origin=(right_eye + left_eye) / 2, rotation=rotation, scale=scale)
