"""GIF, for clients that name neither WebP nor APNG: every browser paints it.

One palette for every frame, made from the still, so colours do not flicker. GIF is lossless over
its palette, so what keeps it small is what each frame leaves out: after the first, every pixel
equal to the frame before is transparent, which LZW codes in a few bits.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from pipeline.formats.frames import after_still, full_frames, near_face, pillow_sequence
from pipeline.formats.spec import Format, Offer, Picture
from pipeline.marking import DESCRIPTION
from pipeline.types import Box, Frame

__all__ = ["FORMAT", "encode"]

#: The first six bytes of a GIF file: the two versions of the format.
SIGNATURES = (b"GIF87a", b"GIF89a")
#: The Content-Type served with it, and what c2pa is told: GIF's registered type.
MIME = "image/gif"

#: GIF: colours taken from the still, and the palette index left free for transparent pixels.
GIF_COLOURS = 255
GIF_TRANSPARENT = 255
#: A pixel is redrawn when a channel of the picture it should show has moved this far from the one its
#: shown colour was picked for. Judged on the colours themselves, neighbouring palette entries keep
#: flipping under a slow warp, and every flip is drawn.
GIF_CHANGE_LEVELS = 10
#: Away from the face the still may show a colour this many levels (in its worst channel) further
#: from the photo than the nearest one, where that continues the run on its left: longer runs for
#: LZW away from the face, whose own colours stay the nearest ones.
GIF_RUN_SLACK = 3
#: The moving pixels' redraw mask is opened (eroded, then dilated) by a square this wide: a warp's
#: slow gradients cross GIF_CHANGE_LEVELS in speckles, and each lone drawn pixel breaks LZW's runs of
#: the transparent index. A change left out grows until a later frame draws it, and the last frame
#: restores every pixel exactly.
GIF_MASK_OPEN = 3


class _GifPalette:
    """The one palette of every frame: GIF_COLOURS colours libimagequant picks from the still (a
    half-size copy of it, plus the face at full size, so the face weighs more). Every pixel gets the
    nearest of them, found exactly (a k-d tree): Pillow's palette mapping is approximate, and on the
    same palette it leaves the face further off. The moving pixels are mapped the same exact way, so
    fewer of them differ from the still's and the GIF is smaller."""

    def __init__(self, rgb: np.ndarray, focus: Box | None) -> None:
        import imagequant
        from scipy.spatial import cKDTree

        pixels = [rgb[::2, ::2].reshape(-1, 3)]
        if focus is not None:
            near = near_face(focus, rgb.shape[1], rgb.shape[0])
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
        near = near_face(focus, width, height)
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
    for canvas, may_differ, duration in after_still(rgb, None, frames):
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


def encode(picture: Picture, frames: list[Frame]) -> bytes:
    """GIF with one palette for every frame (made from the still), so colours do not flicker.

    GIF has 1-bit transparency. In an opaque photo's animation every frame after the first leaves the
    frame before in place (disposal 1) and is transparent wherever it would repeat it: the same
    pixels, in about half the bytes. Where the image has alpha of its own, pixels under half opacity
    take the palette's last index instead, and such frames dispose to the background, so a pixel that
    turns transparent does not keep showing the frame before it.
    """
    rgb, alpha, focus = picture.rgb, picture.alpha, picture.focus
    options: dict = {"disposal": 1, "transparency": GIF_TRANSPARENT}
    if alpha is None:
        paletted, durations = _gif_delta_frames(rgb, frames, focus)
    else:
        images, durations = full_frames(rgb, alpha, frames)
        palette = _GifPalette(rgb, focus)
        paletted = []
        for image in images:
            indices = palette.nearest(np.asarray(image.convert("RGB")))
            clear = np.asarray(image.getchannel("A")) < 128
            paletted.append(palette.image(np.where(clear, GIF_TRANSPARENT, indices).astype(np.uint8)))
        options["disposal"] = 2
    return pillow_sequence(
        paletted,
        durations,
        "GIF",
        optimize=False,
        comment=DESCRIPTION.encode(),
        **options,
    )


def matches(head: bytes) -> bool:
    """Whether the bytes start as a GIF does."""
    return head[:6] in SIGNATURES


FORMAT = Format(
    name="gif",
    suffix=".gif",
    http_mime=MIME,
    c2pa_mime=MIME,
    matches=matches,
    encode=encode,
    offer=Offer.ALWAYS,
    rank=3,
    whole_frames=True,
)
