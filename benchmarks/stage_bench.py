"""Warm per-stage timings of the pipeline on the fixture photos.

    uv run python benchmarks/stage_bench.py [--repeat 7] [--fixtures ../shared/fixtures] [--json-only]
    uv run wink bench [...]                 (the same, from a source checkout)

Each case runs once to warm up, then `--repeat` times; medians are reported per stage and in total,
as a table and as one JSON object on the last line. A WebP's first frame is encoded while the frames
are drawn (pipeline.encode.begin): its time shows in "warp", and "encode" is what is left after it.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from pathlib import Path
from typing import Any

STAGES = ("decode", "detect", "identify", "mesh", "warp", "encode", "sign")
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def _no_face_photo(fixtures: Path) -> bytes:
    """A real photo region with no face in it: the suit and hands below Biden's face, about 1 MP."""
    from PIL import Image

    with Image.open(fixtures / "faces" / "biden" / "biden_1.jpg") as original:
        image = original.convert("RGB")
        width, height = image.size
        crop = image.crop((0, height // 2, width, height)).resize((800, 1000))
    buffer = io.BytesIO()
    crop.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _as_avif(path: Path) -> bytes:
    """The photo the way a site serving AVIF sends it (quality 60)."""
    from PIL import Image

    with Image.open(path) as original:
        buffer = io.BytesIO()
        original.convert("RGB").save(buffer, "AVIF", quality=60)
    return buffer.getvalue()


def cases(fixtures: Path) -> list[tuple[str, bytes, str, str]]:
    """(name, served bytes, kind, output format): the last is the one a browser gets for AVIF."""
    faces = fixtures / "faces"
    zeman_1 = faces / "zeman" / "zeman_1.jpg"
    return [
        ("zeman_1 (target, 0.9 MP)", zeman_1.read_bytes(), "target", "webp"),
        ("zeman_2 (target, turned)", (faces / "zeman" / "zeman_2.jpg").read_bytes(), "target", "webp"),
        ("no face (0.8 MP)", _no_face_photo(fixtures), "no face", "webp"),
        ("biden_1 (non-target, 2.1 MP)", (faces / "biden" / "biden_1.jpg").read_bytes(), "non-target", "webp"),
        ("obama_1 (non-target)", (faces / "obama" / "obama_1.jpg").read_bytes(), "non-target", "webp"),
        ("two_people (2 non-targets)", (fixtures / "scenes" / "two_people.jpg").read_bytes(), "non-target", "webp"),
        ("zeman_1 AVIF q60 -> AVIF", _as_avif(zeman_1), "target", "avif"),
    ]


def run(args: argparse.Namespace) -> int:
    from pipeline.api import Animator

    fixtures = Path(args.fixtures) if args.fixtures else FIXTURES
    if not fixtures.is_dir():
        print(f"wink: fixtures folder not found: {fixtures} (use --fixtures).")
        return 2
    animator = Animator("zeman", "wink")
    report: list[dict[str, Any]] = []
    for name, data, kind, fmt in cases(fixtures):
        animator.animate(data, fmt)  # warm-up: models, caches
        totals: list[float] = []
        stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
        size = None
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = animator.animate(data, fmt)
            totals.append((time.perf_counter() - start) * 1000)
            for stage in STAGES:
                stages[stage].append(result.timings_ms.get(stage, 0.0))
            size = len(result.data) if result.data else None
        report.append(
            {
                "case": name,
                "kind": kind,
                "format": fmt,
                "animated": size is not None,
                "total_ms": round(statistics.median(totals), 1),
                "stages_ms": {stage: round(statistics.median(v), 1) for stage, v in stages.items()},
                "input_bytes": len(data),
                "output_bytes": size,
                "size_ratio": round(size / len(data), 2) if size else None,
            }
        )
    if not args.json_only:
        header = f"{'case':<30} {'total':>7} " + " ".join(f"{s:>8}" for s in STAGES) + "   size"
        print(header)
        for row in report:
            cells = " ".join(f"{row['stages_ms'][s]:>8.1f}" for s in STAGES)
            ratio = f"{row['size_ratio']:.2f}x" if row["size_ratio"] else "-"
            print(f"{row['case']:<30} {row['total_ms']:>7.1f} {cells}   {ratio}")
    print(json.dumps({"repeat": args.repeat, "cases": report}))
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of this benchmark, for its own command line and for `wink bench`."""
    parser.add_argument("--fixtures", default=None, help="fixtures folder (default: ../shared/fixtures)")
    parser.add_argument("--repeat", type=int, default=7, help="runs per image (median reported)")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))
