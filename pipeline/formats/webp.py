"""Animated WebP, for clients that name image/webp: the still once, then only what changes.

The file is assembled from single-frame encodes: the first frame is the whole still at the quality
the face needs (webp_still.py), every later frame only the pixels that changed since the frame
before (an alpha-blended rectangle), and a last frame that restores every touched pixel so the loop
closes. Pillow's own animated encoder re-encodes whole frames and offers no per-frame quality.
webp_container.py writes the container.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image

import pipeline.formats.webp_container as webp
from pipeline.formats.frames import after_still
from pipeline.formats.spec import Format, Offer, Picture
from pipeline.marking import exif_block, xmp_packet
from pipeline.types import Box, Frame

__all__ = ["FORMAT", "encode"]

#: The Content-Type served with it, and what c2pa is told.
MIME = "image/webp"

#: Quality of the frame that puts every touched pixel back to the first frame's, closing the loop;
#: higher when the motion touched most of the face (a nod), whose whole area then carries its error.
#: It is the lowest that keeps the loop's last frame within the loop bar of the first.
RESTORE_QUALITY = 85
RESTORE_QUALITY_LARGE = 95
#: Quality of the moving pixels: each frame shows for about 50 ms. When a frame changes most of the
#: face (a nod), coding noise over the whole face would read as flicker, and as a jump where the loop
#: restores the clean still, so it gets more bits.
MOTION_QUALITY = 45
MOTION_QUALITY_LARGE = 85
#: A frame that shows this long is looked at, not glimpsed (a held wink's shut lid, a held smile): at
#: MOTION_QUALITY its 8-pixel blocks show, so it gets the quality of a large change.
HELD_MS = 150
#: A pixel counts as changed when a channel moves by more than this many levels.
CHANGE_LEVELS = 8
#: The changed pixels' mask is closed (dilated, then eroded) by a square this wide before it becomes a
#: frame's alpha: a warp's slow gradients cross CHANGE_LEVELS in speckles, and a speckled mask costs
#: libwebp's lossless alpha as much as the colour inside it (half of the motion frames' bytes). The
#: gaps it fills get the frame's true pixels, so they are only more right; the rectangle does not grow.
#: The size is flat around this width, so it need not be tuned per photo.
MASK_CLOSE = 11
#: How long the restoring frame shows when the motion runs to the loop's end (taken from its last frame);
#: when the loop ends on the still, the restoring frame shows for those closing frames' time instead.
RESTORE_MS = 50
#: libwebp's speed/size trade-off (0 fastest, 6 smallest) for the many small motion frames; the first
#: frame gets more (webp_still.STILL_METHOD).
MOTION_METHOD = 1


def _changed_box(a: np.ndarray, b: np.ndarray, within: Box) -> Box | None:
    """Smallest even-aligned box inside `within` where two full frames differ."""
    region = (slice(within.y0, within.y1), slice(within.x0, within.x1))
    local = _mask_box(np.any(a[region] != b[region], axis=-1))
    if local is None:
        return None
    return _even(Box(within.x0 + local.x0, within.y0 + local.y0, within.x0 + local.x1, within.y0 + local.y1))


def _mask_box(mask: np.ndarray) -> Box | None:
    """Bounding box of a mask's set pixels, or None when it has none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    return Box(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def _changed_pixels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """uint8 mask (0/1) of pixels where any channel differs by more than CHANGE_LEVELS (OpenCV: fast)."""
    import cv2

    over = cv2.threshold(cv2.absdiff(a, b), CHANGE_LEVELS, 255, cv2.THRESH_BINARY)[1]
    return (cv2.cvtColor(over, cv2.COLOR_RGB2GRAY) > 0).view(np.uint8)


def _even(box: Box) -> Box:
    """Frame offsets in a WebP are stored halved, so a frame starts on even coordinates."""
    return Box(box.x0 - box.x0 % 2, box.y0 - box.y0 % 2, box.x1, box.y1)


