"""ETags of animations: the origin's own ETag with a settings tag inside its quotes.

A browser's cache then never mixes the still and its animation, and its revalidation tells the
proxy which settings made the animation it holds. Our tags never reach the origin.
"""

from __future__ import annotations

import hashlib
import re

from pipeline.types import PIPELINE_VERSION

ETAG_MARK = "~wink."
ETAG = re.compile(r'(W/)?"([^"]*)"|\*')


def settings_tag(target_key: str, preset_key: str, fmt: str) -> str:
    """A short tag naming what an animation was made with; part of its ETag."""
    text = f"{target_key}\0{preset_key}\0{fmt}\0{PIPELINE_VERSION}"
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def tagged_etag(etag: str, tag: str) -> str:
    """The original ETag with our tag inside its quotes: a browser cache never mixes still and animation."""
    match = ETAG.fullmatch(etag.strip())
    if not match or match.group(0) == "*":  # none, or one we cannot read: ours alone, never sent upstream
        return f'"{ETAG_MARK}{tag}"'
    return f'{match.group(1) or ""}"{match.group(2)}{ETAG_MARK}{tag}"'


def our_tags(value: str) -> list[str]:
    """The settings tags of the ETags we made, in an If-None-Match or If-Range value."""
    return [
        match.group(2).rpartition(ETAG_MARK)[2]
        for match in ETAG.finditer(value)
        if match.group(2) and ETAG_MARK in match.group(2)
    ]


def untag_if_none_match(value: str, current_tag: str | None) -> str | None:
    """If-None-Match as the origin must see it: our tags removed before the request leaves the proxy.

    An ETag we tagged with the current settings becomes the origin's own again (a 304 then keeps the
    browser's cached animation); one made with other settings, or while disabled, is dropped so the
    origin sends the image in full. Returns None when nothing is left.
    """
    kept = []
    for match in ETAG.finditer(value):
        token = match.group(0)
        if token == "*" or ETAG_MARK not in token:
            kept.append(token)
            continue
        original, _, tag = match.group(2).rpartition(ETAG_MARK)
        if current_tag is not None and tag == current_tag and original:
            kept.append(f'{match.group(1) or ""}"{original}"')
    return ", ".join(kept) or None
