"""AVIF (pipeline/formats/avif.py): the loop, the marking as file items, and avif_container: the
track's metadata comes out of an AVIF sequence, and nothing else changes."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

import pipeline.formats.avif_container as avif
from pipeline import formats, provenance
from pipeline.marking import DIGITAL_SOURCE_TYPE, exif_block, xmp_packet
from testkit.images import check_descriptor, check_loop, frames_of


def sequence(frames: int) -> bytes:
    rng = np.random.default_rng(frames)
    images = [Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)) for _ in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "AVIF", save_all=True, append_images=images[1:], exif=exif_block(), xmp=xmp_packet())
    return buffer.getvalue()


def test_a_still_avif_comes_back_unchanged():
    still = sequence(1)
    assert avif.without_track_metadata(still) == still


def test_a_sequence_loses_only_the_tracks_metadata_and_survives_signing(tmp_path):
    data = sequence(3)
    fixed = avif.without_track_metadata(data)
    assert len(fixed) < len(data)
    kinds = [kind for kind, *_ in avif.boxes(fixed, 0, len(fixed))]
    assert kinds == [kind for kind, *_ in avif.boxes(data, 0, len(data))]  # ftyp, meta, moov, mdat
    signed = provenance.sign(fixed, "avif", "wink", provenance.load_key(tmp_path))
    before, after = frames_of(data), frames_of(signed)
    assert len(after) == 3 and all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    verdict = provenance.inspect(signed)
    assert verdict is not None and verdict.intact and verdict.synthetic


def test_avif_is_a_valid_loop_of_the_same_size(zeman_2, animators):
    result = animators().animate(zeman_2, "avif")
    assert result.mime == "image/avif"
    check_loop(result.data, zeman_2, "AVIF")
    check_descriptor("avif", result.data)
    assert formats.get("avif").c2pa_mime == "image/avif" and formats.get("avif").suffix == ".avif"


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


def test_avif_carries_the_marking_as_file_items_and_still_opens_once_signed(zeman_2, animators):
    """An AVIF sequence keeps its EXIF and XMP as items of the file's own meta box only (avif_container:
    the track's copy would be broken by signing), and there the item locations still point at them."""
    data = animators().animate(zeman_2, "avif").data
    assert data is not None
    items = _file_items(data)
    assert any(item.startswith(b"<?xpacket") and DIGITAL_SOURCE_TYPE.encode() in item for item in items)
    assert any(b"MM\x00*" in item[:16] and b"In the wink of an eye" in item for item in items)  # the EXIF
    [(offset, header, size)] = [(o, h, s) for kind, o, h, s in avif.boxes(data, 0, len(data)) if kind == b"moov"]
    tracks = [(o, h, s) for kind, o, h, s in avif.boxes(data, offset + header, offset + size) if kind == b"trak"]
    assert tracks and all(kind != b"meta" for o, h, s in tracks for kind, *_ in avif.boxes(data, o + h, o + s))
    assert len(frames_of(data)) >= 8  # every frame decodes after signing moved the boxes
