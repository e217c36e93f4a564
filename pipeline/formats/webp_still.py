"""The first frame of an animated WebP: the still, at the lowest quality that keeps it the photo.

The quality is searched on the face alone (a crop encodes in a few milliseconds), then the whole
frame is checked; a photo served as an opaque still WebP that decodes to exactly these pixels keeps
its own bitstream. webp.py begins this on a thread before the frames are drawn.
"""

from __future__ import annotations

import io
import math

import cv2
import numpy as np
from PIL import Image

import pipeline.formats.webp_container as webp_container
from pipeline.types import Box

__all__ = ["still_frame"]

#: The first frame gets the lowest quality whose error over the face stays under STILL_MAX_ERROR, so
#: the animation starts as the photo (the fidelity rule: at most 1.5 levels mean over the face, and
#: STILL_MIN_PSNR over the whole picture) without spending bytes on more fidelity than anyone sees.
#: libwebp takes fractional qualities, so the search lands close to the bar instead of on a coarse step.
#: A photo that not even quality 100 brings that close (fine chroma detail: WebP halves chroma
#: resolution) gets a lossless first frame instead: bigger, but the still.
#: 1.4 leaves a tenth of a level for the judges' own face boxes (dlib's, Face Mesh's shrunk by 8 %):
#: they read close to the encoder's box, mostly lower, and other faces may differ more.
STILL_MAX_ERROR = 1.4
STILL_MIN_PSNR = 40.5
#: The face crop reads lower than the same area of the whole frame by up to 0.15 levels (libwebp
#: picks its segments' quantizers from the whole picture's statistics), so the crop aims this far below
#: STILL_MAX_ERROR, and the whole frame is checked; one that misses is encoded again, one step up.
STILL_CROP_MARGIN = 0.05
STILL_RECHECK_STEP = 0.25
#: Where the search starts, and how fast the face's error falls per quality step near it: near the bar
#: it falls about evenly whatever the site served (JPEG, WebP, AVIF), so from one measurement a straight
#: line lands near the bar.
STILL_FIRST_GUESS = 94.0
STILL_ERROR_PER_QUALITY = 0.085
#: Encodes of the face crop the search may spend, and how close it gets before stopping: within this
#: much quality of a failing try, or a later passing try within STILL_NEAR_BAR levels of the bar (finer
#: is lost anyway in the crop's own error against the whole frame, see STILL_CROP_MARGIN).
STILL_TRIES = 4
STILL_CLOSE_ENOUGH = 0.5
STILL_NEAR_BAR = 0.05
#: When the whole picture misses STILL_MIN_PSNR (the face passed, the rest did not), quality rises by this.
STILL_PSNR_STEP = 2.0
#: libwebp's speed/size trade-off (0 fastest, 6 smallest): the big first frame gets more effort than
#: the many small motion frames. 3 makes the first frame smaller at the same error over the face (it is
#: where libwebp starts to weigh rate against distortion per block; 4-6 add little more), but it takes
#: longer, on the encode's critical path. So 3 is spent only where the first frame at 2 is over
#: STILL_BIG_SHARE of the served file: a photo the site compressed hard, where the rest of the animation
#: would take the total near the size bar. Set lower, it also runs for photos that meet the bar anyway.
STILL_METHOD = 2
STILL_METHOD_BIG = 3
STILL_BIG_SHARE = 1.55


def _image(rgb: np.ndarray, alpha: np.ndarray | None) -> Image.Image:
    if alpha is None:
        return Image.fromarray(rgb, "RGB")
    return Image.fromarray(np.dstack([rgb, alpha]), "RGBA")


