"""Is it the lid or the place? A face's two shut lids, each moved onto the other eye, read by the judge.

    uv run python benchmarks/shut_eye_reader.py [--photo faces/biden/biden_2.jpg] [--target any]
        [--preset blink] [--out folder]

The judge reads how far an eye shut with MediaPipe's Face Mesh, whose reading of one eye depends on the
face round it as well as on the lid. In the served animation, biden_2's `blink` shuts his left eye to
0.26 of its openness and his right eye only to 0.42 (the bar is 0.35; the frame as drawn, before it is
encoded, reads 0.24 and 0.38). This asks which it is: the lid drawn over the right eye,
or the right eye's place in his face. The most-shut frame is drawn, then each eye's shut lid is moved
onto the other eye (mirrored, aligned by the eye corners, blended in over an ellipse round the eye), and
`../shared/tools/judge.py` reads each picture, as a two-frame animation (the still, then the picture).
A lid that reads shut over one eye and open over the other is read by its place, not by its drawing.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pipeline import topology
from pipeline.api import animator
from tests.pipeline.helpers import judge, painted

FIXTURES = Path(os.environ.get("WINK_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures"))
JUDGE = FIXTURES.parent / "tools" / "judge.py"
#: The ellipse round an eye that a moved lid covers (half-axes in eye widths), and its soft edge.
REACH = (0.9, 0.55)
FEATHER = 0.3


def most_shut_frame(data: bytes, target: str, preset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The still, the frame where the eyes are most shut, and the eye corners (eye, outer/inner, xy)."""
    stages = animator(target, preset).stages(data)
    if stages.still is None or not stages.motions:
        raise SystemExit(f"No face of {target!r} to animate in the photo.")
    still, motion = stages.still, stages.motions[0]
    frame = painted(still, motion, stages.warps[0], int(np.argmax(motion.eye_closure.sum(axis=1))))
    corners = np.array([motion.still[list(eye[3])] for eye in topology.EYES])
    return still.rgb, frame, corners


def moved_lid(frame: np.ndarray, corners: np.ndarray, source: int, dest: int) -> np.ndarray:
    """`frame` with eye `dest` covered by eye `source`'s pixels, mirrored and aligned by the corners."""
    width = frame.shape[1]
    mirrored = np.ascontiguousarray(frame[:, ::-1])
    from_corners = corners[source].copy()
    from_corners[:, 0] = width - 1 - from_corners[:, 0]
    similarity, _ = cv2.estimateAffinePartial2D(from_corners.astype(np.float32), corners[dest].astype(np.float32))
    moved = cv2.warpAffine(mirrored, similarity, (width, frame.shape[0]), flags=cv2.INTER_LINEAR)
    centre, eye_width = corners[dest].mean(axis=0), float(np.linalg.norm(corners[dest][1] - corners[dest][0]))
    ys, xs = np.mgrid[: frame.shape[0], :width]
    reach = np.hypot((xs - centre[0]) / (REACH[0] * eye_width), (ys - centre[1]) / (REACH[1] * eye_width))
    share = np.clip((1 - reach) / FEATHER, 0, 1)[..., None]
    return (frame * (1 - share) + moved * share).astype(np.uint8)


def readings(original: Path, still: np.ndarray, picture: np.ndarray, folder: Path) -> dict[str, float]:
    """The judge's MediaPipe openness of each eye in `picture`, relative to the still: {"right", "left"}."""
    animation = io.BytesIO()
    frames = [Image.fromarray(still), Image.fromarray(picture)]
    frames[0].save(animation, "WEBP", lossless=True, save_all=True, append_images=frames[1:], duration=[500, 500])
    faces = judge(JUDGE, original, animation.getvalue(), folder)["faces"]
    face = max(faces, key=lambda f: (f["box"][2] - f["box"][0]) * (f["box"][1] - f["box"][3]), default={})
    if "mp_closing_eye" not in face:
        raise SystemExit("The judge's MediaPipe lost the face.")
    other = "left" if face["mp_closing_eye"] == "right" else "right"
    return {face["mp_closing_eye"]: face["mp_wink_ratio"], other: face["mp_other_eye_ratio"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", default="faces/biden/biden_2.jpg", help="a fixture (default biden_2)")
    parser.add_argument("--target", default="any", help="whose face (default any)")
    parser.add_argument("--preset", default="blink", help="a preset that shuts both eyes (default blink)")
    parser.add_argument("--out", type=Path, help="also save the pictures here, as PNG")
    args = parser.parse_args()
    original = FIXTURES / args.photo
    for needed in (JUDGE, original):
        if not needed.is_file():
            print(f"{needed} is missing; set WINK_FIXTURES to the fixtures folder.", file=sys.stderr)
            return 2
    still, frame, corners = most_shut_frame(original.read_bytes(), args.target, args.preset)
    sides = [eye[0] for eye in topology.EYES]
    right, left = sides.index("right"), sides.index("left")
    pictures = {
        "the most-shut frame": frame,
        "right eye <- left lid": moved_lid(frame, corners, left, right),
        "left eye <- right lid": moved_lid(frame, corners, right, left),
        "still: right eye <- left eye": moved_lid(still, corners, left, right),
    }
    print(f"{args.photo}, {args.preset}: the judge's MediaPipe openness, relative to the still (bar 0.35)")
    print(f"{'picture':30} {'right eye':>9} {'left eye':>9}")
    with tempfile.TemporaryDirectory() as folder:
        for number, (name, picture) in enumerate(pictures.items()):
            workdir = Path(folder) / str(number)  # judge() names its file the same for every picture
            workdir.mkdir()
            read = readings(original, still, picture, workdir)
            print(f"{name:30} {read['right']:9.3f} {read['left']:9.3f}")
            if args.out:
                args.out.mkdir(parents=True, exist_ok=True)
                Image.fromarray(picture).save(args.out / f"{name.replace(' ', '_').replace('<-', 'from')}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
