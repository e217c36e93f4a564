"""Damaged images, fuzzed: every mutated JPEG, PNG, WebP, GIF and AVIF ends in an animation, no face,
or the pipeline's own one-sentence error; never a library's exception, a line on stderr, a crash or
a hang. benchmarks/fuzz_bench.py makes the cases and runs them (many per child process, each within
a time limit); this is a few hundred of them, its long run 10 000 or more."""

from __future__ import annotations

from benchmarks import fuzz_bench

#: Cases in CI: 60 of each seed format.
CASES = 300
#: Seconds one case may take before it counts as a hang (a case takes well under one on a quiet machine).
CASE_LIMIT = 60.0


def test_mutated_images_end_in_the_pipelines_own_answers():
    outcomes = fuzz_bench.run(list(fuzz_bench.cases(CASES, seed=32)), workers=2, timeout=CASE_LIMIT)
    report = fuzz_bench.summary(outcomes)
    assert report["cases"] == CASES
    assert report["findings"] == [], report["findings"][:10]
    verdicts = report["verdicts"]
    assert verdicts.get("refused", 0) > 0 and verdicts.get("nothing", 0) > 0  # both ways were taken
