"""The animated WebP container, written by Google's "WebP Container Specification".

webp.py decides what each frame holds; this module turns single-image encodes into the chunks an
ANMF frame carries and assembles the file: VP8X, ICCP, ANIM, ANMF..., EXIF, XMP, in that order, with
the VP8X flags saying what the file really holds.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image

from pipeline.types import Box

#: VP8X feature flags ("Extended file format"); bits 0 and 6-7 are reserved.
VP8X_ANIMATION, VP8X_XMP, VP8X_EXIF, VP8X_ALPHA, VP8X_ICC = 0x02, 0x04, 0x08, 0x10, 0x20
#: ANMF flags: bit 1 set means "do not blend" (overwrite), bit 0 set means "dispose to background".
ANMF_NO_BLEND = 0b10
#: ANIM background colour, in the spec's byte order (blue, green, red, alpha): transparent. The first
#: frame covers the whole canvas without blending and no frame disposes, so it never shows; a reader
#: that uses it anyway clears to transparent, which is right for images with alpha and hidden for others.
BACKGROUND_BGRA = bytes(4)
#: Loop count 0: loop forever.
LOOP_FOREVER = 0
_IMAGE_CHUNKS = (b"ALPH", b"VP8 ", b"VP8L")


@dataclass(frozen=True)
class WebPFrame:
    """One ANMF frame: where it goes on the canvas, its image chunks, how long it shows, and whether
    it is alpha-blended over the canvas (True) or replaces what is under it (False)."""

    box: Box
    chunks: bytes
    duration_ms: int
    blend: bool


def chunk(fourcc: bytes, payload: bytes) -> bytes:
    """A RIFF chunk: FourCC, little-endian size, payload, padded to an even length."""
    pad = b"\x00" if len(payload) % 2 else b""
    return fourcc + struct.pack("<I", len(payload)) + payload + pad


def _u24(value: int) -> bytes:
    return struct.pack("<I", value)[:3]


def frame_chunks(image: Image.Image, quality: float | None, method: int) -> bytes:
    """The ALPH/VP8 (or, for quality None, VP8L) chunks of a single-image encode, ready for an ANMF."""
    buffer = io.BytesIO()
    if quality is None:  # lossless, at libwebp's fastest effort: it is only the fallback
        image.save(buffer, "WEBP", lossless=True, quality=0, method=0)
    else:
        image.save(buffer, "WEBP", quality=quality, method=method, alpha_quality=100)
    chunks = still_chunks(buffer.getvalue())
    assert chunks is not None  # Pillow wrote a whole still WebP
    return chunks


def still_chunks(data: bytes) -> bytes | None:
    """The ALPH/VP8/VP8L chunks of a still WebP file, ready for an ANMF; None for an animation, a
    file that is not WebP, or one that is cut short."""
    if len(data) < 20 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    out, offset = [], 12
    while offset + 8 <= len(data):
        fourcc = data[offset : offset + 4]
        size = struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        end = offset + 8 + size + (size % 2)
        if fourcc in (b"ANIM", b"ANMF") or offset + 8 + size > len(data):
            return None
        if fourcc in _IMAGE_CHUNKS:
            out.append(data[offset:end])
        offset = end
    return b"".join(out) if out and out[-1][:4] in (b"VP8 ", b"VP8L") else None


def decode_frame(chunks: bytes) -> np.ndarray:
    """RGB pixels a decoder shows for one opaque frame's chunks (wrapped back into a one-frame WebP)."""
    data = b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def carries_alpha(chunks: bytes) -> bool:
    """Whether one frame's image data holds transparency: an ALPH chunk before its VP8 bitstream, or a
    VP8L bitstream whose header sets `alpha_is_used` (after the 0x2F signature: 14 bits width - 1,
    14 bits height - 1, then that bit, least significant bit first)."""
    fourcc = chunks[:4]
    if fourcc == b"ALPH":
        return True
    if fourcc == b"VP8L":
        return bool(int.from_bytes(chunks[9:13], "little") >> 28 & 1)
    return False


def assemble(
    width: int, height: int, frames: list[WebPFrame], icc_profile: bytes | None, exif: bytes, xmp: bytes
) -> bytes:
    """The whole file. The alpha flag is set when any frame carries transparency, as the spec asks.

    The blended delta frames of an opaque photo do: without the flag Chromium treats the whole
    animation as opaque and paints those frames' transparent pixels instead of compositing them.
    """
    has_alpha = any(carries_alpha(frame.chunks) for frame in frames)
    flags = VP8X_ANIMATION | VP8X_XMP | VP8X_EXIF | (VP8X_ALPHA if has_alpha else 0) | (VP8X_ICC if icc_profile else 0)
    body = [chunk(b"VP8X", bytes([flags, 0, 0, 0]) + _u24(width - 1) + _u24(height - 1))]
    if icc_profile:
        body.append(chunk(b"ICCP", icc_profile))
    body.append(chunk(b"ANIM", BACKGROUND_BGRA + struct.pack("<H", LOOP_FOREVER)))
    for frame in frames:
        box = frame.box
        if box.x0 % 2 or box.y0 % 2 or box.x1 > width or box.y1 > height:
            raise ValueError(f"frame {box} is not on even offsets inside the {width}x{height} canvas")
        header = (
            _u24(box.x0 // 2)
            + _u24(box.y0 // 2)
            + _u24(box.width - 1)
            + _u24(box.height - 1)
            + _u24(min(int(frame.duration_ms), 0xFFFFFF))
            + bytes([0 if frame.blend else ANMF_NO_BLEND])
        )
        body.append(chunk(b"ANMF", header + frame.chunks))
    body.append(chunk(b"EXIF", exif))
    body.append(chunk(b"XMP ", xmp))
    payload = b"WEBP" + b"".join(body)
    return b"RIFF" + struct.pack("<I", len(payload)) + payload
