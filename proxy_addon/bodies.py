"""Response bodies: which ones are worth a look, and inflating them without trusting their size.

Pure functions of bytes and headers; the add-on runs `examine` in a thread, since decompressing and
hashing take time. Every Content-Encoding we inflate goes through a streaming decoder that hands out
small pieces and stops at MAX_DECODED: a bomb is counted, never held. An encoding we do not know
(bz2, zlib, base64, ... which Python's codecs would happily undo without a limit) is not inflated at
all: the response passes as it came.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Callable, Container, Iterator, Mapping
from dataclasses import dataclass

import brotli
import zstandard

from pipeline import formats
from pipeline.decode import ANIMATABLE, probe, sniff
from pipeline.errors import WinkError

#: Kinds a browser shows as a photo and the pipeline animates; SVG, ICO, TIFF, HEIF... pass untouched.
ANIMATE_KINDS = ANIMATABLE - {"tiff"}
#: The most a compressed image body is inflated to (far over pipeline.decode.MAX_PIXELS' worth of JPEG).
MAX_DECODED = 48 * 1024 * 1024
#: The header check reads this much of the (decoded) body: Pillow then never scans a 20 MB body.
HEADER_PREFIX = 256 * 1024
#: Decoded pieces are at most about this large (brotli may hand out more from one input byte).
PIECE = 256 * 1024
#: Pixels over which an image is not animated in a format that keeps every frame at full size
#: (Format.whole_frames: GIF, APNG and AVIF).
MAX_PIXELS_FULL_FRAMES = 4_000_000


@dataclass(frozen=True)
class Candidate:
    """An image response worth a look: its decoded body, cache key and what the cache already knows."""

    body: bytes
    key: str
    cached: bytes | None  # None: miss; b"": nothing to do; else the animation


@dataclass(frozen=True)
class Untouched:
    """An image that passes as it is, and why (logged at debug level, counted as passed); `raw_key`
    names the body, so a refused one is not examined again."""

    reason: str
    raw_key: str = ""


def may_be_image(raw: bytes, headers: Mapping[str, str]) -> bool:
    """Cheap first look, on the event loop: an encoded body is looked at in a thread, a plain one must
    start like an image."""
    if headers.get("content-encoding"):
        return True
    return sniff(raw[:1024]) is not None


def is_complete(raw: bytes, headers: Mapping[str, str]) -> bool:
    """False when Content-Length says the body we hold is not all of it."""
    length = headers.get("content-length")
    chunked = "transfer-encoding" in headers
    return length is None or chunked or length.strip() == str(len(raw))


def examine(
    raw: bytes,
    encoding: str | None,
    min_size: int,
    fmt: str,
    key_suffix: str,
    lookup: Callable[[str], bytes | None],
    refused: Container[str] = (),
) -> Candidate | Untouched | None:
    """Decide what to do with a response body: None for "not an image" (not counted), Untouched for an
    image passed as it is, or a Candidate for the pipeline. Only a bounded prefix is read until the
    header says the image is worth animating."""
    raw_key = hashlib.sha256(raw).hexdigest()
    if raw_key in refused:
        return Untouched("refused before", raw_key)
    pieces = decoder(encoding or "identity")
    if pieces is None:
        return None
    try:
        head = prefix(pieces(raw), HEADER_PREFIX)
    except ValueError:
        return None
    kind = sniff(head[:1024])
    if kind is None:
        return None
    if kind not in ANIMATE_KINDS:
        return Untouched(f"{kind} is not animated", raw_key)
    try:
        info = probe(head)  # refuses images over pipeline.decode.MAX_PIXELS (decompression bombs)
    except WinkError as error:
        return Untouched(str(error), raw_key)
    if info.frames > 1:
        return Untouched("already animated", raw_key)
    if min(info.width, info.height) < min_size:
        return Untouched("too small", raw_key)
    if formats.get(fmt).whole_frames and info.width * info.height > MAX_PIXELS_FULL_FRAMES:
        return Untouched(f"too large for {fmt}", raw_key)
    body = raw
    if encoding:
        try:
            if measure(pieces(raw), MAX_DECODED) > MAX_DECODED:
                return Untouched("too large once decompressed", raw_key)
            body = b"".join(pieces(raw))
        except ValueError:
            return Untouched("cannot be decompressed", raw_key)
    digest = raw_key if body is raw else hashlib.sha256(body).hexdigest()  # a plain body is hashed once
    key = digest + key_suffix
    return Candidate(body, key, lookup(key))


def prefix(pieces: Iterator[bytes], size: int) -> bytes:
    """The first `size` bytes (or all, if fewer) of a decoded stream."""
    head = bytearray()
    for piece in pieces:
        head += piece
        if len(head) >= size:
            break
    return bytes(head[:size])


def measure(pieces: Iterator[bytes], limit: int) -> int:
    """The decoded size, counted without keeping the bytes; stops once past `limit`."""
    total = 0
    for piece in pieces:
        total += len(piece)
        if total > limit:
            break
    return total


Pieces = Callable[[bytes], Iterator[bytes]]


def decoder(encoding: str) -> Pieces | None:
    """The streaming decoder for one Content-Encoding, or None for one we do not inflate (a list of
    several, or anything but identity, gzip, deflate, br and zstd)."""
    return DECODERS.get(encoding.strip().lower())


def _identity(raw: bytes) -> Iterator[bytes]:
    yield raw


def _zlib(raw: bytes, wbits: int) -> Iterator[bytes]:
    inflater = zlib.decompressobj(wbits)
    data = raw
    try:
        while True:
            piece = inflater.decompress(data, PIECE)
            data = inflater.unconsumed_tail
            if piece:
                yield piece
            if inflater.eof or (not piece and not data):
                return
    except zlib.error as error:
        raise ValueError(str(error)) from error


def _gzip(raw: bytes) -> Iterator[bytes]:
    return _zlib(raw, 31)


def _deflate(raw: bytes) -> Iterator[bytes]:
    """ "deflate" is meant to be zlib-wrapped, but servers send raw deflate too (as browsers accept)."""
    wrapped = len(raw) >= 2 and (raw[0] & 0x0F) == 8 and (raw[0] << 8 | raw[1]) % 31 == 0
    return _zlib(raw, 15 if wrapped else -15)


def _brotli(raw: bytes) -> Iterator[bytes]:
    """brotli 1.1 (the newest mitmproxy allows) has no output limit, and one input byte can stand for
    megabytes: feed one byte at a time, so no piece is larger than what a single byte expands to."""
    inflater = brotli.Decompressor()
    try:
        for start in range(len(raw)):
            piece = inflater.process(raw[start : start + 1])
            if piece:
                yield piece
    except brotli.error as error:
        raise ValueError(str(error)) from error


def _zstd(raw: bytes) -> Iterator[bytes]:
    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw), read_across_frames=True) as reader:
            while piece := reader.read(PIECE):
                yield piece
    except zstandard.ZstdError as error:
        raise ValueError(str(error)) from error


DECODERS: dict[str, Pieces] = {
    "identity": _identity,
    "gzip": _gzip,
    "x-gzip": _gzip,
    "deflate": _deflate,
    "br": _brotli,
    "zstd": _zstd,
}
