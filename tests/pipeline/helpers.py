"""Small helpers shared by the pipeline tests (imported as `tests.pipeline.helpers`)."""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pipeline import features, topology, warp
from pipeline.motion import FaceMotion
from pipeline.types import Still


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


def painted(
    still: Still, face_motion: FaceMotion, face_warp: warp.FaceWarp, index: int, *, lids_drawn: bool = True
) -> np.ndarray:
    """One face's frame `index`, whole: the warp, then (unless `lids_drawn` is False) the lids and mouth
    drawn over it. Also used by benchmarks/shut_eye_reader.py."""
    dest = face_warp.vertex_positions(face_motion.frames[index])
    source = face_warp.source_positions(face_motion.sources[index])
    patch = warp.render(still.rgb, None, [(face_warp, dest, source)])
    assert patch is not None, "the frame moves nothing"
    if lids_drawn:
        patch = features.paint(still, patch, [face_motion], index)
    out = still.rgb.copy()
    out[patch.box.y0 : patch.box.y1, patch.box.x0 : patch.box.x1] = patch.rgb
    return out


def shadowed_socket(still: Still, face_motion: FaceMotion, eye: int, factor: float) -> Still:
    """The still with the socket round one eye in shadow, as under a heavy brow lit from above: darkened
    from just above the fold to under the lower lid, the lid and brow skin above it left lit.
    `factor`: how much light the shadow leaves. Also used by benchmarks/lid_variants.py."""
    _, upper, lower, corners, _, _ = topology.EYES[eye]
    iod = face_motion.pose.scale
    centre = face_motion.still[list(corners)].mean(axis=0)
    fold_top = face_motion.still[list(upper), 1].min() - 0.1 * iod
    rim_bottom = face_motion.still[list(lower), 1].max() + 0.1 * iod
    ys, xs = np.mgrid[: still.height, : still.width]
    half_width = 0.45 * iod
    inside = np.clip(1 - np.abs(xs - centre[0]) / half_width, 0, 1) * ((ys > fold_top) & (ys < rim_bottom))
    shade = 1 - (1 - factor) * cv2.GaussianBlur(inside.astype(np.float32), (0, 0), 0.03 * iod)
    return dataclasses.replace(still, rgb=np.clip(still.rgb * shade[..., None], 0, 255).astype(np.uint8))
