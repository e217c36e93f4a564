"""Animated AVIF (an AV1 image sequence), for photos a site already serves as AVIF.

AV1's inter frames code the unchanged pixels of every later frame in almost nothing, so the
sequence holds whole frames (libavif takes no sub-rectangles). avif_container.py makes the file
safe for the C2PA signature that follows.
"""

from __future__ import annotations

import pipeline.formats.avif_container as avif_container
from pipeline.formats.frames import full_frames, pillow_sequence
from pipeline.formats.spec import Format, Offer, Picture
from pipeline.marking import exif_block, xmp_packet
from pipeline.types import Frame

__all__ = ["FORMAT", "encode"]

#: The brands of an ISO media file's `ftyp` box that make it AVIF: a still image, an image sequence.
BRANDS = frozenset({b"avif", b"avis"})
#: The Content-Type served with it, and what c2pa is told.
MIME = "image/avif"

#: AVIF quality of every frame (libavif's 0-100): Pillow gives a sequence one quality, so it is the
#: lowest at which the first frame, in limited range (see encode), stays within the fidelity rule over
#: the face with a margin.
AVIF_QUALITY = 96
#: libaom's fastest setting (libavif then codes a sequence in its real-time mode). Slower settings
#: cost several times the encode's time for a loop of frames.
AVIF_SPEED = 10


def encode(picture: Picture, frames: list[Frame]) -> bytes:
    """Animated AVIF of whole frames, looping forever."""
    images, durations = full_frames(picture.rgb, picture.alpha, frames)
    return avif_container.without_track_metadata(
        pillow_sequence(
            images,
            durations,
            "AVIF",
            quality=AVIF_QUALITY,
            speed=AVIF_SPEED,
            # Debian's Chromium paints an animated AVIF in full range as if it were limited (darks
            # darker, lights lighter, levels off over the whole face); a still one it paints right.
            # Limited range it paints exactly, at about 0.2 levels more error over the face.
            range="limited",
            icc_profile=picture.icc_profile,
            exif=exif_block(),  # libavif takes the TIFF structure itself, no "Exif" prefix
            xmp=xmp_packet(),
        )
    )


def matches(head: bytes) -> bool:
    """Whether the bytes start as an AVIF does: an `ftyp` box naming an AVIF brand."""
    return head[4:8] == b"ftyp" and bool(avif_container.ftyp_brands(head) & BRANDS)


FORMAT = Format(
    name="avif",
    suffix=".avif",
    http_mime=MIME,
    c2pa_mime=MIME,
    matches=matches,
    encode=encode,
    offer=Offer.SERVED,
    rank=0,
    whole_frames=True,
)
