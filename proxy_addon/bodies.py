"""Response bodies: which ones are worth a look, and inflating them without trusting their size.

Pure functions of bytes and headers; the add-on runs `examine` in a thread, since decompressing and
hashing take time.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mitmproxy.net import encoding as content_encoding

from pipeline.decode import ANIMATABLE, probe, sniff
from pipeline.errors import WinkError

#: Kinds a browser shows as a photo and the pipeline animates; SVG, ICO, TIFF, HEIF... pass untouched.
ANIMATE_KINDS = ANIMATABLE - {"tiff"}
#: Content types never worth decoding a compressed body for (pages, scripts, styles, data).
TEXTUAL = re.compile(r"^\s*(text/|application/(javascript|json|xml|xhtml|x-javascript|ld\+json|manifest))", re.I)
#: The most a compressed image body is inflated to (far over pipeline.decode.MAX_PIXELS' worth of JPEG).
MAX_DECODED = 64 * 1024 * 1024


@dataclass(frozen=True)
class Candidate:
    """An image response worth a look: its decoded body, cache key and what the cache already knows."""

    body: bytes
    key: str
    cached: bytes | None  # None: miss; b"": nothing to do; else the animation


@dataclass(frozen=True)
class Untouched:
    """An image that passes as it is, and why (logged at debug level, counted as passed)."""

    reason: str


def may_be_image(raw: bytes, headers: Mapping[str, str]) -> bool:
    """Cheap first look, on the event loop: most pages, scripts and styles are decided here."""
    if headers.get("content-encoding"):
        return not TEXTUAL.match(headers.get("content-type", ""))
    return sniff(raw[:1024]) is not None


def is_complete(raw: bytes, headers: Mapping[str, str]) -> bool:
    """False when Content-Length says the body we hold is not all of it."""
    length = headers.get("content-length")
    chunked = "transfer-encoding" in headers
    return length is None or chunked or length.strip() == str(len(raw))


def examine(
    raw: bytes, encoding: str | None, min_size: int, key_suffix: str, lookup: Callable[[str], bytes | None]
) -> Candidate | Untouched | None:
    """Decide what to do with a response body: None for "not an image" (not counted), Untouched for an
    image passed as it is, or a Candidate for the pipeline."""
    if encoding:
        decoded = inflate(raw, encoding)
        if not isinstance(decoded, bytes):
            return decoded
        body = decoded
    else:
        body = raw
    kind = sniff(body[:1024])
    if kind is None:
        return None
    if kind not in ANIMATE_KINDS:
        return Untouched(f"{kind} is not animated")
    try:
        info = probe(body)  # refuses images over pipeline.decode.MAX_PIXELS (decompression bombs)
    except WinkError as error:
        return Untouched(str(error))
    if info.frames > 1:
        return Untouched("already animated")
    if min(info.width, info.height) < min_size:
        return Untouched("too small")
    key = hashlib.sha256(body).hexdigest() + key_suffix
    return Candidate(body, key, lookup(key))


def inflate(raw: bytes, encoding: str) -> bytes | Untouched | None:
    """The body without its content-encoding; None when it cannot be decoded or is no image, Untouched
    when it expands beyond MAX_DECODED. gzip and deflate are inflated a little first, to see whether
    they hold an image at all, and never further than the limit: a compressed bomb labelled image/jpeg
    must not take the proxy's memory."""
    if encoding.strip().lower() not in ("gzip", "x-gzip", "deflate"):
        try:
            body = content_encoding.decode(raw, encoding)
        except ValueError:
            return None
        return body if isinstance(body, bytes) else None
    for wbits in (47, -15):  # gzip or zlib wrapper (detected), else raw deflate
        inflater = zlib.decompressobj(wbits)
        try:
            head = inflater.decompress(raw, 1024)
            if sniff(head) is None:
                return None
            body = head + inflater.decompress(inflater.unconsumed_tail, MAX_DECODED - len(head) + 1)
        except zlib.error:
            continue
        return Untouched("too large once decompressed") if len(body) > MAX_DECODED else body
    return None
