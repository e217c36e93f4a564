"""Animator.stages: the intermediate results tests and tools use are the ones animate() draws from."""

from __future__ import annotations

import io

from PIL import Image

from pipeline.types import Box
from testkit.fixtures import fixture_path


def test_stages_stop_where_animate_stops(animators):
    blank = io.BytesIO()
    Image.new("RGB", (320, 240), (120, 130, 140)).save(blank, "JPEG")
    stages = animators().stages(blank.getvalue())
    assert stages.detections == [] and stages.faces == [] and stages.motions == []
    assert (stages.width, stages.height) == (320, 240)
    assert animators().animate(blank.getvalue()).data is None


def test_stages_hold_one_motion_and_warp_per_animated_face(animators):
    data = fixture_path("faces/zeman/zeman_1.jpg").read_bytes()
    stages = animators().stages(data)
    animation = animators().animate(data)
    assert stages.still is not None and (stages.still.width, stages.still.height) == (
        animation.width,
        animation.height,
    )
    assert len(stages.meshes) == len(stages.motions) == len(stages.warps) == animation.faces_animated == 1
    assert len(stages.detections) == animation.faces_found
    assert any(face.is_target for face in stages.faces)


def test_the_steps_taken_apart_find_what_stages_finds(animators):
    """look, identify and stages(targets=...) are how the proxy's lanes split one image's work."""
    data = fixture_path("faces/zeman/zeman_1.jpg").read_bytes()
    animator = animators()
    look = animator.look(data)
    assert look.to_identify and not look.faces
    identified = animator.identify(data, look)
    targets = [face.box for face in identified.faces if face.is_target]
    assert targets == [face.box for face in animator.stages(data).faces if face.is_target]
    resumed = animator.stages(data, targets)
    assert len(resumed.meshes) == 1 and resumed.meshes[0].box == targets[0]
    other = fixture_path("faces/obama/obama_1.jpg").read_bytes()
    assert not any(face.is_target for face in animator.identify(other).faces)


def test_a_weak_detection_is_encoded_only_when_it_shows_a_face_mesh(animators, monkeypatch):
    """A low-scoring detection (the detector's false alarms on scenery) costs a face mesh, not dlib's
    encoding, unless it has a mesh; a real face detected weakly is identified all the same."""
    from pipeline import faces

    encoded: list[int] = []
    real_encode = faces.encode_faces
    monkeypatch.setattr(faces, "encode_faces", lambda rgb, boxes: encoded.append(len(boxes)) or real_encode(rgb, boxes))
    data = fixture_path("faces/zeman/zeman_1.jpg").read_bytes()
    animator = animators()
    box = animator.look(data).to_identify[0]
    weak = animator.identify(data, [(box, 0.55)])
    assert [face.is_target for face in weak.faces] == [True] and encoded == [1]
    width, height = weak.still.width, weak.still.height
    background = Box(0, 0, width // 3, height // 3)  # a corner of the backdrop: no face there
    assert animator.identify(data, [(background, 0.55)]).faces == [] and encoded == [1]


def test_the_look_drops_a_weak_detection_without_a_face_mesh_when_it_decoded_the_whole_image(animators, monkeypatch):
    """A photo no larger than the preview is decoded whole for the look, so a false alarm ends there
    instead of queueing for identification; a weak detection of a real face goes on to be identified."""
    from pipeline import faces

    data = fixture_path("faces/kit_harington/kit_2.jpg").read_bytes()  # 630 x 374: the look decodes it all
    animator = animators()
    real = animator.look(data)
    assert real.still is not None and real.to_identify
    face = real.to_identify[0]
    background = Box(0, 0, 120, 120)  # the top-left corner: no face there
    monkeypatch.setattr(faces, "detect", lambda rgb, scale, width, height: [(face, 0.55), (background, 0.55)])
    assert animator.look(data).to_identify == [face]
