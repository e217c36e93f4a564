"""WebP (pipeline/formats/webp.py): the loop, the marking, and the container read chunk by chunk
against Google's WebP container specification.

Pillow decodes a file whose VP8X flags contradict its frames without complaint; Chromium does not
(it painted blended frames as white blocks while the alpha flag was unset), so the flags are checked
here against what the frames really carry.
"""

from __future__ import annotations

import io
import struct
import threading

import numpy as np
import pytest
from PIL import Image, ImageOps

from pipeline import encode, formats
from pipeline.marking import DIGITAL_SOURCE_TYPE
from pipeline.types import Box
from testkit.images import check_descriptor, check_loop


def chunks(data: bytes, offset: int = 12, end: int | None = None) -> list[tuple[bytes, bytes]]:
    """(fourcc, payload) of every chunk from `offset`, with RIFF's padding to even sizes."""
    out, end = [], len(data) if end is None else end
    while offset < end:
        fourcc, size = data[offset : offset + 4], struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        out.append((fourcc, data[offset + 8 : offset + 8 + size]))
        offset += 8 + size + size % 2
    assert offset == end, "chunk sizes do not add up to the file"
    return out


def u24(data: bytes) -> int:
    return int.from_bytes(data[:3], "little")


def frame_has_alpha(frame_chunks: list[tuple[bytes, bytes]]) -> bool:
    fourccs = [fourcc for fourcc, _ in frame_chunks]
    if b"ALPH" in fourccs:
        return True
    vp8l = dict(frame_chunks).get(b"VP8L")
    return vp8l is not None and bool(int.from_bytes(vp8l[1:5], "little") >> 28 & 1)


def check_container(data: bytes, *, icc: bool) -> bool:
    """Assert the layout the spec asks for; return whether the file says it has alpha."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    top = chunks(data)
    order = [fourcc for fourcc, _ in top]
    frames_at = [i for i, fourcc in enumerate(order) if fourcc == b"ANMF"]
    expected = [b"VP8X", *([b"ICCP"] if icc else []), b"ANIM"]
    assert order[: len(expected)] == expected
    assert frames_at == list(range(len(expected), len(expected) + len(frames_at))), "frames are not consecutive"
    # The spec lets unknown chunks follow; C2PA's WebP binding puts its manifest in a last "C2PA" chunk.
    assert order[frames_at[-1] + 1 :] == [b"EXIF", b"XMP ", b"C2PA"]

    vp8x = top[0][1]
    flags = vp8x[0]
    width, height = u24(vp8x[4:7]) + 1, u24(vp8x[7:10]) + 1
    assert flags & 0b1100_0001 == 0 and vp8x[1:4] == b"\0\0\0", "reserved bits set"
    assert flags & 0x02 and flags & 0x04 and flags & 0x08, "animation, XMP and EXIF flags"
    assert bool(flags & 0x20) == icc

    anim = top[order.index(b"ANIM")][1]
    assert len(anim) == 6 and struct.unpack("<H", anim[4:6])[0] == 0, "loops forever"

    any_alpha = False
    for index in frames_at:
        payload = top[index][1]
        x, y = 2 * u24(payload[0:3]), 2 * u24(payload[3:6])
        w, h = u24(payload[6:9]) + 1, u24(payload[9:12]) + 1
        assert x + w <= width and y + h <= height, "frame outside the canvas"
        assert payload[15] & 0b1111_1100 == 0 and payload[15] & 1 == 0, "reserved bits, or a disposal"
        inner = chunks(payload, 16)
        kinds = [fourcc for fourcc, _ in inner]
        assert kinds in ([b"VP8 "], [b"ALPH", b"VP8 "], [b"VP8L"]), kinds
        if index == frames_at[0]:
            assert (x, y, w, h) == (0, 0, width, height), "the first frame covers the canvas"
            assert payload[15] & 0b10, "the first frame replaces the canvas instead of blending"
        any_alpha |= frame_has_alpha(inner)
    assert bool(flags & 0x10) == any_alpha, "VP8X alpha flag disagrees with the frames"
    return any_alpha


def test_webp_is_a_valid_loop_of_the_same_size(zeman_2, animators):
    result = animators().animate(zeman_2, "webp")
    assert result.mime == "image/webp"
    check_loop(result.data, zeman_2, "WEBP")
    check_descriptor("webp", result.data)
    assert formats.get("webp").c2pa_mime == "image/webp" and formats.get("webp").suffix == ".webp"


def test_webp_carries_the_synthetic_marking(zeman_2, animators):
    data = animators().animate(zeman_2, "webp").data
    assert DIGITAL_SOURCE_TYPE.encode() in data
    with Image.open(io.BytesIO(data)) as image:
        assert "In the wink of an eye" in image.getexif().get(0x0131, "")


def test_an_encoding_begun_before_its_frames_ends_its_thread_when_drawing_fails():
    """api.animate begins the WebP's first frame before the frames are drawn; a failure in between
    must not leave the encoding's thread running in a worker process."""
    rgb = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    with pytest.raises(RuntimeError), encode.begin("webp", rgb, None, None, Box(32, 16, 96, 80)):
        raise RuntimeError("the frames could not be drawn")
    assert not any(thread.name.startswith("wink-encode") for thread in threading.enumerate())


