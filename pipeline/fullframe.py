"""APNG, GIF and AVIF: the formats other than WebP, made of whole frames by Pillow.

APNG and GIF are for clients that take no WebP. Both are lossless over the palette or pixels they
carry, so what keeps them small is what each frame leaves out: Pillow crops every frame to the
rectangle that changed, and the GIF's frames mark every pixel equal to the frame before as
transparent, which LZW codes in a few bits. AVIF is for photos a site already serves as AVIF: AV1's
inter frames code the unchanged pixels of every later frame in almost nothing.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
from PIL import Image

from pipeline import avif
from pipeline.marking import DESCRIPTION, SOFTWARE, exif_block, xmp_packet
from pipeline.types import Box, Frame

__all__ = ["canvas_frames", "encode_apng", "encode_avif", "encode_gif"]

#: GIF: colours taken from the still, and the palette index left free for transparent pixels.
GIF_COLOURS = 255
GIF_TRANSPARENT = 255
#: A pixel is redrawn when its palette colour is this far, in some channel, from the one shown.
GIF_CHANGE_LEVELS = 9


def canvas_frames(
    rgb: np.ndarray, alpha: np.ndarray | None, frames: list[Frame]
) -> Iterator[tuple[np.ndarray, Box | None, int]]:
    """Yield (full RGBA-or-RGB frame, box that may differ from the previous frame, duration)."""
    still = rgb if alpha is None else np.dstack([rgb, alpha])
    canvas = still.copy()
    previous_box: Box | None = None
    for frame in frames:
        if previous_box is not None:  # undo the previous patch
            canvas[previous_box.y0 : previous_box.y1, previous_box.x0 : previous_box.x1] = still[
                previous_box.y0 : previous_box.y1, previous_box.x0 : previous_box.x1
            ]
        box = None
        if frame.patch is not None:
            box = frame.patch.box
            pixels = frame.patch.rgb
            if alpha is not None:
                assert frame.patch.alpha is not None, "a patch of an image with alpha carries its alpha"
                pixels = np.dstack([frame.patch.rgb, frame.patch.alpha])
            canvas[box.y0 : box.y1, box.x0 : box.x1] = pixels
        yield canvas, Box.union(previous_box, box), frame.duration_ms
        previous_box = box


def _full_frames(rgb: np.ndarray, alpha: np.ndarray | None, frames: list[Frame]) -> tuple[list[Image.Image], list[int]]:
    images, durations = [], []
    for canvas, _, duration in canvas_frames(rgb, alpha, frames):
        images.append(Image.fromarray(canvas.copy(), "RGB" if alpha is None else "RGBA"))
        durations.append(duration)
    return images, durations


#: APNG of an opaque photo: the still is kept to multiples of STILL_STEP levels (at most 2 levels off,
#: about 1 on average: PSNR 46 dB, within the fidelity rule), so PNG's filters see a quarter of the
#: values and deflate codes each in about two bits less. The moving pixels, each shown for 50-250 ms,
#: are kept to multiples of MOTION_STEP (at most 4 off), as GIF's 256 colours are coarser still.
STILL_STEP = 4
MOTION_STEP = 8
#: A pixel is redrawn when a channel of the wanted frame is this far from what is shown (the WebP's
#: threshold); the frame that ends the loop redraws every pixel not exactly the still's.
APNG_CHANGE_LEVELS = 9


def _posterized(pixels: np.ndarray, step: int) -> np.ndarray:
    """Each channel rounded to the nearest multiple of `step` that fits a byte."""
    top = 255 - 255 % step
    return np.minimum((pixels.astype(np.uint16) + step // 2) // step * step, top).astype(np.uint8)


def _apng_delta_frames(rgb: np.ndarray, frames: list[Frame]) -> tuple[list[Image.Image], list[int]]:
    """RGBA frames for an opaque photo: the still, then per frame only the pixels that change, opaque
    over a transparent rest (blended onto what is shown), and last the still's own pixels back."""
    import cv2

    still = _posterized(rgb, STILL_STEP)
    shown = still.copy()
    height, width = rgb.shape[:2]
    images = [Image.fromarray(np.dstack([still, np.full((height, width), 255, np.uint8)]), "RGBA")]
    durations = [frames[0].duration_ms]
    drawn: Box | None = None  # where any frame drew: where the still may need to be put back
    for canvas, may_differ, duration in _tail(canvas_frames(rgb, None, frames)):
        if may_differ is not None and drawn is not None:
            region = (slice(may_differ.y0, may_differ.y1), slice(may_differ.x0, may_differ.x1))
            if np.array_equal(canvas[region], rgb[region]):  # only this box can differ from the still
                may_differ = drawn  # the still again: every pixel drawn since gets exactly the first frame's back
        if may_differ is not None:
            region = (slice(may_differ.y0, may_differ.y1), slice(may_differ.x0, may_differ.x1))
            if may_differ is drawn:
                wanted, levels = still[region], 0
            else:
                wanted, levels = _posterized(canvas[region], MOTION_STEP), APNG_CHANGE_LEVELS
            over = cv2.threshold(cv2.absdiff(wanted, shown[region]), levels, 255, cv2.THRESH_BINARY)[1]
            mask = (cv2.cvtColor(over, cv2.COLOR_RGB2GRAY) > 0).view(np.uint8)  # some channel is past `levels`
            if cv2.countNonZero(mask):
                cv2.copyTo(wanted, mask, shown[region])
                frame = np.zeros((height, width, 4), np.uint8)
                frame[region] = cv2.merge([cv2.copyTo(wanted, mask), mask * np.uint8(255)])
                drawn = Box.union(drawn, may_differ)
                images.append(Image.fromarray(frame, "RGBA"))
                durations.append(duration)
                continue
        durations[-1] += duration  # nothing to draw: the frame before shows longer
    return images, durations


