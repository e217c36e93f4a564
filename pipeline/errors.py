"""The pipeline's errors: every one carries a single sentence meant for a person to read."""


class WinkError(Exception):
    """Base of everything the pipeline raises on purpose; str(error) is one clear sentence."""


class ImageError(WinkError):
    """The bytes are not an image the pipeline can animate (empty, truncated, SVG, animated, too large...)."""


class UsageError(WinkError):
    """A bad option: unknown target or preset, unreadable preset file, unsupported output format."""
