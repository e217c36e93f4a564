"""pipeline.avif: the track's metadata comes out of an AVIF sequence, and nothing else changes."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from pipeline import avif, provenance
from pipeline.marking import exif_block, xmp_packet
from tests.pipeline.helpers import frames_of


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
