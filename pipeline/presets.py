"""Motion presets: what a face does, frame by frame, in the canonical face frame (see pipeline.pose).

File format (`.npz`, numpy's zip of arrays; documented in assets/presets/README.md):
- `offsets`: float32 (F, 478, 3) - displacement of every Face Mesh landmark, per frame, in IOD units of
  the canonical frame; frame 0 is all zeros (the first frame is the still);
- `durations_ms`: int32 (F,) - how long each frame shows; a still moment may be one long frame;
- `reference`: float32 (478, 3) - the neutral face (canonical frame) the motion was made on, so the
  renderer can retarget it (an eyelid closes by the gap of the face it is applied to, not the original's);
- `meta`: a JSON string: {"format": "wink-preset", "version": 1, "name", "description", "source"}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from pipeline.errors import UsageError
from pipeline.types import N_LANDMARKS

PRESETS_DIR = Path(__file__).resolve().parent.parent / "assets" / "presets"
FORMAT_NAME = "wink-preset"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    offsets: np.ndarray
    durations_ms: np.ndarray
    reference: np.ndarray
    source: str = ""

    @property
    def frames(self) -> int:
        return len(self.durations_ms)

    @property
    def loop_ms(self) -> int:
        return int(self.durations_ms.sum())


@dataclass(frozen=True)
class PresetInfo:
    name: str
    description: str
    path: Path


def validate(preset: Preset) -> Preset:
    """Raise UsageError unless the arrays have the documented shapes and the loop starts at the still."""
    frames = len(preset.durations_ms)
    if preset.offsets.shape != (frames, N_LANDMARKS, 3) or frames < 2:
        raise UsageError(f"Preset {preset.name!r} must hold offsets of shape (frames >= 2, 478, 3).")
    if preset.reference.shape != (N_LANDMARKS, 3):
        raise UsageError(f"Preset {preset.name!r} must hold a (478, 3) reference face.")
    if not np.all(np.isfinite(preset.offsets)) or np.any(preset.durations_ms <= 0):
        raise UsageError(f"Preset {preset.name!r} has non-finite offsets or non-positive durations.")
    if np.abs(preset.offsets[0]).max() > 1e-6:
        raise UsageError(f"Preset {preset.name!r} must start at the still (frame 0 offsets all zero).")
    return preset


def save(preset: Preset, path: Path) -> Path:
    validate(preset)
    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "name": preset.name,
        "description": preset.description,
        "source": preset.source,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        np.savez_compressed(
            handle,
            offsets=preset.offsets.astype(np.float32),
            durations_ms=preset.durations_ms.astype(np.int32),
            reference=preset.reference.astype(np.float32),
            meta=np.array(json.dumps(meta)),
        )
    return path


def _read(path: Path) -> Preset:
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            if meta.get("format") != FORMAT_NAME or int(meta.get("version", 0)) > FORMAT_VERSION:
                raise ValueError("not a wink preset of a version this program reads")
            preset = Preset(
                name=str(meta.get("name") or path.stem),
                description=str(meta.get("description", "")),
                offsets=archive["offsets"].astype(np.float32),
                durations_ms=archive["durations_ms"].astype(np.int32),
                reference=archive["reference"].astype(np.float32),
                source=str(meta.get("source", "")),
            )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UsageError(f"{path} is not a readable preset file: {error}.") from error
    return validate(preset)


@cache
def _read_cached(path: Path, mtime_ns: int) -> Preset:
    return _read(path)


def list_presets(directory: Path = PRESETS_DIR) -> list[PresetInfo]:
    """The presets in the presets folder, with their one-line descriptions, `wink` first."""
    infos = []
    for path in sorted(directory.glob("*.npz")):
        try:
            preset = load_preset(str(path))
        except UsageError:
            continue
        infos.append(PresetInfo(path.stem, preset.description, path))
    infos.sort(key=lambda info: (info.name != "wink", info.name))
    return infos


def load_preset(spec: str, directory: Path = PRESETS_DIR) -> Preset:
    """A preset by name (from the presets folder) or by path to a .npz file."""
    path = Path(spec).expanduser()
    if not path.is_file():
        path = directory / f"{spec}.npz"
    if not path.is_file():
        names = ", ".join(p.stem for p in sorted(directory.glob("*.npz")))
        raise UsageError(f"Unknown preset {spec!r}: use one of {names} or a path to a .npz preset.")
    path = path.resolve()
    return _read_cached(path, path.stat().st_mtime_ns)
