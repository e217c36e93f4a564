"""Stage 7, encode: the still plus per-frame patches become an animated WebP, APNG or GIF.

Animated WebP is assembled here from single-frame encodes: the first frame is the whole still at the
quality the face needs, every later frame only the pixels that changed since the frame before (an
alpha-blended rectangle), and a last frame that restores every touched pixel so the loop closes.
Pillow's own animated encoder re-encodes whole frames and offers no per-frame quality. The container
layout is the one in Google's "WebP Container Specification" (VP8X, ICCP, ANIM, ANMF, EXIF, XMP).

Every output is marked as synthetic: XMP with IPTC's DigitalSourceType `compositeSynthetic`, and an
EXIF ImageDescription saying what made it (GIF, which has neither, gets a comment).
"""

from __future__ import annotations

import io
import struct
from concurrent.futures import Future, ThreadPoolExecutor

import cv2
import numpy as np
from PIL import Image

from pipeline.types import Box, Frame

SOFTWARE = "In the wink of an eye"
DESCRIPTION = (
    "Synthetic animation made by 'In the wink of an eye' from a still photo: the face's motion never happened."
)
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeSynthetic"

#: Qualities tried for the first frame, lowest first: the first whose error over the face stays under
#: STILL_MAX_ERROR is used, so the animation starts as the photo itself (judged error under 1.0) without wasting bytes.
#: A photo that not even quality 100 brings that close (fine chroma detail: WebP halves chroma
#: resolution, which alone can cost 0.7 levels) gets a lossless first frame instead: bigger, but the still.
STILL_QUALITIES = (97, 98, 99, 100)
STILL_MAX_ERROR = 0.99
#: Quality of the frame that puts every touched pixel back to the first frame's, closing the loop;
#: higher when the motion touched most of the face (a nod), whose whole area then carries its error.
RESTORE_QUALITY = 90
RESTORE_QUALITY_LARGE = 95
#: Quality of the moving pixels: each frame shows for about 50 ms. When a frame changes most of the
#: face (a nod), coding noise over the whole face would read as flicker, and as a jump where the loop
#: restores the clean still (4.4 levels on a bearded face at 75), so it gets more bits.
MOTION_QUALITY = 50
MOTION_QUALITY_LARGE = 85
#: A pixel counts as changed when a channel moves by more than this many levels.
CHANGE_LEVELS = 7
#: How long the restoring frame shows (taken from the end of the loop's last frame).
RESTORE_MS = 50
#: libwebp's speed/size trade-off (0 fastest, 6 smallest): the big first frame gets a little more
#: effort than the many small motion frames.
STILL_METHOD = 2
MOTION_METHOD = 1
#: GIF: colours taken from the still, and the palette index left free for transparent pixels.
GIF_COLOURS = 255
GIF_TRANSPARENT = 255


