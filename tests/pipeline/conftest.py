"""Pipeline fixtures: one loaded Animator per (target, preset) for the whole session."""

from __future__ import annotations

import pytest

from pipeline import decode, faces, landmarks, motion, warp
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
    """A photo's still, its first face's motion for a preset, and that face's warp: the stages before
    frames are drawn, for tests of the warp and of the eyes and mouth."""
    cache: dict[tuple[str, str, str], tuple] = {}

    def get(relative: str, target: str = "zeman", preset: str = "wink") -> tuple:
        if (relative, target, preset) not in cache:
            animator = animators(target, preset)
            still = decode.decode((fixtures / relative).read_bytes())
            small = decode.shrink(still)
            found = faces.identify(
                still.rgb,
                faces.detect(small.rgb, small.scale, still.width, still.height),
                animator.target.encodings,
                animator.target.tolerance,
            )
            mesh = landmarks.face_mesh(still.rgb, next(face for face in found if face.is_target).box)
            face_motion = motion.plan_motion(mesh, animator.preset)
            cache[(relative, target, preset)] = (
                still,
                face_motion,
                warp.FaceWarp(face_motion.still, still.width, still.height),
            )
        return cache[(relative, target, preset)]

    return get


@pytest.fixture(scope="session")
def zeman_face(prepared):
    """zeman_2 with the default wink: a closed mouth that parts in a smile, folding the mesh."""
    return prepared("faces/zeman/zeman_2.jpg")
