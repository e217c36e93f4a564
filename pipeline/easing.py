"""Easing shared by the stages that shape motion over time or space."""

from __future__ import annotations

import numpy as np


def smoothstep(x):
    """0 below 0, 1 above 1, and a smooth S between (zero slope at both ends); scalars or arrays."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)
