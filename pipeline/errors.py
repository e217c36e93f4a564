"""The pipeline's errors: every one carries a single sentence meant for a person to read."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager


class WinkError(Exception):
    """Base of everything the pipeline raises on purpose; str(error) is one clear sentence."""


class ImageError(WinkError):
    """The bytes are not an image the pipeline can animate (empty, truncated, SVG, animated, too large...)."""


class UsageError(WinkError):
    """A bad option: unknown target or preset, unreadable preset file, unsupported output format."""


#: What the image libraries raise for bytes they cannot decode, beyond their own error types: Pillow's
#: OSError (UnidentifiedImageError too), SyntaxError and ValueError for broken headers and streams,
#: EOFError and struct.error for files cut short, RuntimeError from its AVIF plugin (libavif),
#: IndexError, KeyError, TypeError and ZeroDivisionError from plugins that read nonsense fields, and
#: MemoryError for sizes they cannot hold.
DECODER_FAILURES: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    RuntimeError,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    MemoryError,
)


@contextmanager
def refused_as(sentence: str) -> Iterator[None]:
    """Inside, a decoder's failure (DECODER_FAILURES) becomes an ImageError saying `sentence`, the
    library's own error kept as its cause; the pipeline's own errors pass through as they are."""
    try:
        yield
    except WinkError:
        raise
    except DECODER_FAILURES as error:
        raise ImageError(sentence) from error
