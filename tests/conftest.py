"""Shared test set-up: the fixtures' and the judge's paths as pytest fixtures (the rule that CI never skips
a missing one is testkit.fixtures'), the signing key, and short reports of long byte compares."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from testkit.fixtures import FIXTURES, JUDGE, missing


def pytest_configure(config: pytest.Config) -> None:
    """Animations made by the tests (in this process and in the CLI and workers it starts) are signed
    with a throw-away key, not the one in the developer's certs/confdir."""
    if "WINK_CONFDIR" not in os.environ:
        os.environ["WINK_CONFDIR"] = tempfile.mkdtemp(prefix="wink-test-confdir-")


@pytest.fixture(scope="session")
def fixtures() -> Path:
    if not (FIXTURES / "labels.json").is_file():
        missing(FIXTURES / "labels.json")
    return FIXTURES


@pytest.fixture(scope="session")
def labels(fixtures: Path) -> dict[str, list[str]]:
    return json.loads((fixtures / "labels.json").read_text())


@pytest.fixture(scope="session")
def judge_script() -> Path:
    if not JUDGE.is_file():
        missing(JUDGE)
    return JUDGE


#: Bodies longer than this are compared by length and first difference in a failed assertion: pytest's
#: own line diff of two photos' bytes takes minutes.
LONG_BYTES = 4096


def pytest_assertrepr_compare(op: str, left: object, right: object) -> list[str] | None:
    """A failed `==` between two long byte strings says where they part, instead of diffing them."""
    if op != "==" or not isinstance(left, bytes) or not isinstance(right, bytes):
        return None
    if max(len(left), len(right)) <= LONG_BYTES:
        return None
    first = next((i for i, (a, b) in enumerate(zip(left, right, strict=False)) if a != b), min(len(left), len(right)))
    return [
        f"{len(left)} bytes == {len(right)} bytes",
        f"they differ from offset {first}: {left[first : first + 16]!r} against {right[first : first + 16]!r}",
    ]
