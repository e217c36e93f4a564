"""What the fork server imports once, so that every worker process forked from it starts with it loaded.

Imports only: no model is loaded here. The one kind of thread these imports start is BLAS's (numpy's
and scipy's OpenBLAS), and OpenBLAS stops its threads itself before a fork (pthread_atfork), so the
server forks with no other thread (tests/addon/test_addon_proxy.py checks). A worker then only loads
its models (Animator.warm) instead of importing mitmproxy's main script, numpy, scipy, OpenCV,
MediaPipe and dlib anew, several times longer, while pages wait for a pool that replaces a frozen or
crashed worker.
"""

from __future__ import annotations

import dlib  # noqa: F401
import face_recognition_models  # noqa: F401

import pipeline.api  # noqa: F401
import proxy_addon.worker_process  # noqa: F401
from pipeline.mediapipe_solutions import solutions

solutions()
