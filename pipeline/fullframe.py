"""APNG, GIF and AVIF: the formats other than WebP.

APNG and GIF are for clients that take no WebP. Both are lossless over the palette or pixels they
carry, so what keeps them small is what each frame leaves out: an APNG frame is the rectangle that
changed, with a colour key for its unchanged pixels, and the GIF's frames mark every pixel equal to
the frame before as transparent, which LZW codes in a few bits. AVIF is for photos a site already
serves as AVIF: AV1's inter frames code the unchanged pixels of every later frame in almost nothing.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
from PIL import Image

from pipeline import apng, avif
from pipeline.marking import DESCRIPTION, SOFTWARE, exif_block, xmp_packet
from pipeline.types import Box, Frame

__all__ = ["canvas_frames", "encode_apng", "encode_avif", "encode_gif"]

#: GIF: colours taken from the still, and the palette index left free for transparent pixels.
GIF_COLOURS = 255
GIF_TRANSPARENT = 255
#: A pixel is redrawn when a channel of the picture it should show has moved this far from the one its
#: shown colour was picked for. Judged on the colours themselves (9 levels), neighbouring palette
#: entries kept flipping under a slow warp: 1-16 % more bytes on the AVIF q60 photos than now.
GIF_CHANGE_LEVELS = 10
#: Away from the face the still may show a colour this many levels (in its worst channel) further
#: from the photo than the nearest one, where that continues the run on its left. 3 levels: the AVIF
#: q60 photos' first frames 10-35 % smaller, 0.5-3.3 dB lower over the picture (to 35.1-40.7 dB), the
#: face as before; 6 everywhere added 1.0-1.5 levels over the face, and 2 everywhere 0.2-0.3.
GIF_RUN_SLACK = 3
#: The moving pixels' redraw mask is opened (eroded, then dilated) by a square this wide: a warp's
#: slow gradients cross GIF_CHANGE_LEVELS in speckles, and each lone drawn pixel breaks LZW's runs of
#: the transparent index. A change left out grows until a later frame draws it, and the last frame
#: restores every pixel exactly. 3 px: zeman_1's GIF of an AVIF q60 photo 9.05x -> 7.59x; 2 px 8.23x.
GIF_MASK_OPEN = 3


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


#: APNG of an opaque photo: the still is kept to multiples of STILL_STEP levels near the face (at most
#: 2 levels off, 1.2 on average, against the fidelity rule's 1.5) and of STILL_STEP_AWAY elsewhere (at
#: most 3 off: the whole picture stays at 42-43 dB, against the rule's 40), so PNG's Up filter sees a
#: fifth or a seventh of the values and deflate codes each in 2.3-2.8 bits less. "Near the face" is
#: the focus grown by STILL_NEAR_PAD of its size on every side, well past any face detector's box.
#: The moving pixels, each shown for 50-250 ms, are kept to multiples of MOTION_STEP (at most 4 off),
#: as GIF's 256 colours are coarser still. Step 4 near the face (1.0 levels) made zeman_1's APNG of an
#: AVIF q60 photo 14.3x the photo, against 13.9x at 5; 6 away from it was 14.1x, 8 left kit_1 at 40.8 dB.
STILL_STEP = 5
STILL_STEP_AWAY = 7
STILL_NEAR_PAD = 0.3
MOTION_STEP = 8
#: A pixel is redrawn when a channel of the picture it should show has moved this far from the one it
#: shows (before either is posterized, so posterizing does not add changes of its own); the frame that
#: ends the loop redraws every pixel not exactly the still's.
APNG_CHANGE_LEVELS = 10
#: The redrawn pixels' mask is closed (dilated, then eroded) by a square this wide: the warp's slow
#: gradients cross the levels in speckles, and each edge between drawn and keyed pixels costs deflate
#: a literal. 11 px: zeman_1's APNG 7 % smaller than unclosed; 5 px the same; 21 px 3 % bigger again.
APNG_MASK_CLOSE = 11
#: The colour that marks a pixel a frame leaves alone: every drawn value is a multiple of a step over 1.
APNG_KEY = (1, 1, 1)
#: libdeflate's level (1-12). 8 makes zeman_1's APNG 4 % smaller than 6, in 2-4 times the time (+0.3-0.4 s).
APNG_DEFLATE_LEVEL = 6


def _posterized(pixels: np.ndarray, step: int) -> np.ndarray:
    """Each channel rounded to the nearest multiple of `step` that fits a byte."""
    top = 255 - 255 % step
    return np.minimum((pixels.astype(np.uint16) + step // 2) // step * step, top).astype(np.uint8)


def _apng_still(rgb: np.ndarray, focus: Box | None) -> np.ndarray:
    """The posterized first frame: finer steps near the face (see STILL_STEP)."""
    if focus is None:
        return _posterized(rgb, STILL_STEP)
    near = focus.padded(STILL_NEAR_PAD, rgb.shape[1], rgb.shape[0])
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
    for canvas, may_differ, duration in _tail(canvas_frames(rgb, None, frames)):
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
    """APNG. An opaque photo's file is RGB (written by apng.py): frames after the first carry only the
    rectangle of the pixels that change, keyed elsewhere, blended over the frame before, and `focus`
    says where the still keeps its finer steps. An image with alpha of its own gets whole RGBA frames
    from Pillow, replaced in turn. (`source` serves the WebP encoder only.)"""
    from PIL import PngImagePlugin

    texts = {"Description": DESCRIPTION, "Software": SOFTWARE}
    if alpha is None:
        height, width = rgb.shape[:2]
        return apng.write(
            width,
            height,
            _apng_delta_frames(rgb, frames, focus),
            APNG_KEY,
            icc_profile=icc_profile,
            exif=exif_block(),
            texts=texts,
            xmp=xmp_packet().decode(),
            level=APNG_DEFLATE_LEVEL,
        )
    images, durations = _full_frames(rgb, alpha, frames)
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp_packet().decode())
    for name, text in texts.items():
        info.add_text(name, text)
    return _sequence(
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


class _GifPalette:
    """The one palette of every frame: GIF_COLOURS colours libimagequant picks from the still (a
    half-size copy of it, plus the face at full size, so the face weighs more). Every pixel gets the
    nearest of them, found exactly (a k-d tree): Pillow's palette mapping is approximate, and on the
    same palette it left the face 0.3-0.6 levels further off (0.6-3.1 dB). Mapping the moving pixels
    Pillow's way too made the GIF 1-12 % bigger: more of them then differ from the still's."""

    def __init__(self, rgb: np.ndarray, focus: Box | None) -> None:
        import imagequant
        from scipy.spatial import cKDTree

        pixels = [rgb[::2, ::2].reshape(-1, 3)]
        if focus is not None:
            near = focus.padded(STILL_NEAR_PAD, rgb.shape[1], rgb.shape[0])
            pixels.append(rgb[near.y0 : near.y1, near.x0 : near.x1].reshape(-1, 3))
        sample = np.concatenate(pixels)
        rgba = np.concatenate([sample, np.full((len(sample), 1), 255, np.uint8)], axis=1)
        _, chosen = imagequant.quantize_raw_rgba_bytes(
            rgba.tobytes(), len(sample), 1, dithering_level=0.0, max_colors=GIF_COLOURS
        )
        found = np.array(chosen, np.uint8).reshape(-1, 4)[:GIF_COLOURS, :3]
        self.colours = np.zeros((256, 3), np.uint8)  # unused entries (and the transparent one) black
        self.colours[: len(found)] = found
        self.flat = [int(v) for v in self.colours.reshape(-1)]
        self._tree = cKDTree(found.astype(np.float32))
        self._known = np.full(1 << 24, GIF_TRANSPARENT, np.uint8)

    def nearest(self, pixels: np.ndarray) -> np.ndarray:
        """The palette index nearest each RGB pixel (no dithering: a dithered frame would flicker).
        Found ones are kept in a table over all 2^24 colours (16 MB), so each is looked up once."""
        flat = pixels.reshape(-1, 3)
        packed = (flat[:, 0].astype(np.int32) << 16) | (flat[:, 1].astype(np.int32) << 8) | flat[:, 2]
        found = self._known[packed]
        unknown = found == GIF_TRANSPARENT  # no colour maps there: the table's "not yet"
        if unknown.any():
            _, looked_up = self._tree.query(flat[unknown].astype(np.float32))
            found[unknown] = looked_up
            self._known[packed[unknown]] = looked_up
        return found.reshape(pixels.shape[:2])

    def image(self, indices: np.ndarray) -> Image.Image:
        image = Image.fromarray(indices, "P")
        image.putpalette(self.flat)
        return image


def _longer_runs(indices: np.ndarray, rgb: np.ndarray, colours: np.ndarray, focus: Box | None) -> np.ndarray:
    """The still's palette indices, where away from the face a pixel takes its left neighbour's colour
    whenever that is at most GIF_RUN_SLACK levels worse than its own nearest: LZW codes the longer
    runs in fewer codes. Near the face (as the APNG's finer steps) every pixel keeps its nearest."""
    height, width = indices.shape
    slack = np.full((height, width), GIF_RUN_SLACK, np.int16)
    if focus is not None:
        near = focus.padded(STILL_NEAR_PAD, width, height)
        slack[near.y0 : near.y1, near.x0 : near.x1] = 0
    palette = colours.astype(np.int16)
    pixels = rgb.astype(np.int16)
    allowed = np.abs(palette[indices] - pixels).max(axis=2) + slack  # the nearest colour's error, plus the slack
    kept = indices.copy()
    for column in range(1, width):  # left to right: a run grows as far as its colour stays close enough
        left = kept[:, column - 1]
        close = np.abs(palette[left] - pixels[:, column]).max(axis=1) <= allowed[:, column]
        kept[:, column] = np.where(close, left, indices[:, column])
    return kept


def _gif_delta_frames(rgb: np.ndarray, frames: list[Frame], focus: Box | None) -> tuple[list[Image.Image], list[int]]:
    """Palette frames for an opaque photo: the still, then per frame only the pixels whose picture
    moves past GIF_CHANGE_LEVELS from the one shown stands for (as the WebP and the APNG do), and
    whose colour then changes, transparent elsewhere; a frame that shows the still again puts back
    exactly the first frame's pixels."""
    import cv2

    palette = _GifPalette(rgb, focus)
    first = _longer_runs(palette.nearest(rgb), rgb, palette.colours, focus)
    shown = first.copy()  # the palette index of every pixel on screen
    intended = rgb.copy()  # the picture each shown pixel stands for, before its colour was picked
    opening = np.ones((GIF_MASK_OPEN, GIF_MASK_OPEN), np.uint8)
    height, width = rgb.shape[:2]
    images, durations = [palette.image(first)], [frames[0].duration_ms]
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
                wanted = palette.nearest(canvas[region])
                moved = cv2.absdiff(canvas[region], intended[region]).max(axis=2) > GIF_CHANGE_LEVELS
                redraw = moved & (wanted != shown[region])
                redraw = cv2.morphologyEx(redraw.view(np.uint8), cv2.MORPH_OPEN, opening).view(bool)
            if redraw.any():
                shown[region] = np.where(redraw, wanted, shown[region])
                picture = rgb[region] if may_differ is drawn else canvas[region]
                intended[region] = np.where(redraw[..., None], picture, intended[region])
                indices = np.full((height, width), GIF_TRANSPARENT, np.uint8)
                indices[region] = np.where(redraw, wanted, GIF_TRANSPARENT)
                images.append(palette.image(indices))
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
        paletted, durations = _gif_delta_frames(rgb, frames, focus)
    else:
        images, durations = _full_frames(rgb, alpha, frames)
        palette = _GifPalette(rgb, focus)
        paletted = []
        for image in images:
            indices = palette.nearest(np.asarray(image.convert("RGB")))
            clear = np.asarray(image.getchannel("A")) < 128
            paletted.append(palette.image(np.where(clear, GIF_TRANSPARENT, indices).astype(np.uint8)))
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
