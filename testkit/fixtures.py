"""Where the labelled fixtures and the judge live, and the rule that CI never skips a missing one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("WINK_FIXTURES", REPO.parent / "shared" / "fixtures"))
JUDGE = FIXTURES.parent / "tools" / "judge.py"


def missing(what: Path) -> None:
    """A missing fixture fails in CI (CI=true) and skips on a developer's machine without ../shared."""
    message = f"fixture not found: {what}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def fixture_path(relative: str) -> Path:
    """Path of one fixture file, failing (CI) or skipping (local) when it is absent."""
    path = FIXTURES / relative
    if not path.is_file():
        missing(path)
    return path
