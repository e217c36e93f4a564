"""Colours: a photo in a wide-gamut space reaches every browser as it looked, animated or not.

Chromium ignores the ICC profile of an animated WebP (it applies it to a still), so decode turns such
photos into sRGB; a profile that is sRGB in all but name is kept with the pixels untouched.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageCms

from pipeline import decode


def _png_with_profile(fixtures, icc: bytes) -> tuple[bytes, np.ndarray]:
    with Image.open(fixtures / "faces" / "zeman" / "zeman_2.jpg") as image:
        rgb = image.convert("RGB")
    buffer = io.BytesIO()
    rgb.save(buffer, "PNG", icc_profile=icc)  # lossless, so the pixels are known exactly
    return buffer.getvalue(), np.asarray(rgb)


def test_wide_gamut_photo_is_converted_to_srgb_and_its_profile_dropped(fixtures):
    with Image.open(fixtures / "faces" / "kit_harington" / "kit_2.jpg") as kit:
        prophoto = kit.info["icc_profile"]  # the fixture's own ProPhoto RGB profile
    data, raw = _png_with_profile(fixtures, prophoto)
    still = decode.decode(data)
    assert still.icc_profile is None
    expected = ImageCms.profileToProfile(
        Image.fromarray(raw), ImageCms.ImageCmsProfile(io.BytesIO(prophoto)), ImageCms.createProfile("sRGB")
    )
    assert np.abs(still.rgb.astype(int) - np.asarray(expected).astype(int)).max() <= 1
    assert np.abs(still.rgb.astype(int) - raw.astype(int)).mean() > 3  # it did change: wider primaries


def test_srgb_profile_keeps_pixels_and_profile(fixtures):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data, raw = _png_with_profile(fixtures, srgb)
    still = decode.decode(data)
    assert still.icc_profile == srgb
    assert np.array_equal(still.rgb, raw)


def test_unreadable_profile_is_dropped_and_pixels_kept(fixtures):
    broken = b"\x00\x00\x02\x00lcms\x02\x10\x00\x00mntrRGB XYZ " + b"\x00" * 100
    data, raw = _png_with_profile(fixtures, broken)
    still = decode.decode(data)
    assert still.icc_profile is None
    assert np.array_equal(still.rgb, raw)
