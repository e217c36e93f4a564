"""Keep the native libraries' log lines off the console (used by the CLI, the proxy's workers and
the decoder).

MediaPipe and TensorFlow Lite write notices to file descriptor 2 from C++, whatever Python asks, and
libjpeg (inside OpenCV) writes its warnings about damaged data there too.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
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


#: One capture at a time: descriptor 2 belongs to the whole process.
_CAPTURING = threading.Lock()


@contextmanager
def native_stderr_captured() -> Iterator[list[bytes]]:
    """Inside, what native code writes to descriptor 2 goes to a temporary file instead of the console;
    on leaving, the list this yields holds it (empty bytes when nothing was written). While it lasts
    it holds for the whole process, so it is kept to single library calls. Without a descriptor 2 to
    move, the call runs as it is and the list stays empty."""
    caught: list[bytes] = []
    with _CAPTURING, tempfile.TemporaryFile() as sink:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except OSError:
            yield caught
            return
        try:
            os.dup2(sink.fileno(), 2)
            yield caught
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            caught.append(sink.read())
