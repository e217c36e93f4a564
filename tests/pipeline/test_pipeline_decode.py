"""Decoding: every kind of input gives a clear result or a clear error, upright and with alpha kept."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from pipeline import decode
from pipeline.errors import ImageError
from testkit.images import corrupt_jpeg, damaged_avif, frames_of


def _png(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **params)
    return buffer.getvalue()


def _bomb_png(side: int = 20000) -> bytes:
    """A tiny file whose header claims side x side pixels (a decompression bomb)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (side * 3 + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\xff\xd8\xff\xe0", "jpeg"),
        (b"\x89PNG\r\n\x1a\n", "png"),
        (b"GIF89a", "gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"\x00\x00\x00\x1cftypavif", "avif"),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1miafavif", "avif"),  # the generic brand first
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "heif"),
        (b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1\x00\x00\x00\x08avif", "heif"),  # past the box
        (b"<svg xmlns='http://www.w3.org/2000/svg'>", "svg"),
        (b"BM", "bmp"),
        (b"\x00\x00\x01\x00", "ico"),
        (b"hello world", None),
        (b"", None),
    ],
)
def test_sniff_recognises_kinds_by_their_bytes(head, kind):
    assert decode.sniff(head) == kind


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("empty", b"", "empty"),
        ("text", b"just some text, not a picture", "not an image"),
        ("svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
        ("bomb", _bomb_png(), "too large"),
    ],
)
def test_bad_inputs_raise_one_clear_sentence(name, data, words):
    with pytest.raises(ImageError) as caught:
        decode.decode(data)
    message = str(caught.value)
    assert words in message and "\n" not in message


