"""Stage 1, decode: bytes in, an upright RGB still in sRGB (plus alpha, and an sRGB ICC profile) out.

Two entry points because most images on a page hold no target face: `preview()` decodes a small copy
(JPEG draft decoding skips most of the DCT work) that is enough to find faces, and `decode()` decodes
the full image only when there is something to animate.
"""

from __future__ import annotations

import functools
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import numpy as np
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from pipeline import formats
from pipeline.errors import ImageError, refused_as
from pipeline.formats.avif_container import ftyp_brands
from pipeline.quiet import native_stderr_captured
from pipeline.types import Still

#: Images over this many pixels are refused before decoding (decompression bombs, gigapixel scans).
MAX_PIXELS = 40_000_000
#: Longest side of the copy used to find faces.
PREVIEW_SIDE = 640

#: What a person is told when a decoder fails on the image's data.
DAMAGED = "The image data is damaged or truncated."

Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _refusing_damage(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """The one place where a decoding library's failure, raised anywhere inside `function`, becomes
    the pipeline's ImageError (errors.DECODER_FAILURES): Pillow's, its plugins' (libavif's
    RuntimeError), OpenCV's."""

    @functools.wraps(function)
    def refusing(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with refused_as(DAMAGED):
            return function(*args, **kwargs)

    return refusing


#: First bytes of the input kinds that are not also output formats.
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "jpeg"),
    (b"BM", 0, "bmp"),
    (b"\x00\x00\x01\x00", 0, "ico"),
    (b"II*\x00", 0, "tiff"),
    (b"MM\x00*", 0, "tiff"),
)
#: Input kinds that are also output formats, known by that format's own first-byte check (a PNG photo
#: starts as the APNG format's files do).
_AS_OUTPUT = {"png": "apng", "gif": "gif", "webp": "webp", "avif": "avif"}


def sniff(head: bytes) -> str | None:
    """The image kind the first bytes announce ("jpeg", "png", "webp", "gif", "avif", "svg", ...), or None.

    Servers often send photos as application/octet-stream or with a wrong type, so the bytes decide.
    """
    for magic, offset, kind in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return kind
    for kind, name in _AS_OUTPUT.items():
        if formats.get(name).matches(head):
            return kind
    if head[4:8] == b"ftyp" and ftyp_brands(head) & {b"mif1", b"msf1", b"heic", b"heix"}:
        return "heif"
    text = head[:256].lstrip().lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in head[:1024].lower()):
        return "svg"
    return None


#: Kinds the pipeline animates; everything else is refused with a clear reason.
ANIMATABLE = frozenset({"jpeg", "png", "webp", "gif", "bmp", "avif", "tiff"})


@dataclass(frozen=True)
class ImageInfo:
    """What the header says, read without decoding pixels."""

    format: str
    width: int
    height: int
    frames: int