def test_opaque_photo_sets_the_alpha_flag_for_its_blended_frames(zeman_2, animators):
    """An opaque photo's delta frames are transparent around what changed, so the file has alpha."""
    data = animators().animate(zeman_2).data
    assert check_container(data, icc=False)
    with Image.open(io.BytesIO(data)) as image:
        image.seek(image.n_frames - 1)
        assert image.convert("RGBA").getextrema()[3] == (255, 255), "the composited canvas is opaque"


def test_photo_with_alpha_and_icc_profile_keeps_both(zeman_2, animators):
    from PIL import ImageCms

    with Image.open(io.BytesIO(zeman_2)) as image:
        rgba = np.dstack([np.asarray(image.convert("RGB")), np.full(image.size[::-1], 255, np.uint8)])
    rgba[:40, :40, 3] = 0  # a transparent corner, far from the face
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG", icc_profile=icc)
    data = animators().animate(buffer.getvalue()).data
    assert check_container(data, icc=True)
    with Image.open(io.BytesIO(data)) as image:
        for index in (0, image.n_frames // 2):
            image.seek(index)
            alpha = np.asarray(image.convert("RGBA"))[..., 3]
            assert alpha[:40, :40].max() == 0 and alpha[100:, 100:].min() == 255, index


def test_photo_served_as_webp_starts_with_its_own_bitstream(zeman_2, animators):
    """A still WebP's own VP8 data is the first frame: the photo exactly, at the site's own size."""
    with Image.open(io.BytesIO(zeman_2)) as image:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "WEBP", quality=80)
    served = buffer.getvalue()
    data = animators().animate(served).data
    assert check_container(data, icc=False)
    first = next(payload for fourcc, payload in chunks(data) if fourcc == b"ANMF")
    vp8 = next(payload for fourcc, payload in chunks(served) if fourcc == b"VP8 ")
    assert vp8 in first[16:]
    with Image.open(io.BytesIO(served)) as photo, Image.open(io.BytesIO(data)) as animation:
        assert np.array_equal(np.asarray(animation.convert("RGB")), np.asarray(photo.convert("RGB")))
        animation.seek(animation.n_frames - 1)  # and the loop closes on it
        last = np.asarray(animation.convert("RGB")).astype(int)
        assert np.abs(last - np.asarray(photo.convert("RGB")).astype(int)).mean() < 0.5


def test_webp_turned_upright_is_encoded_anew(zeman_2, animators):
    """A WebP whose EXIF says to turn it is shown turned: its own bitstream would be the wrong way up."""
    with Image.open(io.BytesIO(zeman_2)) as image:
        upright = image.convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 8
    buffer = io.BytesIO()
    upright.transpose(Image.Transpose.ROTATE_270).save(buffer, "WEBP", quality=80, exif=exif.tobytes())
    data = animators().animate(buffer.getvalue()).data
    with Image.open(io.BytesIO(buffer.getvalue())) as photo:
        expected = np.asarray(ImageOps.exif_transpose(photo).convert("RGB")).astype(int)
    with Image.open(io.BytesIO(data)) as animation:
        assert animation.size == upright.size
        shown = np.asarray(animation.convert("RGB")).astype(int)
    assert np.abs(shown - expected).mean() < 1.5  # re-encoded within the fidelity rule, the right way up