def xmp_packet() -> bytes:
    """An XMP packet declaring the image a synthetic composite (IPTC Extension DigitalSourceType)."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/">\n'
        f"   <Iptc4xmpExt:DigitalSourceType>{DIGITAL_SOURCE_TYPE}</Iptc4xmpExt:DigitalSourceType>\n"
        f"   <xmp:CreatorTool>{SOFTWARE}</xmp:CreatorTool>\n"
        '   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">'
        f"{DESCRIPTION}</rdf:li></rdf:Alt></dc:description>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="r"?>'
    ).encode()


def exif_block() -> bytes:
    """TIFF-structured EXIF (without the "Exif\\0\\0" prefix) with ImageDescription and Software."""
    exif = Image.Exif()
    exif[0x010E] = DESCRIPTION
    exif[0x0131] = SOFTWARE
    data = exif.tobytes()
    return data[6:] if data.startswith(b"Exif\x00\x00") else data


def _image(rgb: np.ndarray, alpha: np.ndarray | None) -> Image.Image:
    if alpha is None:
        return Image.fromarray(rgb, "RGB")
    return Image.fromarray(np.dstack([rgb, alpha]), "RGBA")


def _chunk(fourcc: bytes, payload: bytes) -> bytes:
    pad = b"\x00" if len(payload) % 2 else b""
    return fourcc + struct.pack("<I", len(payload)) + payload + pad


def _u24(value: int) -> bytes:
    return struct.pack("<I", value)[:3]


def _still_quality(rgb: np.ndarray, focus: Box | None) -> int | None:
    """Lowest first-frame quality that keeps the face within STILL_MAX_ERROR levels of the photo, or
    None for lossless when no lossy quality does.

    Measured on the face alone (a crop encodes in a few milliseconds), because that is where a viewer
    compares the animation's first frame with the photo: the focus grown by a tenth on every side,
    about where a face detector like dlib's draws its box. The crop starts on the full image's 16-pixel
    macroblock grid, so it codes like the same area of the full frame (within about 0.03 levels).
    """
    if focus is None or focus.width < 16 or focus.height < 16:
        return STILL_QUALITIES[-2]
    face = focus.padded(0.1, rgb.shape[1], rgb.shape[0])
    face = Box(face.x0 - face.x0 % 16, face.y0 - face.y0 % 16, face.x1, face.y1)
    crop = np.ascontiguousarray(rgb[face.y0 : face.y1, face.x0 : face.x1])
    image = Image.fromarray(crop)
    for quality in STILL_QUALITIES:
        buffer = io.BytesIO()
        image.save(buffer, "WEBP", quality=quality, method=STILL_METHOD)
        with Image.open(buffer) as decoded:
            error = float(cv2.absdiff(np.asarray(decoded.convert("RGB")), crop).mean())
        # The crop's estimate is good to about 0.03 levels; at quality 100, the codec's floor, a face that
        # only just passes is better served by the lossless fallback than by a coin toss.
        if error <= STILL_MAX_ERROR - (0.03 if quality == 100 else 0.0):
            return quality
    return None


def _frame_chunks(image: Image.Image, quality: int | None, method: int = MOTION_METHOD) -> bytes:
    """The ALPH/VP8 (or, for quality None, VP8L) chunks of a single-image WebP encode, ready to go
    inside an ANMF chunk."""
    buffer = io.BytesIO()
    if quality is None:  # lossless, at libwebp's fastest effort: it is only the fallback
        image.save(buffer, "WEBP", lossless=True, quality=0, method=0)
    else:
        image.save(buffer, "WEBP", quality=quality, method=method, alpha_quality=100)
    data = buffer.getvalue()
    out, offset = [], 12
    while offset + 8 <= len(data):
        fourcc = data[offset : offset + 4]
        size = struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        if fourcc in (b"ALPH", b"VP8 ", b"VP8L"):
            out.append(data[offset : offset + 8 + size + (size % 2)])
        offset += 8 + size + (size % 2)
    return b"".join(out)


def _changed_box(a: np.ndarray, b: np.ndarray, within: Box) -> Box | None:
    """Smallest even-aligned box inside `within` where two full frames differ."""
    region = (slice(within.y0, within.y1), slice(within.x0, within.x1))
    local = _mask_box(np.any(a[region] != b[region], axis=-1))
    if local is None:
        return None
    return _even(Box(within.x0 + local.x0, within.y0 + local.y0, within.x0 + local.x1, within.y0 + local.y1))


def _canvas_frames(rgb: np.ndarray, alpha: np.ndarray | None, frames: list[Frame]):
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
            pixels = frame.patch.rgb if alpha is None else np.dstack([frame.patch.rgb, frame.patch.alpha])
            canvas[box.y0 : box.y1, box.x0 : box.x1] = pixels
        yield canvas, Box.union(previous_box, box), frame.duration_ms
        previous_box = box


def _decode_webp(chunks: bytes) -> np.ndarray:
    """RGB pixels a decoder shows for one opaque frame's chunks (wrapped back into a one-frame WebP)."""
    data = b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def _mask_box(mask: np.ndarray) -> Box | None:
    """Bounding box of a mask's set pixels, or None when it has none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    return Box(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def _changed_pixels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """uint8 mask (0/1) of pixels where any channel differs by more than CHANGE_LEVELS (OpenCV: fast)."""
    over = cv2.threshold(cv2.absdiff(a, b), CHANGE_LEVELS, 255, cv2.THRESH_BINARY)[1]
    return (cv2.cvtColor(over, cv2.COLOR_RGB2GRAY) > 0).view(np.uint8)


def _even(box: Box) -> Box:
    """Frame offsets in a WebP are stored halved, so a frame starts on even coordinates."""
    return Box(box.x0 - box.x0 % 2, box.y0 - box.y0 % 2, box.x1, box.y1)


def encode_webp(
    rgb: np.ndarray,
    alpha: np.ndarray | None,
    frames: list[Frame],
    icc_profile: bytes | None = None,
    focus: Box | None = None,
) -> bytes:
    """Animated WebP: the whole still once, then per frame only the pixels that change.

    Each later frame is an alpha-blended rectangle whose pixels are opaque only where the picture
    changes by more than `CHANGE_LEVELS` since the frame before; everything else shows through from
    the canvas. The loop ends by restoring every pixel ever touched to the first frame's own decoded
    pixels, so the last frame meets the first. Images with their own alpha use plain rectangles.
    libwebp releases the GIL, so the frames are encoded on two threads while the next masks are made.
    """
    height, width = rgb.shape[:2]

    def still_frame() -> tuple[int | None, bytes]:
        quality = _still_quality(rgb, focus)
        return quality, _frame_chunks(_image(rgb, alpha), quality, STILL_METHOD)

    with ThreadPoolExecutor(max_workers=2) as pool:
        still = pool.submit(still_frame)  # the masks below are made while it is chosen and encoded
        entries: list[list] = [[Box(0, 0, width, height), None, frames[0].duration_ms, False]]
        if alpha is not None:
            _plain_rectangles(rgb, alpha, frames, entries, pool)
        else:
            _blended_deltas(rgb, frames, entries, pool, focus, still)
        entries[0][1] = still.result()[1]
        for entry in entries[1:]:
            entry[1] = entry[1].result()
    return _assemble_webp(width, height, entries, icc_profile)


def _blended_deltas(
    rgb: np.ndarray,
    frames: list[Frame],
    entries: list[list],
    pool: ThreadPoolExecutor,
    focus: Box | None,
    still: Future,
) -> None:
    """`still` is the first frame being encoded: (its quality, None when lossless; its chunks)."""
    height, width = rgb.shape[:2]
    intended = rgb.copy()  # what the canvas shows, up to coding error
    touched = np.zeros((height, width), np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    for canvas, may_differ, duration in _tail(_canvas_frames(rgb, None, frames)):
        if may_differ is None:
            entries[-1][2] += duration
            continue
        may_differ = _even(may_differ)
        region = (slice(may_differ.y0, may_differ.y1), slice(may_differ.x0, may_differ.x1))
        change = _changed_pixels(canvas[region], intended[region])
        if not change.any():
            entries[-1][2] += duration
            continue
        mask = cv2.dilate(change, kernel)
        local = _mask_box(mask)
        box = _even(
            Box(may_differ.x0 + local.x0, may_differ.y0 + local.y0, may_differ.x0 + local.x1, may_differ.y0 + local.y1)
        )
        top, left = box.y0 - may_differ.y0, box.x0 - may_differ.x0
        sub = (slice(top, top + box.height), slice(left, left + box.width))
        crop = np.dstack([canvas[box.y0 : box.y1, box.x0 : box.x1], mask[sub] * np.uint8(255)])
        quality = MOTION_QUALITY
        if focus is not None and int(mask.sum()) > 0.5 * focus.width * focus.height:
            quality = MOTION_QUALITY_LARGE
        entries.append([box, pool.submit(_frame_chunks, Image.fromarray(crop, "RGBA"), quality), duration, True])
        np.copyto(intended[region], canvas[region], where=mask.astype(bool)[..., None])
        touched[region] |= mask
    # Back to the still: every touched pixel gets the first frame's decoded value again.
    box = _mask_box(touched)
    if box is None:
        return
    box = _even(box)
    still_quality, still_chunks = still.result()
    first_shown = _decode_webp(still_chunks)
    crop = np.dstack([first_shown[box.y0 : box.y1, box.x0 : box.x1], touched[box.y0 : box.y1, box.x0 : box.x1] * 255])
    restore_ms = min(entries[-1][2], RESTORE_MS)  # touched pixels mean at least one motion frame
    entries[-1][2] -= restore_ms
    quality: int | None = RESTORE_QUALITY
    if focus is not None and touched[focus.y0 : focus.y1, focus.x0 : focus.x1].mean() > 0.5:
        quality = RESTORE_QUALITY_LARGE
    if still_quality is None:  # a still that had to be lossless is restored losslessly too, or the loop would not close
        quality = None
    entries.append([box, pool.submit(_frame_chunks, Image.fromarray(crop, "RGBA"), quality), restore_ms, True])


def _tail(sequence):
    next(sequence)  # the still, already encoded in full
    yield from sequence


def _plain_rectangles(
    rgb: np.ndarray, alpha: np.ndarray, frames: list[Frame], entries: list[list], pool: ThreadPoolExecutor
) -> None:
    """Frames as opaque-replacing rectangles: needed when the image has transparency of its own."""
    previous = np.dstack([rgb, alpha])
    for canvas, may_differ, duration in _tail(_canvas_frames(rgb, alpha, frames)):
        box = _changed_box(canvas, previous, may_differ) if may_differ else None
        if box is None:
            entries[-1][2] += duration
            continue
        crop = canvas[box.y0 : box.y1, box.x0 : box.x1]
        entries.append(
            [box, pool.submit(_frame_chunks, Image.fromarray(crop.copy(), "RGBA"), MOTION_QUALITY), duration, False]
        )
        previous[box.y0 : box.y1, box.x0 : box.x1] = crop  # elsewhere the canvas already equals it


#: VP8X feature flags (WebP container spec, "Extended file format"); bits 0 and 6-7 are reserved.
VP8X_ANIMATION, VP8X_XMP, VP8X_EXIF, VP8X_ALPHA, VP8X_ICC = 0x02, 0x04, 0x08, 0x10, 0x20
#: ANMF flags: bit 1 set means "do not blend" (overwrite), bit 0 set means "dispose to background".
ANMF_NO_BLEND = 0b10
#: ANIM background colour, in the spec's byte order (blue, green, red, alpha): transparent. The first
#: frame covers the whole canvas without blending and no frame disposes, so it never shows; a reader
#: that uses it anyway clears to transparent, which is right for images with alpha and hidden for others.
BACKGROUND_BGRA = bytes(4)
#: Loop count 0: loop forever.
LOOP_FOREVER = 0


def _carries_alpha(chunks: bytes) -> bool:
    """Whether one frame's image data holds transparency: an ALPH chunk before its VP8 bitstream, or a
    VP8L bitstream whose header sets `alpha_is_used` (after the 0x2F signature: 14 bits width - 1,
    14 bits height - 1, then that bit, least significant bit first)."""
    fourcc = chunks[:4]
    if fourcc == b"ALPH":
        return True
    if fourcc == b"VP8L":
        return bool(int.from_bytes(chunks[9:13], "little") >> 28 & 1)
    return False


def _assemble_webp(width: int, height: int, entries: list[list], icc_profile: bytes | None) -> bytes:
    """The RIFF container by the WebP container specification: VP8X, ICCP, ANIM, ANMF..., EXIF, XMP.

    The alpha flag is set when any frame carries transparency, as the spec asks. The blended delta
    frames of an opaque photo do: without the flag Chromium treats the whole animation as opaque and
    paints those frames' transparent pixels instead of compositing them over the canvas.
    """
    xmp, exif = xmp_packet(), exif_block()
    has_alpha = any(_carries_alpha(chunks) for _, chunks, _, _ in entries)
    flags = VP8X_ANIMATION | VP8X_XMP | VP8X_EXIF | (VP8X_ALPHA if has_alpha else 0) | (VP8X_ICC if icc_profile else 0)
    body = [_chunk(b"VP8X", bytes([flags, 0, 0, 0]) + _u24(width - 1) + _u24(height - 1))]
    if icc_profile:
        body.append(_chunk(b"ICCP", icc_profile))
    body.append(_chunk(b"ANIM", BACKGROUND_BGRA + struct.pack("<H", LOOP_FOREVER)))
    for box, chunks, duration, blend in entries:
        if box.x0 % 2 or box.y0 % 2 or box.x1 > width or box.y1 > height:
            raise ValueError(f"frame {box} is not on even offsets inside the {width}x{height} canvas")
        header = (
            _u24(box.x0 // 2)
            + _u24(box.y0 // 2)
            + _u24(box.width - 1)
            + _u24(box.height - 1)
            + _u24(min(int(duration), 0xFFFFFF))
            + bytes([0 if blend else ANMF_NO_BLEND])
        )
        body.append(_chunk(b"ANMF", header + chunks))
    body.append(_chunk(b"EXIF", exif))
    body.append(_chunk(b"XMP ", xmp))
    payload = b"WEBP" + b"".join(body)
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


def _full_frames(rgb: np.ndarray, alpha: np.ndarray | None, frames: list[Frame]):
    images, durations = [], []
    for canvas, _, duration in _canvas_frames(rgb, alpha, frames):
        images.append(Image.fromarray(canvas.copy(), "RGB" if alpha is None else "RGBA"))
        durations.append(duration)
    return images, durations


def encode_apng(
    rgb: np.ndarray,
    alpha: np.ndarray | None,
    frames: list[Frame],
    icc_profile: bytes | None = None,
    focus: Box | None = None,
) -> bytes:
    from PIL import PngImagePlugin

    images, durations = _full_frames(rgb, alpha, frames)
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp_packet().decode())
    info.add_text("Description", DESCRIPTION)
    info.add_text("Software", SOFTWARE)
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        "PNG",
        save_all=True,
        append_images=images[1:],
        duration=durations,
        loop=0,
        pnginfo=info,
        icc_profile=icc_profile,
        compress_level=3,
        exif=b"Exif\x00\x00" + exif_block(),
    )
    return buffer.getvalue()


def encode_gif(
    rgb: np.ndarray,
    alpha: np.ndarray | None,
    frames: list[Frame],
    icc_profile: bytes | None = None,
    focus: Box | None = None,
) -> bytes:
    """GIF with one palette for every frame (made from the still), so colours do not flicker.

    GIF has 1-bit transparency: where the image has alpha, pixels under half opacity take the palette's
    last index, kept free for them. Such frames dispose to the background, so a pixel that turns
    transparent does not keep showing the frame before it.
    """
    images, durations = _full_frames(rgb, alpha, frames)
    opaque = [image.convert("RGB") for image in images]
    palette_image = opaque[0].quantize(colors=GIF_COLOURS, method=Image.Quantize.MEDIANCUT)
    paletted = [image.quantize(palette=palette_image, dither=Image.Dither.NONE) for image in opaque]
    options: dict = {"disposal": 1}
    if alpha is not None:
        palette = palette_image.getpalette() or []
        palette = (palette + [0] * 768)[:768]
        for index, (image, frame) in enumerate(zip(images, paletted, strict=True)):
            clear = np.asarray(image.getchannel("A")) < 128
            indices = np.where(clear, GIF_TRANSPARENT, np.asarray(frame)).astype(np.uint8)
            paletted[index] = Image.fromarray(indices, "P")
            paletted[index].putpalette(palette)
        options = {"disposal": 2, "transparency": GIF_TRANSPARENT}
    buffer = io.BytesIO()
    paletted[0].save(
        buffer,
        "GIF",
        save_all=True,
        append_images=paletted[1:],
        duration=durations,
        loop=0,
        optimize=False,
        comment=DESCRIPTION.encode(),
        **options,
    )
    return buffer.getvalue()


ENCODERS = {"webp": encode_webp, "apng": encode_apng, "gif": encode_gif}
