"""The judge's reading of `wink` and `blink` on every fixture face, one line each, as a table to compare.

    uv run python benchmarks/judge_faces.py [-o out.json] [NAME ...]

What tests/presets/test_presets_other_faces.py asserts, printed instead: each face animated (Zeman's
photos with the `zeman` target, the others with `any`) and read by `../shared/tools/judge.py`, run as its
own process. NAME limits the run to the photos whose path holds it (e.g. `rose_1`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from pipeline.api import Animator

FIXTURES = Path(os.environ.get("WINK_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures"))
JUDGE = FIXTURES.parent / "tools" / "judge.py"
FACES = (
    "zeman/zeman_1.jpg",
    "zeman/zeman_2.jpg",
    "obama/obama_1.jpg",
    "obama/obama_2.jpg",
    "obama/obama_4.jpg",
    "biden/biden_1.jpg",
    "biden/biden_2.jpg",
    "kit_harington/kit_1.jpg",
    "kit_harington/kit_2.jpg",
    "rose_leslie/rose_1.jpg",
    "alex_lacamoire/alex_1.jpg",
    "alex_lacamoire/alex_2.jpg",
    "alex_lacamoire/alex_3.png",
    "lin_manuel_miranda/lin_1.png",
)
PRESETS = ("wink", "blink")
KEYS = (
    "mp_closing_eye",
    "mp_wink_ratio",
    "mp_shut_ms",
    "mp_other_eye_ratio",
    "max_id_dist",
    "changed_outside",
    "max_step",
    "last_vs_first",
    "mp_lost_frames",
)


def judged(face: str, preset: str) -> dict:
    """The judge's record of the first face of a fixture photo's animation, limited to KEYS."""
    photo = FIXTURES / "faces" / face
    result = Animator("zeman" if "zeman" in face else "any", preset).animate(photo.read_bytes())
    if result.data is None:
        return {"error": "not animated"}
    with tempfile.TemporaryDirectory() as folder:
        animated = Path(folder) / "animated.webp"
        animated.write_bytes(result.data)
        run = subprocess.run(
            [sys.executable, str(JUDGE), str(photo), str(animated)], capture_output=True, text=True, check=True
        )
    record = json.loads(run.stdout.strip().splitlines()[-1])["faces"][0]
    return {key: record.get(key) for key in KEYS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=None, help="also write the table as JSON")
    parser.add_argument("names", nargs="*", help="only the photos whose path holds one of these")
    args = parser.parse_args()
    table = {}
    for preset in PRESETS:
        for face in FACES:
            if args.names and not any(name in face for name in args.names):
                continue
            row = judged(face, preset)
            table[f"{Path(face).stem}-{preset}"] = row
            print(Path(face).stem, preset, " ".join(f"{key}={value}" for key, value in row.items()), flush=True)
    if args.output is not None:
        args.output.write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
