"""APNG, for clients that name image/apng and take no WebP.

APNG is lossless over the pixels it carries, so what keeps it small is what each frame leaves out:
after the first, a frame is the rectangle that changed, with a colour key for its unchanged pixels
(apng_container.py writes the chunks). The still is posterized, finer near the face, so deflate
finds more repeats.
"""

from __future__ import annotations

import numpy as np

import pipeline.formats.apng_container as apng
from pipeline.formats.frames import after_still, full_frames, near_face, pillow_sequence
from pipeline.formats.spec import Format, Offer, Picture
from pipeline.marking import DESCRIPTION, SOFTWARE, exif_block, xmp_packet
from pipeline.types import Box, Frame

__all__ = ["FORMAT", "PNG_SIGNATURE", "encode"]

#: A PNG file's first eight bytes; an APNG is a PNG whose decoders that know animation play it.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The type Chromium names in its Accept header for animated PNG, and the Content-Type served with it.
HTTP_MIME = "image/apng"
#: c2pa reads and signs an APNG as the PNG it is: it refuses image/apng as an unsupported type.
C2PA_MIME = "image/png"

#: APNG of an opaque photo: the still is kept to multiples of STILL_STEP levels near the face (at most
#: 2 levels off, within the fidelity rule on average) and of STILL_STEP_AWAY elsewhere (at most 3 off:
#: the whole picture stays above the rule's PSNR), so PNG's Up filter sees a fifth or a seventh of the
#: values and deflate codes each in fewer bits. "Near the face" is frames.near_face.
#: The moving pixels, each shown only for a moment, are kept to multiples of MOTION_STEP (at most 4 off),
#: as GIF's 256 colours are coarser still. The steps are the coarsest that keep the still within the
#: fidelity rule near the face and over the picture; finer ones only make the file bigger.
STILL_STEP = 5
STILL_STEP_AWAY = 7
MOTION_STEP = 8
#: A pixel is redrawn when a channel of the picture it should show has moved this far from the one it
#: shows (before either is posterized, so posterizing does not add changes of its own); the frame that
#: ends the loop redraws every pixel not exactly the still's.
APNG_CHANGE_LEVELS = 10
#: The redrawn pixels' mask is closed (dilated, then eroded) by a square this wide: the warp's slow
#: gradients cross the levels in speckles, and each edge between drawn and keyed pixels costs deflate
#: a literal. A much wider square draws so much more that the file grows again.
APNG_MASK_CLOSE = 11
#: The colour that marks a pixel a frame leaves alone: every drawn value is a multiple of a step over 1.
APNG_KEY = (1, 1, 1)
#: libdeflate's level (1-12): higher levels gain a few per cent of size for several times the time.
APNG_DEFLATE_LEVEL = 6


