"""The harness the tests and the benchmarks share, so both measure what the user runs.

- `testkit.harness`: real processes on 127.0.0.1 (origins, `mitmdump` with the add-on, Redis) and a client.
- `testkit.fixtures`: where the labelled fixtures live, and the rule that CI never skips a missing one.
- `testkit.judge`: ../shared/tools/judge.py run in-process, its models loaded once.
- `testkit.images`: reading and checking animations, and test images made on the spot.
- `testkit.paint`: what a browser should paint for an animation, and how close a screenshot comes.
- `testkit.webkit`: WebKitGTK's MiniBrowser through WebKitWebDriver, on a virtual screen of its own.

Not a product package (not in the wheel); the editable install puts the repository root on sys.path,
so `import testkit` works from pytest and from `uv run python benchmarks/...`.
"""
