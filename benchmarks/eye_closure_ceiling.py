"""How far does the judge's eye aspect ratio fall for an eye that really is shut?

    uv run python benchmarks/eye_closure_ceiling.py [--fixtures DIR] [--json out.json]

The pipeline's wink bar asks the judge (../shared/tools/judge.py, dlib's 68 points) to see the winking
eye's aspect ratio fall to <= 45% of the still's. This measures what that figure can be on each fixture
photo when the eye is not drawn by us at all:

  real wink      the fixture video wink.mp4 itself: its winking eye at its most shut, against frame 0
  real shut eye  that shut eye, aligned on its corners and matched in mean colour, pasted over the
                 person's own left eye in the photo (a real closed eye in place of a drawn one)
  wink-left      the product's own `wink-left` preset on the same photo, judged the same way

Each cell is "closing eye / other eye", as ratios to the photo's own openness, the judge's wink_ratio
and other_eye_ratio. If a real shut eye does not reach the bar on a photo, no drawing of one will.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import statistics
from pathlib import Path

import cv2
import face_recognition
import numpy as np
from PIL import Image, ImageOps

from pipeline import api

REPO = Path(__file__).resolve().parent.parent

FIXTURES = Path(os.environ.get("WINK_FIXTURES", REPO.parent / "shared" / "fixtures"))
PHOTOS = (
    "zeman/zeman_1.jpg",
    "zeman/zeman_2.jpg",
    "obama/obama_1.jpg",
    "obama/obama_2.jpg",
    "biden/biden_1.jpg",
    "biden/biden_2.jpg",
    "kit_harington/kit_2.jpg",
    "rose_leslie/rose_1.jpg",
    "alex_lacamoire/alex_1.jpg",
)
BAR = 0.45


def load_judge(fixtures: Path):
    """The judge's own module, so every figure here is its `describe()` on the same face box."""
    path = fixtures.parent / "tools" / "judge.py"
    spec = importlib.util.spec_from_file_location("judge", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def video_frames(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))


def openness(judge, image: np.ndarray, box, still: dict) -> tuple[float, float]:
    """(person's left eye, person's right eye) aspect ratios relative to the still's, as the judge sees them."""
    seen = judge.describe(image, box)
    return seen["ear_r"] / still["ear_r"], seen["ear_l"] / still["ear_l"]


def shut_eye(judge, frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, float]:
    """The video frame where the person's left eye is most shut, its eye corners, and that eye's ratio."""
    box = face_recognition.face_locations(frames[0], number_of_times_to_upsample=1)[0]
    still = judge.describe(frames[0], box)
    ratios = [openness(judge, frame, box, still)[0] for frame in frames]
    index = int(np.argmin(ratios))
    eye = face_recognition.face_landmarks(frames[index], [box], model="large")[0]["right_eye"]
    return frames[index], np.array([eye[0], eye[3]], np.float64), float(ratios[index])


def paste_eye(photo: np.ndarray, box, source: np.ndarray, source_corners: np.ndarray) -> np.ndarray:
    """The photo with `source`'s eye laid over the person's left eye (similarity on the two corners)."""
    eye = face_recognition.face_landmarks(photo, [box], model="large")[0]["right_eye"]
    corners = np.array([eye[0], eye[3]], np.float64)
    src_vec, dst_vec = source_corners[1] - source_corners[0], corners[1] - corners[0]
    scale = np.linalg.norm(dst_vec) / np.linalg.norm(src_vec)
    angle = np.arctan2(dst_vec[1], dst_vec[0]) - np.arctan2(src_vec[1], src_vec[0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = np.hstack([rotation, (corners[0] - rotation @ source_corners[0])[:, None]])
    warped = cv2.warpAffine(source, matrix, (photo.shape[1], photo.shape[0]), flags=cv2.INTER_CUBIC)
    centre, width = corners.mean(axis=0), float(np.linalg.norm(dst_vec))
    mask = np.zeros(photo.shape[:2], np.float32)
    cv2.ellipse(mask, (int(centre[0]), int(centre[1])), (int(width * 0.85), int(width * 0.45)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), width * 0.12)[..., None]
    inside = mask[..., 0] > 0.5
    warped = warped.astype(np.float32) * (photo[inside].mean(axis=0) / np.maximum(warped[inside].mean(axis=0), 1.0))
    return np.clip(photo * (1 - mask) + warped * mask, 0, 255).astype(np.uint8)


def product_wink(judge, photo_path: Path, photo: np.ndarray, box, still: dict) -> tuple[float, float] | None:
    """Lowest openness of each eye over the frames of the product's wink-left on this photo."""
    animation = api.animate(photo_path.read_bytes(), target="any", preset="wink-left")
    if not animation.animated:
        return None
    with Image.open(io.BytesIO(animation.data)) as image:
        frames = []
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            frames.append(np.asarray(image.convert("RGB")))
    seen = [openness(judge, frame, box, still) for frame in frames]
    return min(s[0] for s in seen), min(s[1] for s in seen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixtures", type=Path, default=FIXTURES)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    video = args.fixtures / "video" / "wink.mp4"
    if not video.is_file():
        print(f"eye_closure_ceiling: {video} not found (use --fixtures).")
        return 1
    judge = load_judge(args.fixtures)
    source, source_corners, real = shut_eye(judge, video_frames(video))
    print(f"real wink (wink.mp4, most shut frame): winking eye {real:.2f} of its frame-0 openness; bar <= {BAR}\n")
    print(f"{'photo':26} {'real shut eye pasted':>22} {'product wink-left':>20}")
    rows = []
    for name in PHOTOS:
        path = args.fixtures / "faces" / name
        photo = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
        boxes = face_recognition.face_locations(photo, number_of_times_to_upsample=1)
        if not boxes:
            continue
        box = boxes[0]
        still = judge.describe(photo, box)
        pasted = openness(judge, paste_eye(photo, box, source, source_corners), box, still)
        ours = product_wink(judge, path, photo, box, still)
        rows.append({"photo": name, "pasted": pasted, "product": ours})
        ours_text = "no face animated" if ours is None else f"{ours[0]:.2f} / {ours[1]:.2f}"
        print(f"{name:26} {pasted[0]:>15.2f} / {pasted[1]:.2f} {ours_text:>20}")
    pasted_median = statistics.median(r["pasted"][0] for r in rows)
    product_median = statistics.median(r["product"][0] for r in rows if r["product"])
    print(
        f"\nmedian closing eye: real shut eye pasted {pasted_median:.2f}, product {product_median:.2f} (bar <= {BAR})"
    )
    if args.json:
        args.json.write_text(json.dumps({"real_wink": real, "photos": rows, "bar": BAR}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
