"""GIF (pipeline/formats/gif.py): the loop, the marking, and what it is offered for."""

from __future__ import annotations

from pipeline import formats
from testkit.images import check_descriptor, check_loop


def test_gif_is_a_valid_loop_of_the_same_size(zeman_2, animators):
    result = animators().animate(zeman_2, "gif")
    assert result.mime == "image/gif"
    check_loop(result.data, zeman_2, "GIF")
    check_descriptor("gif", result.data)
    assert formats.get("gif").c2pa_mime == "image/gif" and formats.get("gif").suffix == ".gif"


def test_gif_carries_the_synthetic_marking_as_a_comment(zeman_2, animators):
    gif = animators().animate(zeman_2, "gif").data
    assert b"Synthetic animation" in gif


def test_gif_is_what_a_client_that_names_no_animated_type_gets():
    assert formats.get("gif").offered(set(), None)
    assert [f.name for f in formats.by_rank() if f.offered(set(), "avif")] == ["gif"]