def _tail(sequence: Iterator[tuple[np.ndarray, Box | None, int]]) -> Iterator[tuple[np.ndarray, Box | None, int]]:
    next(sequence)  # the still
    yield from sequence


def encode_apng(
    rgb: np.ndarray,
    alpha: np.ndarray | None,
    frames: list[Frame],
    icc_profile: bytes | None = None,
    focus: Box | None = None,
    source: bytes | None = None,
) -> bytes:
    """APNG. An opaque photo's frames after the first carry only the pixels that change, blended over
    the frame before (Pillow crops each to the rectangle that differs); an image with alpha of its
    own gets whole frames, replaced in turn. (`focus` and `source` serve the WebP encoder only.)"""
    from PIL import PngImagePlugin

    if alpha is None:
        images, durations = _apng_delta_frames(rgb, frames)
        blend = [PngImagePlugin.Blend.OP_SOURCE] + [PngImagePlugin.Blend.OP_OVER] * (len(images) - 1)
    else:
        images, durations = _full_frames(rgb, alpha, frames)
        blend = [PngImagePlugin.Blend.OP_SOURCE] * len(images)
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp_packet().decode())
    info.add_text("Description", DESCRIPTION)
    info.add_text("Software", SOFTWARE)
    return _sequence(
        images,
        durations,
        "PNG",
        disposal=PngImagePlugin.Disposal.OP_NONE,
        blend=blend,
        pnginfo=info,
        icc_profile=icc_profile,
        compress_level=3,
        exif=b"Exif\x00\x00" + exif_block(),
    )


def _gif_palette(rgb: np.ndarray) -> tuple[Image.Image, list[int]]:
    """The one palette of every frame, made from the still, and its 256 RGB entries as a flat list."""
    palette_image = Image.fromarray(rgb).quantize(colors=GIF_COLOURS, method=Image.Quantize.MEDIANCUT)
    return palette_image, ((palette_image.getpalette() or []) + [0] * 768)[:768]


def _gif_delta_frames(rgb: np.ndarray, frames: list[Frame]) -> tuple[list[Image.Image], list[int]]:
    """Palette frames for an opaque photo: the still, then per frame only the pixels whose colour
    moves past GIF_CHANGE_LEVELS from the one shown (as the WebP and the APNG do), transparent
    elsewhere; a frame that shows the still again puts back exactly the first frame's pixels."""
    palette_image, palette = _gif_palette(rgb)
    colours = np.array(palette, np.int16).reshape(256, 3)
    still = Image.fromarray(rgb).quantize(palette=palette_image, dither=Image.Dither.NONE)  # nearest colours
    first = np.asarray(still)
    shown = first.copy()  # the palette index of every pixel on screen
    height, width = rgb.shape[:2]
    images, durations = [still], [frames[0].duration_ms]
    drawn: Box | None = None  # where any frame drew: where the still may need to be put back
    for canvas, may_differ, duration in _tail(canvas_frames(rgb, None, frames)):
        if may_differ is not None and drawn is not None and np.array_equal(canvas, rgb):
            may_differ = drawn
        if may_differ is not None:
            region = (slice(may_differ.y0, may_differ.y1), slice(may_differ.x0, may_differ.x1))
            if may_differ is drawn:
                wanted = first[region]
                redraw = wanted != shown[region]
            else:
                crop = Image.fromarray(np.ascontiguousarray(canvas[region]))
                wanted = np.asarray(crop.quantize(palette=palette_image, dither=Image.Dither.NONE))
                redraw = np.abs(colours[wanted] - colours[shown[region]]).max(axis=2) > GIF_CHANGE_LEVELS
            if redraw.any():
                shown[region] = np.where(redraw, wanted, shown[region])
                indices = np.full((height, width), GIF_TRANSPARENT, np.uint8)
                indices[region] = np.where(redraw, wanted, GIF_TRANSPARENT)
                images.append(Image.fromarray(indices, "P"))
                images[-1].putpalette(palette)
                drawn = Box.union(drawn, may_differ)
                durations.append(duration)
                continue
        durations[-1] += duration  # nothing to draw: the frame before shows longer
    return images, durations


