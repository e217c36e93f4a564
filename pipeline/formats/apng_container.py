"""An APNG writer for an opaque photo's animation: RGB frames, one colour key for "leave as is".

The file is RGB with a tRNS colour key: the one colour no frame ever draws stands for a transparent
pixel, and a frame blended over the canvas leaves those pixels as they are. An RGBA file would spend
bytes on the still's constant alpha. Writing the chunks here also gives each frame its own rectangle
(Pillow crops to where a frame differs from the one before, which takes in the previous frame's
pixels too), the filter and the compressor.

Each frame's rows are filtered with PNG's Up filter: the posterized stills have long vertical runs,
so it beats choosing a filter per row. libdeflate compresses: zlib's ratio in less time.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import deflate
import numpy as np

from pipeline.types import Box

__all__ = ["ApngFrame", "write"]

SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_FILTER_UP = 2
DISPOSE_NONE = 0
BLEND_SOURCE, BLEND_OVER = 0, 1


@dataclass(frozen=True)
class ApngFrame:
    """`rgb` goes at `box`'s corner; blended over, its pixels of the key colour leave the canvas alone."""

    box: Box
    rgb: np.ndarray
    duration_ms: int
    blend_over: bool


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def compressed_rows(rgb: np.ndarray, level: int) -> bytes:
    """The zlib stream of an RGB frame's scanlines, each Up-filtered (the byte minus the one above)."""
    height, width = rgb.shape[:2]
    rows = rgb.reshape(height, width * 3)
    filtered = np.empty((height, width * 3 + 1), np.uint8)
    filtered[:, 0] = PNG_FILTER_UP
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # uint8 arithmetic wraps modulo 256, as PNG's does
    return bytes(deflate.zlib_compress(filtered.tobytes(), level))


def write(
    width: int,
    height: int,
    frames: list[ApngFrame],
    key: tuple[int, int, int],
    *,
    icc_profile: bytes | None,
    exif: bytes,
    texts: dict[str, str],
    xmp: str,
    level: int,
) -> bytes:
    """The APNG file. The first frame covers the canvas and is the image a PNG viewer shows."""
    parts = [SIGNATURE, _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))]
    if icc_profile:
        parts.append(_chunk(b"iCCP", b"ICC Profile\0\0" + zlib.compress(icc_profile)))
    parts.append(_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + xmp.encode()))
    parts += [_chunk(b"tEXt", name.encode("latin-1") + b"\0" + text.encode("latin-1")) for name, text in texts.items()]
    parts.append(_chunk(b"tRNS", struct.pack(">HHH", *key)))
    parts.append(_chunk(b"eXIf", exif))
    parts.append(_chunk(b"acTL", struct.pack(">II", len(frames), 0)))  # 0 plays: loop forever
    sequence = 0
    for index, frame in enumerate(frames):
        box = frame.box
        control = struct.pack(
            ">IIIIIHHBB",
            sequence,
            box.width,
            box.height,
            box.x0,
            box.y0,
            frame.duration_ms,
            1000,
            DISPOSE_NONE,
            BLEND_OVER if frame.blend_over else BLEND_SOURCE,
        )
        parts.append(_chunk(b"fcTL", control))
        sequence += 1
        data = compressed_rows(np.ascontiguousarray(frame.rgb), level)
        if index == 0:
            parts.append(_chunk(b"IDAT", data))
        else:
            parts.append(_chunk(b"fdAT", struct.pack(">I", sequence) + data))
            sequence += 1
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)
