"""What an output format tells the rest of the product: the one shape every format module fills in.

A format module (webp.py, apng.py, gif.py, avif.py beside this one) makes one `Format` and
`pipeline.formats` registers it; the CLI, the encoder, the signer and the proxy read that table.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from pipeline.types import Box, Frame


@dataclass(frozen=True)
class Picture:
    """What an encode starts from: the upright still (RGB, and alpha of its own or None), its sRGB ICC
    profile, where the faces are (`focus`, None for none) and the bytes the photo was served as
    (`source`, None when unknown). A format uses what it needs of it."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    icc_profile: bytes | None = None
    focus: Box | None = None
    source: bytes | None = None


class Started(Protocol):
    """An encode begun on the still alone; `finish` ends it with the frames, `close` abandons it."""

    def finish(self, frames: list[Frame]) -> bytes: ...

    def close(self) -> None: ...


class Offer(enum.Enum):
    """When the proxy answers in a format (the client always names the format's HTTP type, but GIF)."""

    #: Whatever the client says: the format every browser paints.
    ALWAYS = "always"
    #: When the client's Accept header names the format's HTTP type.
    ACCEPTED = "accepted"
    #: When the client names it and the site served the photo in this format too.
    SERVED = "served"


@dataclass(frozen=True)
class Format:
    """One output format, as every part of the product sees it."""

    #: The name in options, the CLI's --format and cache keys.
    name: str
    #: The file name ending `wink animate` writes.
    suffix: str
    #: The Content-Type the proxy sends, and the type the client's Accept header names.
    http_mime: str
    #: The media type c2pa is told when it signs or reads the file; c2pa knows fewer types than HTTP.
    c2pa_mime: str
    #: Whether the first bytes of a file are this format's: the proxy serves only bytes that are.
    matches: Callable[[bytes], bool]
    #: The whole encode: the still and every frame in, the file's bytes out.
    encode: Callable[[Picture, list[Frame]], bytes]
    #: When the proxy picks this format, and its rank among the ones the client takes (lowest first).
    offer: Offer
    rank: int
    #: Whether the encoder may hold every frame at full size, so a large picture costs frames x pixels:
    #: the proxy animates such formats only up to a smaller size.
    whole_frames: bool
    #: Work the format begins on the still before the frames are drawn (None: it waits for them).
    start: Callable[[Picture], Started] | None = None

    def begin(self, picture: Picture) -> Started:
        """An encode of `picture` begun now: the format's own early start, or one that waits."""
        return self.start(picture) if self.start is not None else _Waiting(self.encode, picture)

    def offered(self, accepted: set[str], served: str | None) -> bool:
        """Whether the proxy may answer in this format a client that takes `accepted` media types, for
        a photo the site served as `served` (decode.sniff's kind)."""
        if self.offer is Offer.ALWAYS:
            return True
        return self.http_mime in accepted and (self.offer is Offer.ACCEPTED or served == self.name)


@dataclass
class _Waiting:
    """An encode with nothing to do before its frames are there."""

    encode: Callable[[Picture, list[Frame]], bytes]
    picture: Picture

    def finish(self, frames: list[Frame]) -> bytes:
        return self.encode(self.picture, frames)

    def close(self) -> None:
        pass
