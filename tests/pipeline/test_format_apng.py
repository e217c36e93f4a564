"""APNG (pipeline/formats/apng.py): the loop, the marking, and the two media types it goes by."""

from __future__ import annotations

import io

from PIL import Image

from pipeline import formats
from pipeline.marking import DIGITAL_SOURCE_TYPE
from testkit.images import check_descriptor, check_loop


def test_apng_is_a_valid_loop_of_the_same_size(zeman_2, animators):
    result = animators().animate(zeman_2, "apng")
    assert result.mime == "image/apng"
    check_loop(result.data, zeman_2, "PNG")
    check_descriptor("apng", result.data)
    assert formats.get("apng").suffix == ".png"


def test_apng_carries_the_synthetic_marking(zeman_2, animators):
    data = animators().animate(zeman_2, "apng").data
    assert DIGITAL_SOURCE_TYPE.encode() in data
    with Image.open(io.BytesIO(data)) as image:
        assert "In the wink of an eye" in image.getexif().get(0x0131, "")


def test_apng_is_served_as_image_apng_but_signed_as_the_png_it_is():
    """Clients name image/apng in Accept, and that is the Content-Type; c2pa refuses image/apng as an
    unsupported type, so it is told image/png (test_pipeline_provenance signs and reads every format)."""
    apng = formats.get("apng")
    assert (apng.http_mime, apng.c2pa_mime) == ("image/apng", "image/png")