def _open(data: bytes) -> tuple[Image.Image, ImageInfo]:
    if not data:
        raise ImageError("The file is empty.")
    kind = sniff(data[:1024])
    if kind == "svg":
        raise ImageError("SVG is a vector drawing, not a photo; it is left as it is.")
    if kind is None:
        raise ImageError("The bytes are not an image format the pipeline reads.")
    if kind not in ANIMATABLE:
        raise ImageError(f"{kind.upper()} images are not animated.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(f"The image is too large to animate (over {MAX_PIXELS // 1_000_000} MP).") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ImageError("The image header cannot be read.") from error
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError(f"The image is too large to animate (over {MAX_PIXELS // 1_000_000} MP).")
    frames = int(getattr(image, "n_frames", 1) or 1)
    return image, ImageInfo(format=kind, width=width, height=height, frames=frames)


@_refusing_damage
def probe(data: bytes) -> ImageInfo:
    """Header facts of an image, raising ImageError for anything that is not a readable image."""
    return _open(data)[1]


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except Exception:  # a broken EXIF block must not lose the picture
        return 1


def _check_still(info: ImageInfo) -> None:
    if info.frames > 1:
        raise ImageError("The image is already animated; it is left as it is.")
    if min(info.width, info.height) < 2:
        raise ImageError("The image is too small to hold a face.")


def _to_arrays(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """RGB and optional alpha from any Pillow mode (L, LA, P with transparency, CMYK, 16-bit, ...)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit grey: scale to 8 bits instead of clipping (Pillow's convert("L") clips at 255).
        wide = np.asarray(image, dtype=np.float64)
        top = 65535.0 if wide.max() > 255 else 255.0
        grey = np.clip(wide * (255.0 / top), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2)), None
    if (image.mode == "P" and "transparency" in image.info) or image.mode in ("LA", "PA", "La", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        rgba = np.asarray(image)
        return np.ascontiguousarray(rgba[..., :3]), _alpha(rgba)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image), None


def _load(image: Image.Image) -> Image.Image:
    # face_recognition turns on Pillow's global "load truncated images" at import; a truncated file
    # must be an error here, not a photo with a grey bottom.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(DAMAGED) from error
    except MemoryError as error:
        raise ImageError("The image is too large to decode.") from error
    return image


def _rgb_profile(icc: bytes | None) -> bytes | None:
    """The ICC profile if it describes RGB; a CMYK or grey profile would be wrong on RGB output."""
    if icc and len(icc) >= 20 and icc[16:20] == b"RGB ":
        return icc
    return None


#: A profile that moves none of these probe colours by more than SRGB_TOLERANCE levels is sRGB in all
#: but name: its pixels are kept as they are, and so is the profile.
_PROBE = np.stack(np.meshgrid(*[np.linspace(0, 255, 6).astype(np.uint8)] * 3), axis=-1).reshape(1, -1, 3)
SRGB_TOLERANCE = 1


def _as_srgb(rgb: np.ndarray, icc: bytes | None) -> tuple[np.ndarray, bytes | None]:
    """The pixels in sRGB, and the profile to carry (None once converted).

    Chromium ignores the colour profile of an animated WebP (it honours it in a still WebP, and in
    APNG), so a photo in another space (ProPhoto, Display P3, ...) would lose its colours there the
    moment it turns into an animation. It is converted here, once, and every browser shows the
    animation as it showed the photo. A profile that cannot be read is dropped, as browsers ignore it.
    """
    if icc is None:
        return rgb, None
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        transform = ImageCms.buildTransform(source, ImageCms.createProfile("sRGB"), "RGB", "RGB")
        probe = np.asarray(ImageCms.applyTransform(Image.fromarray(_PROBE, "RGB"), transform))
    except (ImageCms.PyCMSError, OSError, ValueError):
        return rgb, None
    if int(np.abs(probe.astype(np.int16) - _PROBE).max()) <= SRGB_TOLERANCE:
        return rgb, icc
    converted = ImageCms.applyTransform(Image.fromarray(rgb, "RGB"), transform)
    return np.asarray(converted), None


def _opencv_pixels(data: bytes, info: ImageInfo, mode: str) -> tuple[np.ndarray, np.ndarray | None] | None:
    """RGB and alpha of a JPEG (RGB or grey) or a still WebP decoded by OpenCV, as stored (not turned
    upright), or None to leave the image to Pillow.

    The same libjpeg-turbo and libwebp decodes, bit for bit, in less time: Pillow decodes a WebP
    through libwebp's animation decoder into RGBA and copies it more. Pillow keeps what OpenCV does
    differently: CMYK JPEGs (a level apart), every other format, and every file OpenCV cannot read
    whole (it returns nothing for a cut JPEG or WebP, baseline or progressive, and decodes a damaged
    JPEG with a warning on descriptor 2, kept off the console here), so that Pillow's error names the damage."""
    import cv2

    if info.format == "jpeg" and mode in ("RGB", "L"):
        flags = cv2.IMREAD_COLOR
    elif info.format == "webp" and mode in ("RGB", "RGBA"):
        flags = cv2.IMREAD_UNCHANGED
    else:
        return None
    with native_stderr_captured() as said:
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), flags | cv2.IMREAD_IGNORE_ORIENTATION)
    if any(said):  # libjpeg warned of damaged data ("Corrupt JPEG data"): Pillow decides what it is
        return None
    if pixels is None or pixels.dtype != np.uint8 or pixels.shape[:2] != (info.height, info.width):
        return None
    if pixels.shape[2] == 4:  # IMREAD_COLOR gives 3 channels, grey JPEGs too; a WebP has 3 or 4
        return cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGB), _alpha(pixels)
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB), None


