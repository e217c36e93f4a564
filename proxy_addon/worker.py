"""What runs inside the add-on's worker processes: the pipeline, never the proxy's event loop.

Each process builds its own `Animator`s (they hold loaded models and cannot be pickled) and keeps them,
keyed by target and preset, so only the first image after a change pays for loading. Results cross the
process boundary as small tuples of plain values, so nothing here needs to be importable by the parent
beyond this module.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

from pipeline.quiet import silence_native_logs

#: ("animated", data) | ("none",) | ("bad", reason) | ("usage", reason) | ("error", reason)
Result = tuple[Any, ...]


def _animator(target: str, preset: str) -> Any:
    """This process's Animator for the pair, loaded once (pipeline.api keeps the cache)."""
    from pipeline.api import animator

    return animator(target, preset)


def init(target: str, preset: str, ready: Any) -> None:
    """Process initializer: ignore Ctrl-C (the proxy shuts us down), yield the CPU to the proxy, warm up.

    `ready` is a shared counter that each process that has loaded its models adds one to: the proxy
    cannot tell from finished jobs which process ran them.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    silence_native_logs("WINK_WORKER_STDERR")  # MediaPipe's C++ notices would fill the proxy's console
    with contextlib.suppress(OSError):
        os.nice(5)  # page traffic in the proxy process goes first when all cores are busy
    if warm(target, preset) == ("none",):
        with ready.get_lock():
            ready.value += 1


def warm(target: str, preset: str) -> Result:
    """Load the models for (target, preset) now, so the first real image is not the one that waits."""
    try:
        _animator(target, preset).warm()
    except Exception as error:  # reported to the parent, which logs it once
        return _failure(error)
    return ("none",)


def animate(data: bytes, target: str, preset: str, fmt: str) -> Result:
    """Animate one image; every outcome is a value, so only a dying process raises in the parent."""
    try:
        animation = _animator(target, preset).animate(data, fmt=fmt)
    except Exception as error:
        return _failure(error)
    if animation.data is None:
        return ("none",)
    return ("animated", animation.data)


def _failure(error: Exception) -> Result:
    from pipeline.errors import ImageError, UsageError

    if isinstance(error, ImageError):
        return ("bad", str(error))
    if isinstance(error, UsageError):
        return ("usage", str(error))
    return ("error", f"{type(error).__name__}: {error}")
