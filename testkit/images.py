"""Animations read and checked, and damaged or shadowed images made on the spot, for the pipeline's tests
and benchmarks."""

from __future__ import annotations

import dataclasses
import io

import cv2
import numpy as np
from PIL import Image

from pipeline import features, topology, warp
from pipeline.motion import FaceMotion
from pipeline.types import Still


def frames_of(data: bytes) -> list[np.ndarray]:
    """Every composited frame of an animated image, as RGB arrays."""
    with Image.open(io.BytesIO(data)) as image:
        out = []
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            out.append(np.asarray(image.convert("RGB")).copy())
        return out


def painted(
    still: Still, face_motion: FaceMotion, face_warp: warp.FaceWarp, index: int, *, lids_drawn: bool = True
) -> np.ndarray:
    """One face's frame `index`, whole: the warp, then (unless `lids_drawn` is False) the lids and mouth
    drawn over it."""
    dest = face_warp.vertex_positions(face_motion.frames[index])
    source = face_warp.source_positions(face_motion.sources[index])
    patch = warp.render(still.rgb, None, [(face_warp, dest, source)])
    assert patch is not None, "the frame moves nothing"
    if lids_drawn:
        patch = features.paint(still, patch, [face_motion], index)
    out = still.rgb.copy()
    out[patch.box.y0 : patch.box.y1, patch.box.x0 : patch.box.x1] = patch.rgb
    return out


def shadowed_socket(still: Still, face_motion: FaceMotion, eye: int, factor: float) -> Still:
    """The still with the socket round one eye in shadow, as under a heavy brow lit from above: darkened
    from just above the fold to under the lower lid, the lid and brow skin above it left lit.
    `factor`: how much light the shadow leaves. Also used by benchmarks/lid_variants.py."""
    _, upper, lower, corners, _, _ = topology.EYES[eye]
    iod = face_motion.pose.scale
    centre = face_motion.still[list(corners)].mean(axis=0)
    fold_top = face_motion.still[list(upper), 1].min() - 0.1 * iod
    rim_bottom = face_motion.still[list(lower), 1].max() + 0.1 * iod
    ys, xs = np.mgrid[: still.height, : still.width]
    half_width = 0.45 * iod
    inside = np.clip(1 - np.abs(xs - centre[0]) / half_width, 0, 1) * ((ys > fold_top) & (ys < rim_bottom))
    shade = 1 - (1 - factor) * cv2.GaussianBlur(inside.astype(np.float32), (0, 0), 0.03 * iod)
    return dataclasses.replace(still, rgb=np.clip(still.rgb * shade[..., None], 0, 255).astype(np.uint8))


def check_loop(data: bytes, original: bytes, pil_format: str) -> None:
    """An animation of `original` (zeman_2) in one format: the same canvas, at least 8 frames that loop
    at 15 frames per second or more for 1.5-3 s, and a first frame that is the photo (the fidelity
    rule over the whole picture; GIF, with 256 colours, within 5 levels mean)."""
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == pil_format and image.size == (960, 540)
        assert image.n_frames >= 8
        if pil_format == "AVIF":  # Pillow reports no loop for AVIF: the track's edit list repeats (its flags 1)
            assert b"elst\x01\x00\x00\x01" in data
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
    frames = frames_of(data)
    still = np.asarray(Image.open(io.BytesIO(original)).convert("RGB")).astype(int)
    error = frames[0].astype(int) - still
    if pil_format == "GIF":  # GIF has 256 colours
        assert np.abs(error).mean() < 5.0
    else:  # the fidelity rule over the whole picture (the face's 1.5 levels are test_pipeline_size's)
        assert 10 * np.log10(255.0**2 / float((error**2).mean())) >= 40.0


def check_descriptor(name: str, made: bytes) -> None:
    """The format's entry in the one table: found by its name, and the only one whose first bytes `made`,
    a file it encoded, matches."""
    from pipeline import formats

    assert formats.get(name).name == name
    assert [f.name for f in formats.FORMATS.values() if f.matches(made[:64])] == [name]
    assert formats.sniff(made[:64]) is formats.get(name)


def damaged_avif() -> bytes:
    """scikit-image's astronaut as a small AVIF with 32 bytes of its AV1 data zeroed: Pillow's AVIF
    plugin fails on it with its own RuntimeError ("Decoding of color planes failed")."""
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).resize((128, 128)).save(buffer, "AVIF", quality=60)
    damaged = bytearray(buffer.getvalue())
    at = len(damaged) * 9 // 10
    damaged[at : at + 32] = bytes(32)
    return bytes(damaged)


def corrupt_jpeg() -> bytes:
    """A JPEG with a run of 0xFF bytes in its scan: libjpeg inside OpenCV decodes it and warns
    "Corrupt JPEG data" on descriptor 2; Pillow refuses it."""
    rng = np.random.default_rng(1)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, "JPEG")
    damaged = bytearray(buffer.getvalue())
    damaged[len(damaged) // 2 : len(damaged) // 2 + 40] = b"\xff" * 40
    return bytes(damaged)