def _alpha(rgba: np.ndarray) -> np.ndarray | None:
    """The alpha plane of 4-channel pixels, or None when every pixel is opaque."""
    alpha = np.ascontiguousarray(rgba[..., 3])
    return None if alpha.min() == 255 else alpha


def _upright(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """`pixels` as EXIF orientation `orientation` says to display them (what ImageOps.exif_transpose does)."""
    turned = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
        8: lambda a: np.rot90(a, 1),
    }.get(orientation)
    return pixels if turned is None else np.ascontiguousarray(turned(pixels))


@_refusing_damage
def decode(data: bytes) -> Still:
    """The full image, upright (EXIF orientation applied), in sRGB, with its alpha."""
    image, info = _open(data)
    _check_still(info)
    icc = _rgb_profile(image.info.get("icc_profile"))
    orientation = _orientation(image)
    fast = _opencv_pixels(data, info, image.mode)
    if fast is not None:
        rgb, alpha = fast
        if orientation != 1:
            rgb, alpha = _upright(rgb, orientation), None if alpha is None else _upright(alpha, orientation)
    else:
        _load(image)
        if orientation != 1:
            image = ImageOps.exif_transpose(image)
        rgb, alpha = _to_arrays(image)
    rgb, icc = _as_srgb(rgb, icc)
    return Still(rgb=rgb, alpha=alpha, icc_profile=icc, full_size=(rgb.shape[1], rgb.shape[0]))


@_refusing_damage
def preview(data: bytes, side: int = PREVIEW_SIDE) -> Still:
    """A small upright RGB copy for face detection; `scale` maps its pixels back to the full image."""
    image, info = _open(data)
    _check_still(info)
    orientation = _orientation(image)
    if info.format == "jpeg" and image.mode in ("RGB", "L", "CMYK", "YCbCr"):
        # Draft mode decodes at 1/2, 1/4 or 1/8 scale directly from the DCT: several times faster.
        image.draft("RGB", (side, side))
    _load(image)
    if orientation != 1:
        image = ImageOps.exif_transpose(image)
    rgb, _ = _to_arrays(image)
    turned = orientation in (5, 6, 7, 8)  # EXIF orientations that swap width and height
    full_size = (info.height, info.width) if turned else (info.width, info.height)
    return Still(rgb=_fit(rgb, side), alpha=None, icc_profile=None, full_size=full_size)


def for_detection(data: bytes, side: int = PREVIEW_SIDE) -> tuple[Still, Still | None]:
    """The preview faces are looked for in, and the full image too when the preview meant decoding it
    all anyway. Only a JPEG has a cheaper way in, and only when draft mode really decodes a fraction:
    asked for `side` x `side`, it halves only when both sides are at least twice that. A smaller JPEG
    would be decoded whole in draft mode too, and then again for its identification."""
    info = probe(data)
    if info.format == "jpeg" and min(info.width, info.height) >= 2 * side:
        return preview(data, side), None
    full = decode(data)
    return shrink(full, side), full


def shrink(still: Still, side: int = PREVIEW_SIDE) -> Still:
    """A preview made from an already decoded image (formats without draft decoding)."""
    if max(still.width, still.height) <= side:
        return still
    return Still(rgb=_fit(still.rgb, side), alpha=None, icc_profile=None, full_size=still.full_size)


def _fit(rgb: np.ndarray, side: int) -> np.ndarray:
    """`rgb` scaled down so its longest side is at most `side`, for the face detectors.

    Down to half size, bilinear: OpenCV's area averaging at a fractional factor costs more time, and the
    detectors (which shrink the preview to 128 or 192 px themselves) find the same faces with nearly the
    same boxes either way. Further down, area averaging keeps small faces from aliasing away."""
    height, width = rgb.shape[:2]
    if max(height, width) <= side:
        return np.ascontiguousarray(rgb)
    import cv2

    factor = side / max(height, width)
    interpolation = cv2.INTER_LINEAR if factor >= 0.5 else cv2.INTER_AREA
    return cv2.resize(rgb, (max(1, round(width * factor)), max(1, round(height * factor))), interpolation=interpolation)
