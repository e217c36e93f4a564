"""Keep the native libraries' log lines off the console (used by the CLI and the proxy's workers).

MediaPipe and TensorFlow Lite write notices to file descriptor 2 from C++, whatever Python asks.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import TextIO


def silence_native_logs(keep: str) -> TextIO:
    """Point descriptor 2 at /dev/null and make sys.stderr a copy of the real stderr, so Python's own
    messages, warnings and tracebacks still show; returns that stream. Environment variable `keep`,
    when set, leaves everything as it is."""
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if os.environ.get(keep):
        return sys.stderr
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        sys.stderr = open(saved, "w", buffering=1, closefd=True)  # noqa: SIM115 (the process's stderr)
    except OSError:
        pass
    return sys.stderr
