"""The `wink` command as a user runs it: exit codes, one-sentence errors, JSON lines for batches."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from testkit.fixtures import REPO
from testkit.images import corrupt_jpeg, damaged_avif


def wink(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_animate_one_target_photo_exits_0_and_writes_webp(fixtures, tmp_path):
    out = tmp_path / "z.webp"
    run = wink("animate", str(fixtures / "faces" / "zeman" / "zeman_1.jpg"), "-o", str(out))
    assert run.returncode == 0, run.stderr
    with Image.open(out) as image:
        assert image.format == "WEBP" and image.n_frames > 5
    assert run.stderr == ""  # no model chatter reaches the user


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["animate", "{fixtures}/faces/biden/biden_1.jpg", "-o", "{tmp}/b.webp"], 3, "no face of the target"),
        (["animate", "/nonexistent/photo.jpg"], 1, "cannot read"),
        (["animate", "{fixtures}/labels.json"], 1, "not an image"),
        (["animate", "{fixtures}/faces/zeman/zeman_1.jpg", "--preset", "nope"], 2, "Unknown preset"),
        (["animate", "{fixtures}/faces/zeman/zeman_1.jpg", "--target", "nobody"], 2, "Unknown target"),
        (["animate", "{fixtures}/faces/zeman/zeman_1.jpg", "--format", "bmp"], 2, "invalid choice"),
        (["animate"], 2, "required"),
    ],
)
def test_animate_failures_are_one_clear_line(fixtures, tmp_path, args, code, words):
    run = wink(*[a.format(fixtures=fixtures, tmp=tmp_path) for a in args])
    assert run.returncode == code
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in run.stderr


def test_animate_a_damaged_file_is_one_clear_line(tmp_path):
    """A damaged AVIF (libavif's RuntimeError) and a corrupt JPEG (libjpeg's warnings) each get one
    sentence naming the damage, and no traceback."""
    for name, data in (("damaged.avif", damaged_avif()), ("corrupt.jpg", corrupt_jpeg())):
        (tmp_path / name).write_bytes(data)
        run = wink("animate", str(tmp_path / name), "-o", str(tmp_path / "out.webp"))
        assert run.returncode == 1, (name, run.stderr)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and "damaged" in lines[0] and "Traceback" not in run.stderr, name


def test_batch_prints_one_json_line_per_input(fixtures, tmp_path):
    inputs = [
        fixtures / "faces" / "zeman" / "zeman_2.jpg",
        fixtures / "faces" / "kit_harington" / "kit_1.jpg",
        fixtures / "labels.json",
    ]
    run = wink("animate", *map(str, inputs), "--out-dir", str(tmp_path / "out"), "--format", "apng")
    records = [json.loads(line) for line in run.stdout.strip().splitlines()]
    assert [r["input"] for r in records] == list(map(str, inputs))
    assert [r["animated"] for r in records] == [True, False, False]
    assert Path(records[0]["output"]).suffix == ".png" and Path(records[0]["output"]).is_file()
    assert records[1]["output"] is None and "error" in records[2]
    assert run.returncode == 1  # one input could not be read at all


def test_presets_lists_names_with_descriptions():
    run = wink("presets")
    assert run.returncode == 0
    name, description = run.stdout.splitlines()[0].split(None, 1)
    assert name == "wink" and len(description) > 20


def test_enroll_writes_encodings_not_photos(fixtures, tmp_path):
    from pipeline.targets import enroll, load_target

    path = enroll("obama", [fixtures / "faces" / "obama" / "obama_1.jpg"], directory=tmp_path)
    record = json.loads(path.read_text())
    assert len(record["encodings"]) == 1 and len(record["encodings"][0]) == 128
    assert load_target("obama", directory=tmp_path).encodings.shape == (1, 128)
    assert not list(tmp_path.glob("*.jpg"))