def test_truncated_jpeg_is_an_image_error(fixtures):
    data = (fixtures / "faces" / "zeman" / "zeman_1.jpg").read_bytes()
    with pytest.raises(ImageError, match="damaged or truncated"):
        decode.decode(data[: len(data) // 3])


def test_animated_gif_is_refused_and_tiny_gif_too():
    frames = [Image.new("RGB", (32, 32), color) for color in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    with pytest.raises(ImageError, match="already animated"):
        decode.decode(buffer.getvalue())
    tiny = io.BytesIO()
    Image.new("P", (1, 1)).save(tiny, "GIF")
    with pytest.raises(ImageError, match="too small"):
        decode.decode(tiny.getvalue())


def test_cmyk_and_16_bit_images_decode_to_rgb(fixtures):
    with Image.open(fixtures / "faces" / "obama" / "obama_small.jpg") as image:
        rgb = image.convert("RGB")
    cmyk = io.BytesIO()
    rgb.convert("CMYK").save(cmyk, "JPEG", quality=95)
    still = decode.decode(cmyk.getvalue())
    assert still.rgb.shape == (rgb.height, rgb.width, 3)
    assert np.abs(still.rgb.astype(int) - np.asarray(rgb).astype(int)).mean() < 12
    grey16 = Image.fromarray(np.asarray(rgb.convert("L")).astype(np.uint16) * 257)
    still16 = decode.decode(_png(grey16))
    assert still16.rgb.dtype == np.uint8 and still16.rgb.shape[2] == 3
    assert abs(float(still16.rgb.mean()) - float(np.asarray(rgb.convert("L")).mean())) < 2


def test_exif_orientation_is_applied(fixtures):
    with Image.open(fixtures / "faces" / "zeman" / "zeman_1.jpg") as image:
        upright = image.convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a camera held sideways stores
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    still = decode.decode(buffer.getvalue())
    assert (still.width, still.height) == upright.size
    preview = decode.preview(buffer.getvalue())
    assert preview.width < preview.height  # upright portrait, like the original


def test_alpha_survives_into_the_animation(fixtures, animators):
    with Image.open(fixtures / "scenes" / "32bit.png") as original:
        rgba = np.asarray(original.convert("RGBA")).copy()
    rgba[:, : rgba.shape[1] // 8, 3] = 0  # a transparent margin, as cut-out portraits have
    rgba[:, rgba.shape[1] // 8 : rgba.shape[1] // 6, 3] = 128
    result = animators("any").animate(_png(Image.fromarray(rgba, "RGBA")))
    assert result.animated
    with Image.open(io.BytesIO(result.data)) as image:
        assert image.mode == "RGBA"
        for index in (0, image.n_frames // 2, image.n_frames - 1):
            image.seek(index)
            alpha = np.asarray(image.convert("RGBA"))[..., 3]
            assert np.abs(alpha.astype(int) - rgba[..., 3].astype(int)).mean() < 1, index


def test_faces_cut_by_the_image_edge_still_animate(fixtures, animators):
    for name in ("obama_partial_1.jpg", "obama_partial_2.jpg"):
        data = (fixtures / "faces" / "obama" / name).read_bytes()
        result = animators("any").animate(data)
        assert result.animated, name
        frames = frames_of(result.data)
        assert len(frames) > 1 and frames[0].shape[:2] == (result.height, result.width)


def test_a_preview_knows_the_full_size_exactly(animators):
    """The full size was once rebuilt from the preview's scale: 3001x2001 came out 3001x2002."""
    image = Image.new("RGB", (3001, 2001), (120, 90, 80))
    data = io.BytesIO()
    image.save(data, "JPEG", exif=_orientation_exif(6))
    preview = decode.preview(data.getvalue())
    assert preview.full_size == (2001, 3001) and max(preview.width, preview.height) <= decode.PREVIEW_SIDE
    result = animators().animate(data.getvalue())
    assert result.data is None and (result.width, result.height) == (2001, 3001)


def _orientation_exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def test_the_look_decodes_a_jpeg_once(fixtures):
    """Draft mode halves a JPEG only when both sides are twice the preview's: below that the look's
    decode is the whole image, kept for the identification instead of decoded again."""
    side = decode.PREVIEW_SIDE
    for size, drafted in (
        ((2 * side + 8, 2 * side), True),
        ((2 * side + 400, 2 * side - 8), False),
        ((side + 100, side), False),
    ):
        data = io.BytesIO()
        Image.new("RGB", size, (120, 90, 80)).save(data, "JPEG")
        small, full = decode.for_detection(data.getvalue())
        assert small.full_size == size and max(small.width, small.height) <= side
        assert (full is None) == drafted, size
        if full is not None:
            assert (full.width, full.height) == size


def test_an_avif_that_names_the_generic_brand_first_is_read_as_avif():
    """Some encoders write `mif1` as the major brand and `avif` among the compatible ones."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 100, 50)).save(buffer, "AVIF")
    data = buffer.getvalue()
    assert data[8:12] == b"avif" and b"mif1" in data[16:32]
    generic = data[:8] + b"mif1" + data[12:]
    assert decode.sniff(generic[:64]) == "avif"
    assert decode.probe(generic).format == "avif" and decode.decode(generic).width == 64


def _pillow_decode(data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """What decode() gives when Pillow decodes the pixels (upright, RGB, alpha or None)."""
    from PIL import ImageOps

    with Image.open(io.BytesIO(data)) as image:
        upright = ImageOps.exif_transpose(image)
        rgba = np.asarray(upright.convert("RGBA"))
    alpha = rgba[..., 3]
    return rgba[..., :3], None if alpha.min() == 255 else alpha


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_and_webp_decode_as_pillow_decodes_them_in_every_orientation(fixtures, orientation):
    """decode() reads JPEG and WebP pixels with OpenCV (faster): the same pixels, turned the same way."""
    with Image.open(fixtures / "faces" / "zeman" / "zeman_2.jpg") as photo:
        rgb = photo.convert("RGB").resize((301, 203))
    rgba = rgb.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgb.size))
    cases = {
        "jpeg": (rgb, "JPEG", {"quality": 85}),
        "grey jpeg": (rgb.convert("L"), "JPEG", {"quality": 85}),
        "webp": (rgb, "WEBP", {"quality": 80}),
        "webp with alpha": (rgba, "WEBP", {"quality": 80}),
    }
    for name, (image, kind, params) in cases.items():
        buffer = io.BytesIO()
        image.save(buffer, kind, exif=_orientation_exif(orientation), **params)
        still = decode.decode(buffer.getvalue())
        expected_rgb, expected_alpha = _pillow_decode(buffer.getvalue())
        assert still.rgb.shape == expected_rgb.shape and np.array_equal(still.rgb, expected_rgb), name
        assert (still.alpha is None) == (expected_alpha is None), name
        if expected_alpha is not None:
            assert np.array_equal(still.alpha, expected_alpha), name


def test_cut_webp_and_progressive_jpeg_are_errors_and_a_padded_jpeg_is_the_photo(fixtures):
    """OpenCV reads JPEG and WebP pixels; a file cut short is still an error, not a part-grey photo, and
    a JPEG with bytes after its end marker is still the photo."""
    with Image.open(fixtures / "faces" / "zeman" / "zeman_2.jpg") as photo:
        rgb = photo.convert("RGB")
    buffer = io.BytesIO()
    rgb.save(buffer, "WEBP", quality=80)
    webp = buffer.getvalue()
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", quality=85, progressive=True)
    progressive = buffer.getvalue()
    for cut in (webp[: len(webp) * 2 // 3], progressive[: len(progressive) * 9 // 10]):
        with pytest.raises(ImageError):
            decode.decode(cut)
    jpeg = (fixtures / "faces" / "zeman" / "zeman_2.jpg").read_bytes()
    padded = decode.decode(jpeg + b"trailing bytes a server appended")
    assert np.array_equal(padded.rgb, decode.decode(jpeg).rgb)


def test_a_damaged_avif_is_an_image_error_not_the_plugins_runtime_error():
    data = damaged_avif()
    with pytest.raises(RuntimeError), Image.open(io.BytesIO(data)) as image:  # what Pillow itself raises
        image.load()
    with pytest.raises(ImageError, match="damaged") as raised:
        decode.decode(data)
    assert isinstance(raised.value.__cause__, RuntimeError)  # the library's error kept as the cause


def test_a_corrupt_jpeg_writes_nothing_to_stderr_and_is_refused(capfd):
    """libjpeg's "Corrupt JPEG data" warning (OpenCV's decode) stays off the console, and the file
    goes to Pillow, whose error names the damage."""
    with pytest.raises(ImageError, match="damaged"):
        decode.decode(corrupt_jpeg())
    assert capfd.readouterr().err == ""
