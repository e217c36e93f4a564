"""The output formats, one module each (webp.py, apng.py, gif.py, avif.py), registered in one table.

Each module makes one `spec.Format`: its name and file suffix, its HTTP and C2PA media types, how
its first bytes look, its encoder, and when the proxy offers it. The CLI, the encoder (encode.py),
the signer (provenance.py) and the proxy read them here. A new format is one module and one line.
"""

from __future__ import annotations

from pipeline.formats import apng, avif, gif, webp
from pipeline.formats.spec import Format, Offer, Picture

__all__ = ["FORMATS", "NAMES", "Format", "Offer", "Picture", "get", "sniff"]

#: Every output format by name, in the order the CLI and the options list them (WebP, the default, first).
FORMATS: dict[str, Format] = {f.name: f for f in (webp.FORMAT, apng.FORMAT, gif.FORMAT, avif.FORMAT)}
NAMES: tuple[str, ...] = tuple(FORMATS)


def get(name: str) -> Format:
    """The format called `name`; KeyError for one that is not registered."""
    return FORMATS[name]


def sniff(head: bytes) -> Format | None:
    """The output format the first bytes of a file announce, or None."""
    return next((f for f in FORMATS.values() if f.matches(head)), None)


def by_rank() -> list[Format]:
    """The formats in the order the proxy prefers them among those a client takes."""
    return sorted(FORMATS.values(), key=lambda f: f.rank)
