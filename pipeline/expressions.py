"""The preset library beyond the default `wink`, authored with the controls of pipeline.authoring."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pipeline.presets import Preset

PRESETS: dict[str, Callable[[np.ndarray], Preset]] = {}
