"""What runs inside the add-on's worker processes: the pipeline, never the proxy's event loop.

Each process builds its own `Animator`s (they hold loaded models and cannot be pickled) and keeps them,
keyed by target and preset, so only the first image after a change pays for loading. Every answer is
a `WorkResult` (proxy_addon.protocol): only a dying process raises in the parent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import resource
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.quiet import silence_native_logs
from proxy_addon.protocol import Kind, Lane, Step, WorkResult
from proxy_addon.roster import Roster

if TYPE_CHECKING:  # the models load in the worker, on first use, never in the proxy
    from pipeline.api import Animator

NOTHING = WorkResult(Kind.NOTHING)
#: Seconds between heartbeats; the parent's watchdog calls a worker frozen when they stop.
HEARTBEAT = 0.25
#: Niceness of the processes: a look or an identification holds a page's photo while it runs, so it
#: takes the CPU as an equal of the browser that waits for it. Nicer, on a machine busy with other work,
#: looks take several times longer and pages load slower; on a quiet machine it makes no difference.
STEP_NICE = 0
#: Animations run in a thread this much nicer (Linux keeps a nice value per thread, and the threads an
#: animation starts inherit it): hundreds of ms of CPU that yield to looks, to the proxy and to the browser.
ANIMATION_NICE = 5

_roster: Roster | None = None
_slot: int | None = None
_animations: ThreadPoolExecutor | None = None
#: The proxy's confdir, whose key signs this process's animations (set once, by init).
_confdir = ""


def init(target: str, preset: str, confdir: str, roster: Roster, memory_mb: int = 0) -> None:
    """Process initializer: ignore Ctrl-C (the proxy shuts us down), set our niceness, cap our
    address space (a job that wants more fails with MemoryError instead of taking the machine), warm up.

    The process signs in on the pool's roster, beats a heartbeat, and marks itself ready once its
    models are loaded: the proxy cannot tell from finished jobs which process ran them. The animations
    are signed with the key kept beside the proxy's CA in `confdir` (made there by the first worker
    that needs it).
    """
    global _roster, _slot, _confdir
    _confdir = str(Path(confdir).expanduser()) if confdir else ""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    silence_native_logs("WINK_WORKER_STDERR")  # MediaPipe's C++ notices would fill the proxy's console
    with contextlib.suppress(OSError):
        os.nice(STEP_NICE)
    # One process per core already: BLAS threads of their own would only fight over the same cores
    # (and OpenBLAS's spin-waiting ones burn CPU while they wait).
    import numpy  # noqa: F401  (loads the BLAS that the limit applies to)
    import threadpoolctl

    threadpoolctl.threadpool_limits(limits=1)
    if memory_mb > 0:
        with contextlib.suppress(ValueError, OSError):
            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    _roster, _slot = roster, roster.sign_in(os.getpid())
    threading.Thread(target=_heartbeat, args=(roster, _slot), name="wink-heartbeat", daemon=True).start()
    if warm(target, preset) == NOTHING:
        roster.mark_ready(_slot)


def _heartbeat(roster: Roster, slot: int | None) -> None:
    while True:
        roster.beat(slot)
        time.sleep(HEARTBEAT)


def run_job(job: int, step: Step) -> WorkResult:
    """One step of an image's work, with the job named on the roster while it runs (if this process
    dies under it, the parent knows which image did it), and the CPU time it took."""
    if _roster is not None:
        _roster.running(_slot, job)
    started = time.process_time()
    try:
        result = STEPS[step.lane](step)
    finally:
        if _roster is not None:
            _roster.running(_slot, 0)
    return dataclasses.replace(result, cpu_ms=round((time.process_time() - started) * 1000, 2))


def _animator(target: str, preset: str) -> Animator:
    """This process's Animator for the pair, loaded once (pipeline.api keeps the cache)."""
    from pipeline.api import animator

    return animator(target, preset, _confdir or None)


def warm(target: str, preset: str) -> WorkResult:
    """Load the models for (target, preset) now, so the first real image is not the one that waits."""
    try:
        _animator(target, preset).warm()
    except Exception as error:  # reported to the parent, which logs it once
        return _failure(error)
    return NOTHING


def look(step: Step) -> WorkResult:
    """Is there a face big enough to animate? NOTHING, FACES to identify, or (target `any`) TARGETS."""
    try:
        animator = _animator(step.target, step.preset)
        found = animator.look(step.data)
    except Exception as error:
        return _failure(error)
    faces = tuple((box, score) for box, score in found.detections if box in found.to_identify)
    if not faces:
        return NOTHING
    return WorkResult(Kind.TARGETS if animator.target.encodings is None else Kind.FACES, faces=faces)


def identify(step: Step) -> WorkResult:
    """Which of the faces the look found are the target's: NOTHING, or TARGETS."""
    try:
        found = _animator(step.target, step.preset).identify(step.data, list(step.faces))
    except Exception as error:
        return _failure(error)
    targets = tuple((face.box, face.score) for face in found.faces if face.is_target)
    return WorkResult(Kind.TARGETS, faces=targets) if targets else NOTHING


def animate(step: Step) -> WorkResult:
    """Animate the target's faces in one image (all the steps, when `faces` is empty), on the
    process's animation thread (ANIMATION_NICE)."""
    global _animations
    if _animations is None:
        _animations = ThreadPoolExecutor(1, thread_name_prefix="wink-animation", initializer=_yield_more)
    return _animations.submit(_animate, step).result()


def _yield_more() -> None:
    with contextlib.suppress(OSError):
        os.nice(ANIMATION_NICE)  # this thread only (Linux)


def _animate(step: Step) -> WorkResult:
    try:
        targets = [box for box, _ in step.faces] or None
        animation = _animator(step.target, step.preset).animate(step.data, fmt=step.fmt, targets=targets)
    except Exception as error:
        return _failure(error)
    if animation.data is None:
        return NOTHING
    return WorkResult(Kind.ANIMATED, animation.data)


STEPS = {Lane.LOOK: look, Lane.IDENTIFY: identify, Lane.ANIMATE: animate}


def _failure(error: Exception) -> WorkResult:
    from pipeline.errors import ImageError, UsageError

    if isinstance(error, MemoryError):  # over the worker's RLIMIT_AS: remembered like a bad image
        return WorkResult(Kind.BAD_IMAGE, reason="the image needs more memory than a worker may use")
    if isinstance(error, ImageError):
        return WorkResult(Kind.BAD_IMAGE, reason=str(error))
    if isinstance(error, UsageError):
        return WorkResult(Kind.USAGE, reason=str(error))
    return WorkResult(Kind.ERROR, reason=f"{type(error).__name__}: {error}")
