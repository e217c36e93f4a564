"""Every output format: same canvas, looping animation, first frame the still, marked as synthetic."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pipeline.marking import DIGITAL_SOURCE_TYPE
from tests.pipeline.helpers import frames_of


@pytest.fixture(scope="module")
def zeman(fixtures):
    return (fixtures / "faces" / "zeman" / "zeman_2.jpg").read_bytes()


@pytest.mark.parametrize(
    ("fmt", "pil_format", "mime"),
    [("webp", "WEBP", "image/webp"), ("apng", "PNG", "image/apng"), ("gif", "GIF", "image/gif")],
)
def test_format_is_a_valid_loop_of_the_same_size(zeman, animators, fmt, pil_format, mime):
    result = animators().animate(zeman, fmt)
    assert result.mime == mime
    with Image.open(io.BytesIO(result.data)) as image:
        assert image.format == pil_format and image.size == (960, 540)
        assert image.n_frames >= 8 and image.info["loop"] == 0  # Pillow has no key for a GIF that plays once
        durations = []
        for index in range(image.n_frames):
            image.seek(index)
            image.load()  # WebP sets a frame's duration when it is decoded
            durations.append(image.info.get("duration", 0))
    assert 1500 <= sum(durations) <= 3000
    moving = [d for d in durations[1:-1] if d]
    assert max(moving) <= 250 and sorted(moving)[len(moving) // 2] <= 67  # 15 frames per second or more
    frames = frames_of(result.data)
    still = np.asarray(Image.open(io.BytesIO(zeman)).convert("RGB")).astype(int)
    tolerance = 5.0 if fmt == "gif" else 1.5  # GIF has 256 colours
    assert np.abs(frames[0].astype(int) - still).mean() < tolerance


def test_webp_and_apng_carry_the_synthetic_marking(zeman, animators):
    for fmt in ("webp", "apng"):
        data = animators().animate(zeman, fmt).data
        assert DIGITAL_SOURCE_TYPE.encode() in data, fmt
        with Image.open(io.BytesIO(data)) as image:
            assert "In the wink of an eye" in image.getexif().get(0x0131, ""), fmt
    gif = animators().animate(zeman, "gif").data
    assert b"Synthetic animation" in gif


def test_icc_profile_and_exif_orientation_carry_into_the_animation(fixtures, animators):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    with Image.open(fixtures / "faces" / "zeman" / "zeman_2.jpg") as image:
        upright = image.convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 8  # stored turned, "rotate 270 CW to display"
    buffer = io.BytesIO()
    upright.transpose(Image.Transpose.ROTATE_270).save(buffer, "JPEG", quality=95, icc_profile=icc, exif=exif.tobytes())
    result = animators().animate(buffer.getvalue())
    assert result.animated
    with Image.open(io.BytesIO(result.data)) as animation:
        assert animation.size == upright.size  # upright, like the photo as a viewer sees it
        assert animation.info.get("icc_profile") == icc
