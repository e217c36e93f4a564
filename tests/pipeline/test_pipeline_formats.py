"""Every output format: same canvas, looping animation, first frame the still, marked as synthetic."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image

from pipeline import avif, encode
from pipeline.marking import DIGITAL_SOURCE_TYPE
from pipeline.types import Box
from tests.pipeline.helpers import frames_of


@pytest.fixture(scope="module")
def zeman(fixtures):
    return (fixtures / "faces" / "zeman" / "zeman_2.jpg").read_bytes()


@pytest.mark.parametrize(
    ("fmt", "pil_format", "mime"),
    [
        ("webp", "WEBP", "image/webp"),
        ("apng", "PNG", "image/apng"),
        ("gif", "GIF", "image/gif"),
        ("avif", "AVIF", "image/avif"),
    ],
)
def test_format_is_a_valid_loop_of_the_same_size(zeman, animators, fmt, pil_format, mime):
    result = animators().animate(zeman, fmt)
    assert result.mime == mime
    with Image.open(io.BytesIO(result.data)) as image:
        assert image.format == pil_format and image.size == (960, 540)
        assert image.n_frames >= 8
        if fmt == "avif":  # Pillow reports no loop for AVIF: the track's edit list repeats (its flags 1)
            assert b"elst\x01\x00\x00\x01" in result.data
        else:
            assert image.info["loop"] == 0  # Pillow has no key for a GIF that plays once
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
    error = frames[0].astype(int) - still
    if fmt == "gif":  # GIF has 256 colours
        assert np.abs(error).mean() < 5.0
    else:  # the fidelity rule over the whole picture (the face's 1.5 levels are test_pipeline_size's)
        assert 10 * np.log10(255.0**2 / float((error**2).mean())) >= 40.0


def test_webp_apng_and_avif_carry_the_synthetic_marking(zeman, animators):
    for fmt in ("webp", "apng"):
        data = animators().animate(zeman, fmt).data
        assert DIGITAL_SOURCE_TYPE.encode() in data, fmt
        with Image.open(io.BytesIO(data)) as image:
            assert "In the wink of an eye" in image.getexif().get(0x0131, ""), fmt
    gif = animators().animate(zeman, "gif").data
    assert b"Synthetic animation" in gif


def _file_items(data: bytes) -> list[bytes]:
    """The data of each item of an AVIF's file-level meta box, where its iloc says (libavif's iloc:
    version 0, 4-byte offsets and lengths, no base offset)."""
    [(offset, header, size)] = [(o, h, s) for kind, o, h, s in avif.boxes(data, 0, len(data)) if kind == b"meta"]
    [at] = [o + h for kind, o, h, _ in avif.boxes(data, offset + header + 4, offset + size) if kind == b"iloc"]
    assert data[at] == 0 and data[at + 4 : at + 6] == b"\x44\x00"
    items, position = [], at + 8
    for _ in range(int.from_bytes(data[at + 6 : at + 8], "big")):
        extents = int.from_bytes(data[position + 4 : position + 6], "big")
        parts = []
        for index in range(extents):
            start = position + 6 + 8 * index
            where, length = (
                int.from_bytes(data[start : start + 4], "big"),
                int.from_bytes(data[start + 4 : start + 8], "big"),
            )
            parts.append(data[where : where + length])
        items.append(b"".join(parts))
        position += 6 + 8 * extents
    return items


def test_avif_carries_the_marking_as_file_items_and_still_opens_once_signed(zeman, animators):
    """An AVIF sequence keeps its EXIF and XMP as items of the file's own meta box only (pipeline.avif:
    the track's copy would be broken by signing), and there the item locations still point at them."""
    data = animators().animate(zeman, "avif").data
    assert data is not None
    items = _file_items(data)
    assert any(item.startswith(b"<?xpacket") and DIGITAL_SOURCE_TYPE.encode() in item for item in items)
    assert any(b"MM\x00*" in item[:16] and b"In the wink of an eye" in item for item in items)  # the EXIF
    [(offset, header, size)] = [(o, h, s) for kind, o, h, s in avif.boxes(data, 0, len(data)) if kind == b"moov"]
    tracks = [(o, h, s) for kind, o, h, s in avif.boxes(data, offset + header, offset + size) if kind == b"trak"]
    assert tracks and all(kind != b"meta" for o, h, s in tracks for kind, *_ in avif.boxes(data, o + h, o + s))
    assert len(frames_of(data)) >= 8  # every frame decodes after signing moved the boxes


def test_an_encoding_begun_before_its_frames_ends_its_thread_when_drawing_fails():
    """api.animate begins the WebP's first frame before the frames are drawn; a failure in between
    must not leave the encoding's thread running in a worker process."""
    rgb = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    with pytest.raises(RuntimeError), encode.begin("webp", rgb, None, None, Box(32, 16, 96, 80)):
        raise RuntimeError("the frames could not be drawn")
    assert not any(thread.name.startswith("wink-encode") for thread in threading.enumerate())
