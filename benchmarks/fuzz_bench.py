"""Damaged images through the whole pipeline: every one must end in the pipeline's own error or an animation.

    uv run python benchmarks/fuzz_bench.py [--count 10000] [--seed 0] [--workers 2] [--target zeman]
        [--format webp] [--timeout 30] [--per-child 500] [--json out.json]

Seeds are scikit-image's astronaut, 256 px, saved as JPEG, PNG, WebP, GIF and AVIF. Each case is one
seed mutated one to three times: bits flipped, the file cut short, a run of another seed's bytes
spliced in, a run zeroed, or a run repeated. Each goes through `Animator.animate` in a child process
that keeps its models loaded for many cases; a child that dies is a crash, one that does not answer
within the time limit is a hang (it is killed and another takes over). Verdicts:

    animated, nothing     the pipeline made an animation, or found no target face
    refused               it raised its own error (a WinkError, one sentence)
    foreign               any other exception: a library's failure that reached the caller
    noisy                 something was written to the process's stderr (a native library's warning)
    crash, hang           the child died, or ran past the time limit

tests/pipeline/test_pipeline_fuzz.py runs a few hundred of these in CI; this runs as many as asked.
Timings depend on the machine's load: the run's rate is printed to compare runs, not as a bar.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np

#: Side of the seed images: a face the pipeline finds (about 75 px), in a file small enough to mutate fast.
SEED_SIDE = 256
#: Input formats fuzzed, as Pillow names them, with the options each seed is saved with.
SEED_FORMATS = {"JPEG": {"quality": 85}, "PNG": {}, "WEBP": {"quality": 80}, "GIF": {}, "AVIF": {"quality": 60}}
#: The first bytes that are left alone in most cases, so most mutations reach the decoder past the sniffing.
HEADER = 16
#: Share of cases whose mutations may touch the header too.
HEADER_SHARE = 0.1
#: Longest run a mutation zeroes, repeats or splices in.
LONGEST_RUN = 64
#: Verdicts that are findings: every one of them fails the CI test.
FINDINGS = ("foreign", "noisy", "crash", "hang")


def seed_images(side: int = SEED_SIDE) -> dict[str, bytes]:
    """scikit-image's astronaut at `side` px in every seed format."""
    from PIL import Image
    from skimage import data

    picture = Image.fromarray(data.astronaut()).resize((side, side), Image.Resampling.LANCZOS)
    seeds = {}
    for name, options in SEED_FORMATS.items():
        buffer = io.BytesIO()
        picture.save(buffer, name, **options)
        seeds[name.lower()] = buffer.getvalue()
    return seeds


