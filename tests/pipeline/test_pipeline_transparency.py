"""A photo with transparency stays transparent in every format (GIF by its one transparent index)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image


@pytest.mark.parametrize("fmt", ["webp", "apng", "gif"])
def test_transparent_corner_stays_transparent_in_every_frame(fixtures, animators, fmt):
    with Image.open(fixtures / "faces" / "zeman" / "zeman_2.jpg") as image:
        rgb = np.asarray(image.convert("RGB"))
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:60, :80] = 0
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(buffer, "PNG")
    data = animators().animate(buffer.getvalue(), fmt).data
    with Image.open(io.BytesIO(data)) as animation:
        assert animation.n_frames > 2
        for index in range(animation.n_frames):
            animation.seek(index)
            shown = np.asarray(animation.convert("RGBA"))
            assert shown[:60, :80, 3].max() == 0, f"{fmt} frame {index}: the clear corner is painted"
            assert shown[100:, 100:, 3].min() == 255, f"{fmt} frame {index}: the photo turned see-through"
