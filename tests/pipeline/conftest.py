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
def zeman_face(fixtures, animators):
    """zeman_2's still, its wink motion and warp: a closed mouth that parts in a smile, folding the mesh."""
    animator = animators()
    still = decode.decode((fixtures / "faces" / "zeman" / "zeman_2.jpg").read_bytes())
    small = decode.shrink(still)
    found = faces.identify(still.rgb, faces.detect(small.rgb, small.scale, still.width, still.height),
                           animator.target.encodings, animator.target.tolerance)
    mesh = landmarks.face_mesh(still.rgb, next(face for face in found if face.is_target).box)
    face_motion = motion.plan_motion(mesh, animator.preset)
    return still, face_motion, warp.FaceWarp(face_motion.still, still.width, still.height)
