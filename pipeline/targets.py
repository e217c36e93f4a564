"""Whose face to animate: enrolled face encodings (never photos), a photo, a folder of photos, or `any`.

An enrolled target is a JSON file in assets/targets/ written by `wink enroll`:
{"name": ..., "tolerance": 0.55, "encodings": [[128 floats], ...], "sources": [file names]}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import ImageError, UsageError

TARGETS_DIR = Path(__file__).resolve().parent.parent / "assets" / "targets"
#: face_recognition distance at or under which a face is the target. Its own default (0.6) is loose;
#: this is tighter, and still well under the distance of the nearest non-target face in the fixtures.
DEFAULT_TOLERANCE = 0.55
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".avif", ".tif", ".tiff"})


@dataclass(frozen=True)
class Target:
    """`encodings` is None for `any`, which animates every face."""

    name: str
    encodings: np.ndarray | None
    tolerance: float = DEFAULT_TOLERANCE


ANY = Target("any", None)


def enrolled_names(directory: Path = TARGETS_DIR) -> list[str]:
    return sorted(path.stem for path in directory.glob("*.json"))


def largest_face_encoding(data: bytes) -> np.ndarray | None:
    """The encoding of the biggest face in an image, or None when it shows no usable face."""
    from pipeline import decode, faces

    still = decode.decode(data)
    box = faces.largest_face(still)
    return None if box is None else faces.encode_faces(still.rgb, [box])[0]


def _photos_in(path: Path) -> list[Path]:
    if path.is_dir():
        photos = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not photos:
            raise UsageError(f"The folder {path} holds no photos.")
        return photos
    return [path]


def encode_photos(paths: list[Path]) -> tuple[np.ndarray, list[str]]:
    """Encodings of the largest face of each photo; a photo without a face is a usage error."""
    rows, sources = [], []
    for path in paths:
        try:
            encoding = largest_face_encoding(path.read_bytes())
        except OSError as error:
            raise UsageError(f"Cannot read {path}: {error.strerror or error}.") from error
        except ImageError as error:
            raise UsageError(f"{path} is not a usable photo: {error}") from error
        if encoding is None:
            raise UsageError(f"No face big enough to enroll was found in {path}.")
        rows.append(encoding)
        sources.append(path.name)
    return np.vstack(rows), sources


def enroll(name: str, photos: list[Path], directory: Path = TARGETS_DIR) -> Path:
    """Compute and store the face encodings of `name` from photos (the photos themselves are not kept)."""
    if not name or not all(ch.isalnum() or ch in "-_" for ch in name) or name == "any":
        raise UsageError("A target name uses letters, digits, - and _ only (and is not 'any').")
    paths = [p for photo in photos for p in _photos_in(Path(photo))]
    encodings, sources = encode_photos(paths)
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"{name}.json"
    record = {
        "name": name,
        "tolerance": DEFAULT_TOLERANCE,
        "model": "face_recognition (dlib ResNet, 128-d)",
        "sources": sources,
        "encodings": [[round(float(v), 6) for v in row] for row in encodings],
    }
    out.write_text(json.dumps(record, indent=1) + "\n")
    return out


def _from_file(path: Path) -> Target:
    try:
        record = json.loads(path.read_text())
        encodings = np.asarray(record["encodings"], dtype=np.float64)
        if encodings.ndim != 2 or encodings.shape[1] != 128 or len(encodings) == 0:
            raise ValueError("encodings must be rows of 128 numbers")
        return Target(str(record.get("name", path.stem)), encodings, float(record.get("tolerance", DEFAULT_TOLERANCE)))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UsageError(f"The target file {path} is not valid: {error}.") from error


def load_target(spec: str, directory: Path = TARGETS_DIR) -> Target:
    """A target from `any`, an enrolled name, a target .json, a photo, or a folder of photos."""
    if spec == "any":
        return ANY
    enrolled = directory / f"{spec}.json"
    if "/" not in spec and enrolled.is_file():
        return _from_file(enrolled)
    path = Path(spec).expanduser()
    if path.suffix == ".json" and path.is_file():
        return _from_file(path)
    if path.is_dir() or (path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES):
        encodings, _ = encode_photos(_photos_in(path))
        return Target(path.stem, encodings)
    if path.exists():
        raise UsageError(f"{spec} is neither a photo, a folder of photos nor a target file.")
    names = ", ".join(["any", *enrolled_names(directory)])
    raise UsageError(f"Unknown target {spec!r}: use one of {names}, a photo or a folder of photos.")
