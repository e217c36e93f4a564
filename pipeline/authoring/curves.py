"""Shape helpers the authored controls share: a landmark polyline as a curve, and a local weight."""

from __future__ import annotations

import numpy as np

from pipeline.easing import polyline_y


def interp_line(reference: np.ndarray, indices: tuple[int, ...], x: np.ndarray) -> np.ndarray:
    """y of a landmark polyline (sorted by x) at positions x, held flat beyond its ends."""
    return polyline_y(reference[list(indices)], x)


def bump(reference: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """A smooth weight, 1 at `centre` and exactly 0 beyond `radius`, so motion stays local."""
    d2 = ((reference[:, :2] - centre[:2]) ** 2).sum(axis=1) / radius**2
    return np.clip(1 - d2, 0, 1) ** 2