class _Started:
    """A WebP encode begun on the still alone.

    The first frame needs nothing but the still, and choosing its quality and encoding it is the
    longest single piece of the encode: begun first, it runs on a thread while the frames are drawn,
    instead of after them. The motion frames are encoded on the same two threads as they are planned.
    """

    def __init__(self, picture: Picture) -> None:
        from pipeline.formats.webp_still import still_frame

        self.picture = picture
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="wink-encode")
        #: The first frame, being chosen and encoded: (whether it is lossless; its chunks; its pixels).
        self.still = self.pool.submit(still_frame, picture.rgb, picture.alpha, picture.focus, picture.source)

    def finish(self, frames: list[Frame]) -> bytes:
        """The encoded animation of these frames (frame 0 is the still itself)."""
        rgb, alpha = self.picture.rgb, self.picture.alpha
        height, width = rgb.shape[:2]
        planned = [_Planned(Box(0, 0, width, height), self.still, frames[0].duration_ms, blend=False)]
        if alpha is not None:
            _plain_rectangles(rgb, alpha, frames, planned, self.pool)
        else:
            _blended_deltas(rgb, frames, planned, self.pool, self.picture.focus, self.still)
        done = [webp.WebPFrame(p.box, p.chunks(), p.duration_ms, p.blend) for p in planned]
        return webp.assemble(width, height, done, self.picture.icc_profile, exif_block(), xmp_packet())

    def close(self) -> None:
        """Ends the threads, dropping encodes not yet begun."""
        self.pool.shutdown(wait=True, cancel_futures=True)


def encode(picture: Picture, frames: list[Frame]) -> bytes:
    """Animated WebP: the whole still once, then per frame only the pixels that change.

    When the photo was served as an opaque still WebP (`picture.source`) that decodes to exactly
    these pixels, its own bitstream is the first frame: the still itself, at the size the site
    chose, with no quality to search.

    Each later frame is an alpha-blended rectangle whose pixels are opaque only where the picture
    changes by more than `CHANGE_LEVELS` since the frame before; everything else shows through from
    the canvas. The loop ends by restoring every pixel ever touched to the first frame's own decoded
    pixels, so the last frame meets the first. Images with their own alpha use plain rectangles.
    libwebp releases the GIL, so the frames are encoded on two threads while the next masks are made.
    """
    started = _Started(picture)
    try:
        return started.finish(frames)
    finally:
        started.close()


@dataclass
class _Planned:
    """A frame whose pixels are being encoded on the pool; its duration grows while later frames turn
    out to change nothing. `encoding` yields its chunks, or (lossless, chunks, pixels) for the first frame."""

    box: Box
    encoding: Future
    duration_ms: int
    blend: bool

    def chunks(self) -> bytes:
        result = self.encoding.result()
        return result[1] if isinstance(result, tuple) else result


def _blended_deltas(
    rgb: np.ndarray,
    frames: list[Frame],
    planned: list[_Planned],
    pool: ThreadPoolExecutor,
    focus: Box | None,
    still: Future,
) -> None:
    """`still` is the first frame being encoded: (whether it is lossless; its chunks; its pixels)."""
    import cv2

    height, width = rgb.shape[:2]
    intended = rgb.copy()  # what the canvas shows, up to coding error
    touched = np.zeros((height, width), np.uint8)
    kernel, closing = np.ones((3, 3), np.uint8), np.ones((MASK_CLOSE, MASK_CLOSE), np.uint8)
    # Frames at the end that show the still again are the restoring frame's to show: encoding their way
    # back as motion as well would draw the same pixels twice.
    moving = len(frames)
    while moving > 1 and frames[moving - 1].patch is None:
        moving -= 1
    closing_ms = sum(frame.duration_ms for frame in frames[moving:])  # the still's time at the end
    for canvas, may_differ, duration in after_still(rgb, None, frames[:moving]):
        if may_differ is None:
            planned[-1].duration_ms += duration
            continue
        may_differ = _even(may_differ)
        region = (slice(may_differ.y0, may_differ.y1), slice(may_differ.x0, may_differ.x1))
        mask = cv2.dilate(_changed_pixels(canvas[region], intended[region]), kernel)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, closing)
        local = _mask_box(mask)
        if local is None:  # nothing changed by more than CHANGE_LEVELS
            planned[-1].duration_ms += duration
            continue
        box = _even(
            Box(may_differ.x0 + local.x0, may_differ.y0 + local.y0, may_differ.x0 + local.x1, may_differ.y0 + local.y1)
        )
        top, left = box.y0 - may_differ.y0, box.x0 - may_differ.x0
        sub = (slice(top, top + box.height), slice(left, left + box.width))
        crop = _blended_patch(canvas[box.y0 : box.y1, box.x0 : box.x1], mask[sub])
        quality = MOTION_QUALITY
        if duration >= HELD_MS or (focus is not None and int(mask.sum()) > 0.5 * focus.width * focus.height):
            quality = MOTION_QUALITY_LARGE
        encoding = pool.submit(webp.frame_chunks, Image.fromarray(crop, "RGBA"), quality, MOTION_METHOD)
        planned.append(_Planned(box, encoding, duration, blend=True))
        cv2.copyTo(canvas[region], mask, intended[region])  # in place, like np.copyto(where=) but 10x faster
        cv2.bitwise_or(touched[region], mask, touched[region])
    _restoring_frame(touched, planned, pool, focus, still, closing_ms)


