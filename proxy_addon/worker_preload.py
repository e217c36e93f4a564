"""What the fork server imports once, so that every worker process forked from it starts with it loaded.

Imports only: no model is loaded and no thread is started here (the pool sets OPENBLAS_NUM_THREADS=1
before the server starts, so numpy's and scipy's BLAS start none), which keeps the fork safe. A worker
then only loads its models (Animator.warm, about a second) instead of importing mitmproxy's main
script, numpy, scipy, OpenCV, MediaPipe and dlib anew (about 5 s of CPU, while pages wait for a
pool that replaces a frozen or crashed worker).
"""

from __future__ import annotations

import dlib  # noqa: F401
import face_recognition_models  # noqa: F401

import pipeline.api  # noqa: F401
import proxy_addon.worker  # noqa: F401
from pipeline.mediapipe_solutions import solutions

solutions()
