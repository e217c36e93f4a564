"""../shared/tools/judge.py run in this process, its models loaded once: the figures every judged test
and benchmark reads."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import sys
from pathlib import Path
from types import ModuleType
from unittest import mock

#: The judge's module per script path, loaded once per test process: its models (dlib's and MediaPipe's)
#: then load once too, where a judge run in a child process of its own loads them on every call.
_JUDGES: dict[Path, ModuleType] = {}
#: Reports already made, by (original, SHA-256 of the animation): the judge reads nothing but the two
#: files, so the same pair always gets the same report.
_REPORTS: dict[tuple[Path, str], str] = {}


def _judge_module(judge_script: Path) -> ModuleType:
    """../shared/tools/judge.py imported from its own path (it is not part of the repository)."""
    script = judge_script.resolve()
    if script not in _JUDGES:
        spec = importlib.util.spec_from_file_location("wink_external_judge", script)
        assert spec is not None and spec.loader is not None, f"cannot load {script}"
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _JUDGES[script] = module
    return _JUDGES[script]


def judge(judge_script: Path, original: Path, animated_bytes: bytes, tmp_path: Path) -> dict:
    """What ../shared/tools/judge.py prints for an animation, as JSON: its own `main`, run in this process
    on the same two files its command line would get, so every test reads the judge's own figures."""
    key = (original.resolve(), hashlib.sha256(animated_bytes).hexdigest())
    if key not in _REPORTS:
        out = tmp_path / "animated.webp"
        out.write_bytes(animated_bytes)
        module = _judge_module(judge_script)
        printed = io.StringIO()
        argv = [str(judge_script), str(original), str(out)]
        with mock.patch.object(sys, "argv", argv), contextlib.redirect_stdout(printed):
            module.main()
        _REPORTS[key] = printed.getvalue().strip().splitlines()[-1]
    return json.loads(_REPORTS[key])