def _restoring_frame(
    touched: np.ndarray,
    planned: list[_Planned],
    pool: ThreadPoolExecutor,
    focus: Box | None,
    still: Future,
    closing_ms: int,
) -> None:
    """Back to the still: every touched pixel gets the first frame's decoded value again, for the
    still's time at the end (`closing_ms`), or the end of the last motion frame when that is none."""
    all_touched = _mask_box(touched)
    if all_touched is None:  # nothing moved: the still shows on through the end
        planned[-1].duration_ms += closing_ms
        return
    restore = _even(all_touched)
    still_lossless, _, first_shown = still.result()
    area = (slice(restore.y0, restore.y1), slice(restore.x0, restore.x1))
    crop = _blended_patch(first_shown[area], touched[area])
    restore_ms = closing_ms
    if not restore_ms:  # the motion runs to the end: the restoring frame takes the end of its last frame
        restore_ms = min(planned[-1].duration_ms, RESTORE_MS)  # touched pixels mean at least one motion frame
        planned[-1].duration_ms -= restore_ms
    restore_quality: float | None = RESTORE_QUALITY
    if focus is not None and touched[focus.y0 : focus.y1, focus.x0 : focus.x1].mean() > 0.5:
        restore_quality = RESTORE_QUALITY_LARGE
    if still_lossless:  # a lossless still is restored losslessly too, or the loop would not close
        restore_quality = None
    encoding = pool.submit(webp.frame_chunks, Image.fromarray(crop, "RGBA"), restore_quality, MOTION_METHOD)
    planned.append(_Planned(restore, encoding, restore_ms, blend=True))


def _blended_patch(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """RGBA of an alpha-blended frame: opaque where `mask` (0/1) is set, and elsewhere transparent
    over one flat colour, the mean of the opaque pixels. libwebp codes the colour under transparent
    pixels too, and a flat fill costs it least (libwebp only evens out 8-pixel blocks that are wholly
    transparent)."""
    import cv2

    mean = cv2.mean(rgb, mask=mask)[:3]
    # Made as planes and merged: numpy's fill of a 3-value pixel is slower (an inner loop of 3).
    flat = cv2.merge([np.full(mask.shape, round(level), np.uint8) for level in mean])
    cv2.copyTo(rgb, mask, flat)
    return cv2.merge([*cv2.split(flat), mask * np.uint8(255)])


def _plain_rectangles(
    rgb: np.ndarray, alpha: np.ndarray, frames: list[Frame], planned: list[_Planned], pool: ThreadPoolExecutor
) -> None:
    """Frames as opaque-replacing rectangles: needed when the image has transparency of its own."""
    previous = np.dstack([rgb, alpha])
    for canvas, may_differ, duration in after_still(rgb, alpha, frames):
        box = _changed_box(canvas, previous, may_differ) if may_differ else None
        if box is None:
            planned[-1].duration_ms += duration
            continue
        crop = canvas[box.y0 : box.y1, box.x0 : box.x1]
        encoding = pool.submit(webp.frame_chunks, Image.fromarray(crop.copy(), "RGBA"), MOTION_QUALITY, MOTION_METHOD)
        planned.append(_Planned(box, encoding, duration, blend=False))
        previous[box.y0 : box.y1, box.x0 : box.x1] = crop  # elsewhere the canvas already equals it


def matches(head: bytes) -> bool:
    """Whether the bytes start as a WebP does: a RIFF file of form WEBP."""
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


FORMAT = Format(
    name="webp",
    suffix=".webp",
    http_mime=MIME,
    c2pa_mime=MIME,
    matches=matches,
    encode=encode,
    offer=Offer.ACCEPTED,
    rank=1,
    whole_frames=False,
    start=_Started,
)
