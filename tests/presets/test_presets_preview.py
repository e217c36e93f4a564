"""`wink preview`: a contact sheet of a preset's key frames on a photo, marked as synthetic."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from pipeline.authoring.preview import TILE_HEIGHT, contact_sheet, key_frames
from pipeline.presets import load_preset
from testkit.fixtures import fixture_path
from tests.presets.helpers_presets import png_text, wink_cli


def test_key_frames_start_at_the_still_and_catch_the_peak():
    preset = load_preset("blink")
    keys = key_frames(preset)
    size = np.abs(preset.offsets).sum(axis=(1, 2))
    assert keys[0] == 0 and int(np.argmax(size)) in keys and keys == sorted(keys)
    assert len(keys) <= 8


def test_contact_sheet_shows_the_moving_face_and_says_synthetic():
    data = contact_sheet(fixture_path("faces/zeman/zeman_1.jpg").read_bytes(), "blink", "any")
    with Image.open(io.BytesIO(data)) as sheet:
        assert sheet.format == "PNG" and sheet.height > TILE_HEIGHT
        tiles = len(key_frames(load_preset("blink")))
        assert tiles >= 2 and sheet.width >= tiles * 100
        pixels = np.asarray(sheet.convert("RGB"))
    tile_w = pixels.shape[1] // tiles
    first, peak = pixels[:TILE_HEIGHT, :tile_w].astype(int), pixels[:TILE_HEIGHT, tile_w : 2 * tile_w].astype(int)
    assert np.abs(first - peak).mean() > 0.5  # the tiles differ: the face moves
    assert "compositeSynthetic" in png_text(data)["DigitalSourceType"]


def test_preview_cli_writes_a_png_and_fails_clearly(tmp_path):
    out = tmp_path / "sheet.png"
    run = wink_cli(["preview", "--preset", "smile", str(fixture_path("faces/zeman/zeman_2.jpg")), "-o", str(out)])
    assert run.returncode == 0, run.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    missing = wink_cli(["preview", str(tmp_path / "none.jpg")])
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
    unknown = wink_cli(["preview", "--preset", "no-such", str(fixture_path("faces/zeman/zeman_2.jpg"))])
    assert unknown.returncode == 2 and "Unknown preset" in unknown.stderr
