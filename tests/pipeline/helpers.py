"""Small helpers shared by the pipeline tests (imported as `tests.pipeline.helpers`)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def frames_of(data: bytes) -> list[np.ndarray]:
    """Every composited frame of an animated image, as RGB arrays."""
    with Image.open(io.BytesIO(data)) as image:
        out = []
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            out.append(np.asarray(image.convert("RGB")).copy())
        return out


def judge(judge_script: Path, original: Path, animated_bytes: bytes, tmp_path: Path) -> dict:
    """Run ../shared/tools/judge.py on an animation and return its JSON."""
    out = tmp_path / "animated.webp"
    out.write_bytes(animated_bytes)
    run = subprocess.run(
        [sys.executable, str(judge_script), str(original), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(run.stdout.strip().splitlines()[-1])
