"""Only the target's face moves: Zeman animates, nobody else does, and in a group only the target."""

from __future__ import annotations

import face_recognition
import numpy as np
import pytest

from testkit.images import frames_of

OTHER_PEOPLE = [
    "faces/obama/obama_1.jpg",
    "faces/obama/obama_2.jpg",
    "faces/obama/obama_4.jpg",
    "faces/obama/obama_480p.jpg",
    "faces/biden/biden_1.jpg",
    "faces/biden/biden_2.jpg",
    "faces/kit_harington/kit_1.jpg",
    "faces/kit_harington/kit_2.jpg",
    "faces/rose_leslie/rose_1.jpg",
    "faces/alex_lacamoire/alex_1.jpg",
    "faces/alex_lacamoire/alex_2.jpg",
    "faces/alex_lacamoire/alex_3.png",
    "faces/lin_manuel_miranda/lin_1.png",
    "scenes/two_people.jpg",
    "scenes/obama_and_biden.jpg",
]


@pytest.mark.parametrize("name", ["faces/zeman/zeman_1.jpg", "faces/zeman/zeman_2.jpg"])
def test_the_default_target_animates(fixtures, animators, name):
    result = animators().animate((fixtures / name).read_bytes())
    assert result.animated and result.faces_animated == 1 and result.mime == "image/webp"
    frames = frames_of(result.data)
    assert len(frames) >= 10
    assert frames[0].shape[:2] == (result.height, result.width)


def test_every_other_person_is_nothing_to_do(fixtures, animators, labels):
    for name in OTHER_PEOPLE:
        assert "zeman" not in labels[name]
        result = animators().animate((fixtures / name).read_bytes())
        assert not result.animated, name
        assert result.data is None and result.faces_found >= 1, name


def test_a_photo_target_picks_obama_not_biden(fixtures, animators):
    target = str(fixtures / "faces" / "obama" / "obama_1.jpg")
    animator = animators(target)
    assert animator.animate((fixtures / "faces" / "obama" / "obama_2.jpg").read_bytes()).animated
    assert not animator.animate((fixtures / "faces" / "biden" / "biden_1.jpg").read_bytes()).animated
    assert not animator.animate((fixtures / "faces" / "biden" / "biden_2.jpg").read_bytes()).animated


def test_in_a_group_only_the_target_face_moves(fixtures, animators):
    path = fixtures / "scenes" / "two_people.jpg"
    result = animators(str(fixtures / "faces" / "obama" / "obama_1.jpg")).animate(path.read_bytes())
    assert result.animated and result.faces_animated == 1
    frames = frames_of(result.data)
    changed = np.zeros(frames[0].shape[:2], bool)
    for frame in frames[1:]:
        changed |= np.abs(frame.astype(int) - frames[0].astype(int)).max(axis=2) > 24
    # Locate both people independently of the pipeline: dlib's own detector and encodings.
    still = frames[0]
    boxes = face_recognition.face_locations(still)
    obama = face_recognition.face_encodings(
        face_recognition.load_image_file(fixtures / "faces" / "obama" / "obama_1.jpg")
    )[0]
    distances = [np.linalg.norm(face_recognition.face_encodings(still, [box])[0] - obama) for box in boxes]
    target_box, other_box = (boxes[int(np.argmin(distances))], boxes[int(np.argmax(distances))])

    def grown(box, factor=0.6):
        top, right, bottom, left = box
        h, w = bottom - top, right - left
        return (
            slice(max(0, int(top - h * factor)), int(bottom + h * factor)),
            slice(max(0, int(left - w * factor)), int(right + w * factor)),
        )

    assert changed[grown(target_box)].sum() > 50
    assert changed[grown(other_box, 0.2)].sum() == 0
    outside = changed.copy()
    outside[grown(target_box)] = False
    assert outside.sum() == 0