def _posterized(pixels: np.ndarray, step: int) -> np.ndarray:
    """Each channel rounded to the nearest multiple of `step` that fits a byte."""
    top = 255 - 255 % step
    return np.minimum((pixels.astype(np.uint16) + step // 2) // step * step, top).astype(np.uint8)


def _apng_still(rgb: np.ndarray, focus: Box | None) -> np.ndarray:
    """The posterized first frame: finer steps near the face (see STILL_STEP)."""
    if focus is None:
        return _posterized(rgb, STILL_STEP)
    near = near_face(focus, rgb.shape[1], rgb.shape[0])
    still = _posterized(rgb, STILL_STEP_AWAY)
    region = (slice(near.y0, near.y1), slice(near.x0, near.x1))
    still[region] = _posterized(rgb[region], STILL_STEP)
    return still


def _apng_delta_frames(rgb: np.ndarray, frames: list[Frame], focus: Box | None) -> list[apng.ApngFrame]:
    """RGB frames for an opaque photo: the still, then per frame only the rectangle around the pixels
    that change, APNG_KEY elsewhere (blended onto what is shown), and last the still's own pixels back."""
    import cv2

    still = _apng_still(rgb, focus)
    shown = still.copy()  # what the canvas shows
    intended = rgb.copy()  # the picture each shown pixel stands for, before posterizing
    height, width = rgb.shape[:2]
    closing = np.ones((APNG_MASK_CLOSE, APNG_MASK_CLOSE), np.uint8)
    out = [apng.ApngFrame(Box(0, 0, width, height), still, frames[0].duration_ms, blend_over=False)]
    drawn: Box | None = None  # where any frame drew: where the still may need to be put back
    for canvas, may_differ, duration in after_still(rgb, None, frames):
        if may_differ is not None and drawn is not None:
            region = (slice(may_differ.y0, may_differ.y1), slice(may_differ.x0, may_differ.x1))
            if np.array_equal(canvas[region], rgb[region]):  # only this box can differ from the still
                may_differ = drawn  # the still again: every pixel drawn since gets exactly the first frame's back
        if may_differ is not None:
            region = (slice(may_differ.y0, may_differ.y1), slice(may_differ.x0, may_differ.x1))
            if may_differ is drawn:  # the still's own pixels, wherever any channel is off
                wanted, moved, levels = still[region], cv2.absdiff(still[region], shown[region]), 0
            else:  # judged before posterizing, so posterizing does not add changes of its own
                wanted, moved = _posterized(canvas[region], MOTION_STEP), cv2.absdiff(canvas[region], intended[region])
                levels = APNG_CHANGE_LEVELS
            over = cv2.threshold(moved, levels, 255, cv2.THRESH_BINARY)[1]
            mask = (cv2.cvtColor(over, cv2.COLOR_RGB2GRAY) > 0).view(np.uint8)  # some channel is past `levels`
            if cv2.countNonZero(mask):
                mask = np.asarray(cv2.morphologyEx(mask, cv2.MORPH_CLOSE, closing), np.uint8)
                rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
                y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
                box = Box(may_differ.x0 + x0, may_differ.y0 + y0, may_differ.x0 + x1, may_differ.y0 + y1)
                inner = (slice(y0, y1), slice(x0, x1))
                pixels = np.empty((y1 - y0, x1 - x0, 3), np.uint8)
                pixels[:] = APNG_KEY
                cv2.copyTo(wanted[inner], mask[inner], pixels)
                cv2.copyTo(wanted, mask, shown[region])
                cv2.copyTo(canvas[region] if may_differ is not drawn else rgb[region], mask, intended[region])
                drawn = Box.union(drawn, may_differ)
                out.append(apng.ApngFrame(box, pixels, duration, blend_over=True))
                continue
        last = out[-1]  # nothing to draw: the frame before shows longer
        out[-1] = apng.ApngFrame(last.box, last.rgb, last.duration_ms + duration, last.blend_over)
    return out


def encode(picture: Picture, frames: list[Frame]) -> bytes:
    """APNG. An opaque photo's file is RGB (written by apng_container.write): frames after the first carry
    only the rectangle of the pixels that change, keyed elsewhere, blended over the frame before, and
    the focus says where the still keeps its finer steps. An image with alpha of its own gets whole
    RGBA frames from Pillow, replaced in turn."""
    from PIL import PngImagePlugin

    rgb, alpha, icc_profile = picture.rgb, picture.alpha, picture.icc_profile
    texts = {"Description": DESCRIPTION, "Software": SOFTWARE}
    if alpha is None:
        height, width = rgb.shape[:2]
        return apng.write(
            width,
            height,
            _apng_delta_frames(rgb, frames, picture.focus),
            APNG_KEY,
            icc_profile=icc_profile,
            exif=exif_block(),
            texts=texts,
            xmp=xmp_packet().decode(),
            level=APNG_DEFLATE_LEVEL,
        )
    images, durations = full_frames(rgb, alpha, frames)
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp_packet().decode())
    for name, text in texts.items():
        info.add_text(name, text)
    return pillow_sequence(
        images,
        durations,
        "PNG",
        disposal=PngImagePlugin.Disposal.OP_NONE,
        blend=[PngImagePlugin.Blend.OP_SOURCE] * len(images),
        pnginfo=info,
        icc_profile=icc_profile,
        compress_level=3,
        exif=b"Exif\x00\x00" + exif_block(),
    )


def matches(head: bytes) -> bool:
    """Whether the bytes start as a PNG does."""
    return head[:8] == PNG_SIGNATURE


FORMAT = Format(
    name="apng",
    suffix=".png",
    http_mime=HTTP_MIME,
    c2pa_mime=C2PA_MIME,
    matches=matches,
    encode=encode,
    offer=Offer.ACCEPTED,
    rank=2,
    whole_frames=True,
)
