"""How the add-on is put together: what loading the script costs, its module names, its parsers, and
the typed results that cross the process boundary."""

from __future__ import annotations

import importlib.util
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from proxy_addon import options
from proxy_addon.protocol import Decision, Kind, Outcome, WorkResult
from testkit.fixtures import REPO

PACKAGE = REPO / "proxy_addon"


def test_addon_script_loads_no_model_and_no_opencv():
    """mitmproxy runs the script with its folder pushed onto sys.path, and OpenCV's loader, if imported
    then, leaves site-packages/cv2 on it too; spawned workers inherit that path, and cv2/typing would
    shadow the standard typing in them. So loading the script must not import OpenCV or a model."""
    probe = (
        "import sys; from mitmproxy.addons.script import load_script; "
        f"module = load_script({str(PACKAGE / 'wink.py')!r}); "
        "assert module is not None and len(module.addons) == 10; "
        "print(sorted(m for m in ('cv2', 'mediapipe', 'face_recognition', 'pipeline.api') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_addon_module_names_shadow_nothing():
    """The script's folder stays on sys.path (mitmproxy puts it there), so no module in it may share
    a name with a module the proxy or its workers could import."""
    names = sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__")
    assert str(PACKAGE) not in sys.path
    assert [name for name in names if importlib.util.find_spec(name) is not None] == []


@pytest.mark.parametrize("text", ["0", "-1", "121", "soon", ""])
def test_addon_timeout_parser_refuses(text):
    with pytest.raises(ValueError, match="wink_timeout"):
        options.parse_timeout(text)


def test_addon_parsers_accept_and_refuse():
    assert options.parse_timeout("0.5") == 0.5 and options.parse_timeout("120") == 120.0
    for check, good, bad in [
        (options.check_workers, 1, 65),
        (options.check_min_size, 0, -1),
        (options.check_cache_size, 0, -1),
        (options.check_format, "auto", "jpeg"),
    ]:
        check(good)
        with pytest.raises(ValueError):
            check(bad)


def test_addon_spec_key_names_files_by_path_and_mtime(tmp_path: Path):
    preset = tmp_path / "mine.npz"
    preset.write_bytes(b"x")
    assert options.spec_key("wink") == "wink"
    assert options.spec_key(str(preset)) == f"{preset.resolve()}@{preset.stat().st_mtime_ns}"


def test_addon_work_results_cross_processes_as_typed_values():
    result = WorkResult(Kind.BAD_IMAGE, reason="The image is truncated.")
    copy = pickle.loads(pickle.dumps(result))
    assert copy == result and copy.kind is Kind.BAD_IMAGE
    assert {outcome.value for outcome in Outcome} == {
        "animated",
        "passed",
        "failed",
        "queue_full",
        "timeouts",
        "warming",
    }
    with pytest.raises(AttributeError):
        Decision(Outcome.PASSED).outcome = Outcome.FAILED  # type: ignore[misc]
