"""Easing and curves shared by the stages (and the authoring tools) that shape motion over time or space."""

from __future__ import annotations

import numpy as np


def smoothstep(x):
    """0 below 0, 1 above 1, and a smooth S between (zero slope at both ends); scalars or arrays."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def polyline_y(points: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """y of a polyline through `points` ((N, 2+) x, y, ...; any order) at positions xs, held flat beyond its ends."""
    order = np.argsort(points[:, 0])
    return np.interp(xs, points[order, 0], points[order, 1])
