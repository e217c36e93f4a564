"""Pipeline fixtures: one loaded Animator per (target, preset) for the whole session."""

from __future__ import annotations

import pytest

from pipeline.api import Animator


@pytest.fixture(scope="session")
def animators():
    cache: dict[tuple[str, str], Animator] = {}

    def get(target: str = "zeman", preset: str = "wink") -> Animator:
        if (target, preset) not in cache:
            cache[(target, preset)] = Animator(target, preset)
        return cache[(target, preset)]

    return get