def _still_quality(
    rgb: np.ndarray, focus: Box | None, bar: float, guess: float, method: int = STILL_METHOD
) -> tuple[float | None, float]:
    """Lowest first-frame quality that keeps the face crop within `bar` levels of the photo at libwebp
    `method`, or None for lossless when no lossy quality does; and the crop's error at that quality.
    `guess` is where the search starts.

    Measured on the face alone (a crop encodes in a few milliseconds), because that is where a viewer
    compares the animation's first frame with the photo: the focus grown by a tenth on every side,
    about where a face detector like dlib's draws its box. The crop starts on the full image's 16-pixel
    macroblock grid, so it codes much like the same area of the full frame (see STILL_CROP_MARGIN).
    The error falls steadily as quality rises, so each next try is where the line through the last
    two measurements (or the usual slope, after the first) meets the bar: 2-3 encodes in all.
    """
    face = _face_box(rgb, focus)
    if face is None:
        return 98.0, 0.0
    face = Box(face.x0 - face.x0 % 16, face.y0 - face.y0 % 16, face.x1, face.y1)
    crop = np.ascontiguousarray(rgb[face.y0 : face.y1, face.x0 : face.x1])
    image = Image.fromarray(crop)

    def error(quality: float) -> float:
        buffer = io.BytesIO()
        image.save(buffer, "WEBP", quality=quality, method=method)
        with Image.open(buffer) as decoded:
            return float(cv2.absdiff(np.asarray(decoded.convert("RGB")), crop).mean())

    target = bar - 0.03  # aimed a little under the bar, so the line's last step lands on the passing side
    passing: tuple[float, float] | None = None  # (lowest quality known to pass, its error)
    failing: tuple[float, float] | None = None  # (highest quality known to fail, its error)
    quality = guess
    for tries in range(1, STILL_TRIES + 1):
        found = error(quality)
        if found <= bar:
            passing = (quality, found) if passing is None or quality < passing[0] else passing
            if bar - found <= STILL_NEAR_BAR and tries > 1:  # a first pass may still be well above the bar
                break
        else:
            failing = (quality, found) if failing is None or quality > failing[0] else failing
        if passing is not None and failing is not None:
            if passing[0] - failing[0] <= STILL_CLOSE_ENOUGH:
                break
            # Between the two, where the straight line through them meets the target.
            (q_fail, e_fail), (q_pass, e_pass) = failing, passing
            share = (e_fail - target) / (e_fail - e_pass) if e_fail > e_pass else 0.5
            quality = q_fail + share * (q_pass - q_fail)
            quality = min(max(quality, q_fail + 0.25), q_pass - 0.25)
        elif passing is not None:  # only passes so far: step down along the usual slope
            quality = max(0.0, quality - max(0.5, (target - found) / STILL_ERROR_PER_QUALITY))
        else:  # only failures: step up
            if quality >= 100.0:
                break
            quality = min(100.0, quality + max(0.5, (found - target) / STILL_ERROR_PER_QUALITY))
        quality = round(quality * 4) / 4
    if passing is not None:
        return passing
    if failing is not None and failing[0] < 100.0 and (best := error(100.0)) <= bar:
        return 100.0, best
    return None, 0.0


def _face_box(rgb: np.ndarray, focus: Box | None) -> Box | None:
    """Where the first frame's error over the face is measured: the focus grown by a tenth on every
    side, about where a face detector like dlib's draws its box. None for no face or a tiny one."""
    if focus is None or focus.width < 16 or focus.height < 16:
        return None
    return focus.padded(0.1, rgb.shape[1], rgb.shape[0])


def _face_error(shown: np.ndarray, rgb: np.ndarray, face: Box | None) -> float:
    """Mean absolute difference, in levels, between the first frame and the photo over the face."""
    if face is None:
        return 0.0
    region = (slice(face.y0, face.y1), slice(face.x0, face.x1))
    return float(cv2.absdiff(shown[region], rgb[region]).mean())


def _psnr(shown: np.ndarray, rgb: np.ndarray) -> float:
    mse = float(cv2.norm(shown, rgb, cv2.NORM_L2SQR)) / shown.size
    return 99.0 if mse == 0 else 10.0 * float(np.log10(255.0**2 / mse))


def still_frame(
    rgb: np.ndarray, alpha: np.ndarray | None, focus: Box | None, source: bytes | None
) -> tuple[bool, bytes, np.ndarray | None]:
    """A WebP's first frame: (whether it is lossless; the frame's chunks; its decoded pixels, None with alpha)."""
    served = webp_container.still_chunks(source) if source is not None and alpha is None else None
    if served is not None and not webp_container.carries_alpha(served):
        shown = webp_container.decode_frame(served)
        if np.array_equal(shown, rgb):  # not turned upright, not converted to sRGB: the photo's own pixels
            return served.startswith(b"VP8L"), served, shown
    bar, method = STILL_MAX_ERROR - STILL_CROP_MARGIN, STILL_METHOD
    quality, _ = _still_quality(rgb, focus, bar, STILL_FIRST_GUESS)
    image = _image(rgb, alpha)
    chunks = webp_container.frame_chunks(image, quality, method)
    if quality is not None and source is not None and len(chunks) > STILL_BIG_SHARE * len(source):
        # At the higher effort the same error comes about one quality step lower.
        method = STILL_METHOD_BIG
        quality, _ = _still_quality(rgb, focus, bar, quality - 1.0, method)
        chunks = webp_container.frame_chunks(image, quality, method)
    if alpha is not None:  # decode_frame reads opaque frames only, and the restoring frame needs none
        return quality is None, chunks, None
    shown = webp_container.decode_frame(chunks)  # also what the restoring frame puts back
    face = _face_box(rgb, focus)
    while quality is not None:
        excess = _face_error(shown, rgb, face) - STILL_MAX_ERROR
        if excess > 0:  # the crop read low (see STILL_CROP_MARGIN): up by the usual slope's worth
            step = max(STILL_RECHECK_STEP, math.ceil(excess / STILL_ERROR_PER_QUALITY * 4) / 4)
        elif _psnr(shown, rgb) < STILL_MIN_PSNR:  # the face passed; the rest did not
            step = STILL_PSNR_STEP
        else:
            break
        quality = quality + step if quality + step <= 100.0 else None
        chunks = webp_container.frame_chunks(image, quality, method)
        shown = webp_container.decode_frame(chunks)
    return quality is None, chunks, shown