def mutate(data: bytes, donor: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """`data` mutated one to three times (with runs of `donor` to splice in), and what was done."""
    out = bytearray(data)
    low = 0 if rng.random() < HEADER_SHARE else min(HEADER, len(out) - 1)
    done = []
    for _ in range(int(rng.integers(1, 4))):
        kind = str(rng.choice(["flip", "truncate", "splice", "zero", "repeat"]))
        at = int(rng.integers(low, max(low + 1, len(out))))
        run = int(rng.integers(1, LONGEST_RUN + 1))
        if kind == "flip":
            for position in rng.integers(low, len(out), size=int(rng.integers(1, 9))):
                out[int(position)] ^= 1 << int(rng.integers(0, 8))
        elif kind == "truncate":
            del out[max(at, 1) :]
        elif kind == "splice":
            start = int(rng.integers(0, max(1, len(donor) - run)))
            out[at : at + run] = donor[start : start + run]
        elif kind == "zero":
            out[at : at + run] = bytes(len(out[at : at + run]))
        else:
            out[at:at] = out[at : at + run]
        done.append(f"{kind}@{at}")
    return bytes(out), "+".join(done)


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes


def cases(count: int, seed: int = 0) -> Iterator[Case]:
    """`count` mutated images, the seed formats taking turns; the same `seed` gives the same cases."""
    rng = np.random.default_rng(seed)
    seeds = seed_images()
    kinds = list(seeds)
    for index in range(count):
        kind = kinds[index % len(kinds)]
        donor = seeds[kinds[int(rng.integers(0, len(kinds)))]]
        data, how = mutate(seeds[kind], donor, rng)
        yield Case(f"{index}:{kind}:{how}", data)


@dataclass(frozen=True)
class Outcome:
    case: str
    verdict: str
    detail: str


def _child(conn, target: str, fmt: str) -> None:
    """Runs cases sent over `conn` until it is closed, answering (verdict, detail) for each. Descriptor 2
    goes to a file, so whatever a native library writes there is seen (and charged to its case)."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from pipeline.api import Animator

    animator = Animator(target, "wink")
    animator.warm()
    # MediaPipe's one-off notices (the first face mesh of the process), before anything counts.
    Animator("any", "wink", signing_key=animator.signing_key).animate(seed_images()["png"], fmt)
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        os.dup2(sink.fileno(), 2)
        while True:
            try:
                data = conn.recv_bytes()
            except EOFError:
                return
            conn.send(_verdict(animator, data, fmt))


def _verdict(animator, data: bytes, fmt: str) -> tuple[str, str]:
    """What animating `data` came to, and what was written to descriptor 2 meanwhile (`noisy`)."""
    from pipeline.errors import WinkError

    before = os.fstat(2).st_size
    try:
        result = animator.animate(data, fmt)
        verdict, detail = ("animated" if result.data else "nothing"), ""
    except WinkError as error:
        verdict, detail = "refused", str(error)
    except Exception as error:  # the finding this looks for: a failure that is not the pipeline's own
        verdict, detail = "foreign", f"{type(error).__module__}.{type(error).__name__}: {error}"
    sys.stderr.flush()
    written = os.fstat(2).st_size - before
    if written and verdict != "foreign":
        verdict, detail = "noisy", os.pread(2, min(written, 200), before).decode(errors="replace").strip()
    return verdict, detail


class _Driver:
    """One child process at a time, fed cases one by one; a dead or stuck child is replaced."""

    def __init__(self, target: str, fmt: str, timeout: float, per_child: int, startup: float) -> None:
        self.target, self.fmt, self.timeout, self.per_child, self.startup = target, fmt, timeout, per_child, startup
        self.process: multiprocessing.process.BaseProcess | None = None
        self.conn = None
        self.served = 0

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        mine, theirs = context.Pipe()
        self.process = context.Process(target=_child, args=(theirs, self.target, self.fmt), daemon=True)
        self.process.start()
        theirs.close()
        self.conn, self.served = mine, 0

    def stop(self) -> None:
        if self.process is not None:
            if self.conn is not None:
                self.conn.close()
            self.process.join(5)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
        self.process, self.conn = None, None

    def run(self, case: Case) -> Outcome:
        if self.process is None or self.served >= self.per_child:
            self.stop()
            self._start()
        assert self.conn is not None and self.process is not None
        limit = self.timeout + (self.startup if self.served == 0 else 0.0)  # the first case waits for the models
        self.served += 1
        try:
            self.conn.send_bytes(case.data)
            if self.conn.poll(limit):
                verdict, detail = self.conn.recv()
                return Outcome(case.name, verdict, detail)
        except (EOFError, OSError):
            pass
        alive = self.process.is_alive()
        if alive:
            self.process.kill()
        self.process.join()
        code = self.process.exitcode
        self.process, self.conn = None, None
        if alive:
            return Outcome(case.name, "hang", f"no answer within {limit:.0f} s")
        return Outcome(case.name, "crash", f"the child exited with {code}")


def run(
    all_cases: list[Case],
    *,
    target: str = "zeman",
    fmt: str = "webp",
    workers: int = 2,
    timeout: float = 30.0,
    per_child: int = 500,
    startup: float = 120.0,
    progress: bool = False,
) -> list[Outcome]:
    """Every case's outcome, in order, from `workers` child processes side by side."""
    outcomes: list[Outcome | None] = [None] * len(all_cases)
    lock, position = threading.Lock(), iter(range(len(all_cases)))

    def drive() -> None:
        driver = _Driver(target, fmt, timeout, per_child, startup)
        try:
            while True:
                with lock:
                    index = next(position, None)
                if index is None:
                    return
                outcomes[index] = driver.run(all_cases[index])
                if progress and index % 250 == 0:
                    print(f"  {index} / {len(all_cases)}", file=sys.stderr, flush=True)
        finally:
            driver.stop()

    threads = [threading.Thread(target=drive) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [outcome for outcome in outcomes if outcome is not None]


def summary(outcomes: list[Outcome]) -> dict:
    """Counts per verdict, per verdict and input format, and the findings with their cases."""
    counts = collections.Counter(o.verdict for o in outcomes)
    by_format = collections.Counter(f"{o.case.split(':')[1]} {o.verdict}" for o in outcomes)
    kinds = collections.Counter(o.detail.split(":")[0] for o in outcomes if o.verdict in FINDINGS)
    return {
        "cases": len(outcomes),
        "verdicts": dict(counts),
        "by_format": dict(sorted(by_format.items())),
        "finding_kinds": dict(kinds),
        "findings": [asdict(o) for o in outcomes if o.verdict in FINDINGS],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--target", default="zeman", help="'any' animates the astronaut too (slower)")
    parser.add_argument("--format", default="webp")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds one case may take")
    parser.add_argument("--per-child", type=int, default=500, help="cases before a child is replaced")
    parser.add_argument("--json", help="write the summary here")
    args = parser.parse_args()
    start = time.perf_counter()
    outcomes = run(
        list(cases(args.count, args.seed)),
        target=args.target,
        fmt=args.format,
        workers=args.workers,
        timeout=args.timeout,
        per_child=args.per_child,
        progress=True,
    )
    elapsed = time.perf_counter() - start
    report = summary(outcomes) | {"seconds": round(elapsed, 1), "seed": args.seed, "target": args.target}
    print(json.dumps({k: v for k, v in report.items() if k != "findings"}, indent=1))
    for finding in report["findings"][:30]:
        print(f"{finding['verdict']:8} {finding['case']}: {finding['detail']}")
    print(f"{len(outcomes)} cases in {elapsed:.0f} s ({len(outcomes) / elapsed:.1f} a second, on this machine now)")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=1)


if __name__ == "__main__":
    main()
