"""MediaPipe is loaded without matplotlib (pipeline.mediapipe_solutions), and its drawing helpers still
work for whoever asks for them. Each check runs in a fresh interpreter: this one has imported
everything already."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_detection_and_mesh_run_without_importing_matplotlib() -> None:
    out = _run(
        """
        import sys
        import numpy as np
        from pipeline import faces, landmarks
        from pipeline.types import Box
        blank = np.full((256, 256, 3), 128, np.uint8)
        faces.detect(blank, 1.0, 256, 256)
        landmarks.face_mesh(blank, Box(64, 64, 192, 192))
        print(sorted(name for name in sys.modules if name.split(".")[0] == "matplotlib"))
        """
    )
    assert out == "[]"


def test_the_drawing_helpers_still_load_on_first_use() -> None:
    out = _run(
        """
        import sys
        from pipeline.mediapipe_solutions import solutions
        spec = solutions().drawing_utils.DrawingSpec(thickness=3)
        import mediapipe as mp
        style = mp.solutions.drawing_styles.get_default_face_mesh_contours_style()
        from mediapipe.python.solutions import drawing_utils
        same_class = drawing_utils.DrawingSpec is type(spec)
        print(spec.thickness, len(style) > 0, "matplotlib.pyplot" in sys.modules, same_class)
        """
    )
    assert out == "3 True True True"