def encode_gif(
    rgb: np.ndarray,
    alpha: np.ndarray | None,
    frames: list[Frame],
    icc_profile: bytes | None = None,
    focus: Box | None = None,
    source: bytes | None = None,
) -> bytes:
    """GIF with one palette for every frame (made from the still), so colours do not flicker (`focus`
    and `source` serve the WebP encoder only).

    GIF has 1-bit transparency. In an opaque photo's animation every frame after the first leaves the
    frame before in place (disposal 1) and is transparent wherever it would repeat it: the same
    pixels, in about half the bytes. Where the image has alpha of its own, pixels under half opacity
    take the palette's last index instead, and such frames dispose to the background, so a pixel that
    turns transparent does not keep showing the frame before it.
    """
    options: dict = {"disposal": 1, "transparency": GIF_TRANSPARENT}
    if alpha is None:
        paletted, durations = _gif_delta_frames(rgb, frames)
    else:
        images, durations = _full_frames(rgb, alpha, frames)
        palette_image, palette = _gif_palette(rgb)
        paletted = []
        for image in images:
            indices = np.asarray(image.convert("RGB").quantize(palette=palette_image, dither=Image.Dither.NONE))
            clear = np.asarray(image.getchannel("A")) < 128
            paletted.append(Image.fromarray(np.where(clear, GIF_TRANSPARENT, indices).astype(np.uint8), "P"))
            paletted[-1].putpalette(palette)
        options["disposal"] = 2
    return _sequence(
        paletted,
        durations,
        "GIF",
        optimize=False,
        comment=DESCRIPTION.encode(),
        **options,
    )


#: AVIF quality of every frame (libavif's 0-100): Pillow gives a sequence one quality. In limited range
#: (see encode_avif) the first frame of an AVIF q60 photo was 1.46-1.51 levels off over the face at 94
#: on obama_1 and kit_1, against the fidelity rule's 1.5; at 96, 1.38-1.42, and 2.1-2.3 times the photo.
AVIF_QUALITY = 96
#: libaom's fastest setting (libavif then codes a sequence in its real-time mode). Slower settings
#: cost seconds for a 20-frame loop: speed 6 took 3.9 s on zeman_1, against 0.5 s.
AVIF_SPEED = 10


def encode_avif(
    rgb: np.ndarray,
    alpha: np.ndarray | None,
    frames: list[Frame],
    icc_profile: bytes | None = None,
    focus: Box | None = None,
    source: bytes | None = None,
) -> bytes:
    """Animated AVIF (an AV1 image sequence) of whole frames: libavif takes no sub-rectangles, but
    AV1 predicts each frame from the one before, so what did not change costs next to nothing.
    (`focus` and `source` serve the WebP encoder only.)"""
    images, durations = _full_frames(rgb, alpha, frames)
    return avif.without_track_metadata(
        _sequence(
            images,
            durations,
            "AVIF",
            quality=AVIF_QUALITY,
            speed=AVIF_SPEED,
            # Debian's Chromium paints an animated AVIF in full range as if it were limited (a grey of
            # 30 shown as 16, 220 as 237: 7.8 levels mean off on zeman_1); a still one it paints right.
            # Limited range it paints exactly, at about 0.2 levels more error over the face.
            range="limited",
            icc_profile=icc_profile,
            exif=exif_block(),  # libavif takes the TIFF structure itself, no "Exif" prefix
            xmp=xmp_packet(),
        )
    )


def _sequence(images: list[Image.Image], durations: list[int], fmt: str, **options: Any) -> bytes:
    """Pillow's animated writer for `fmt`: the frames, their durations, looping forever."""
    buffer = io.BytesIO()
    images[0].save(buffer, fmt, save_all=True, append_images=images[1:], duration=durations, loop=0, **options)
    return buffer.getvalue()
