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


@pytest.fixture(scope="session")
def prepared(fixtures, animators):
    """A photo's still, its first target face's motion for a preset, and that face's warp: the stages
    before frames are drawn (Animator.stages), for tests of the warp and of the eyes and mouth."""
    cache: dict[tuple[str, str, str], tuple] = {}

    def get(relative: str, target: str = "zeman", preset: str = "wink") -> tuple:
        if (relative, target, preset) not in cache:
            stages = animators(target, preset).stages((fixtures / relative).read_bytes())
            assert stages.motions, f"no face of {target!r} in {relative}"
            cache[(relative, target, preset)] = (stages.still, stages.motions[0], stages.warps[0])
        return cache[(relative, target, preset)]

    return get


@pytest.fixture(scope="session")
def zeman_face(prepared):
    """zeman_2 with the default wink: a closed mouth that parts in a smile, folding the mesh."""
    return prepared("faces/zeman/zeman_2.jpg")


@pytest.fixture(scope="session")
def zeman_2(fixtures) -> bytes:
    """The photo every format's own tests animate."""
    return (fixtures / "faces" / "zeman" / "zeman_2.jpg").read_bytes()
