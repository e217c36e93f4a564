"""`uv run python -m pipeline.authoring [--reference PHOTO...]`: rewrite the authored presets in assets/presets/.

The one place that knows both the default `wink` (controls.py) and the library (expressions.py), so
neither module imports the other.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pipeline.authoring.controls import AUTHORED, REFERENCE_PATH, compute_reference, load_reference
from pipeline.authoring.expressions import PRESETS
from pipeline.presets import PRESETS_DIR, save


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the authored presets into assets/presets/.")
    parser.add_argument("--reference", nargs="*", type=Path, help="recompute the reference face from photos")
    args = parser.parse_args(argv)
    if args.reference:
        np.save(REFERENCE_PATH, compute_reference(args.reference))
    reference = load_reference()
    for name, make in {**AUTHORED, **PRESETS}.items():
        print(save(make(reference), PRESETS_DIR / f"{name}.npz"))


if __name__ == "__main__":
    main()
