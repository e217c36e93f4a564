"""Firefox loads the same extension as Chromium: Mozilla's own linter (`web-ext lint`, npm, installed by
`npm ci` in tests/browser) finds no error in chrome_extension/."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from testkit.fixtures import REPO, missing

NODE_PROJECT = REPO / "tests" / "browser"
WEB_EXT = NODE_PROJECT / "node_modules" / ".bin" / "web-ext"
#: Not part of the extension: the icon drawer, the README and its screenshot.
NOT_SHIPPED = ("tools", "docs", "README.md")


def lint() -> dict:
    if not WEB_EXT.is_file():
        missing(Path("tests/browser/node_modules (npm ci)"))
    done = subprocess.run(
        [
            str(WEB_EXT),
            "lint",
            "--source-dir",
            str(REPO / "chrome_extension"),
            "--output",
            "json",
            "--ignore-files",
            *NOT_SHIPPED,
        ],
        cwd=NODE_PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(done.stdout)


def test_web_ext_lint_finds_no_error() -> None:
    report = lint()
    errors = [f"{m['code']} {m.get('file')}: {m['message']}" for m in report["errors"]]
    assert report["summary"]["errors"] == 0, "\n".join(errors)
    # What Firefox needs from the one manifest: its event page, its ID, a version that has the APIs.
    manifest = json.loads((REPO / "chrome_extension" / "manifest.json").read_text())
    assert manifest["background"]["scripts"] == [manifest["background"]["service_worker"]]
    assert manifest["browser_specific_settings"]["gecko"]["id"]
