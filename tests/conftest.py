"""Shared test set-up: where the labelled fixtures live, and the rule that CI never skips them."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("WINK_FIXTURES", REPO.parent / "shared" / "fixtures"))
JUDGE = FIXTURES.parent / "tools" / "judge.py"


def pytest_configure(config: pytest.Config) -> None:
    """Animations made by the tests (in this process and in the CLI and workers it starts) are signed
    with a throw-away key, not the one in the developer's certs/confdir."""
    if "WINK_CONFDIR" not in os.environ:
        os.environ["WINK_CONFDIR"] = tempfile.mkdtemp(prefix="wink-test-confdir-")


def _missing(what: Path) -> None:
    """A missing fixture fails in CI (CI=true) and skips on a developer's machine without ../shared."""
    message = f"fixture not found: {what}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def fixtures() -> Path:
    if not (FIXTURES / "labels.json").is_file():
        _missing(FIXTURES / "labels.json")
    return FIXTURES


@pytest.fixture(scope="session")
def labels(fixtures: Path) -> dict[str, list[str]]:
    return json.loads((fixtures / "labels.json").read_text())


@pytest.fixture(scope="session")
def judge_script() -> Path:
    if not JUDGE.is_file():
        _missing(JUDGE)
    return JUDGE


def fixture_path(relative: str) -> Path:
    """Path of one fixture file, failing (CI) or skipping (local) when it is absent."""
    path = FIXTURES / relative
    if not path.is_file():
        _missing(path)
    return path
