"""WebKitGTK, Safari's engine, for the pixel tests: Debian's MiniBrowser through WebKitWebDriver.

WebKitGTK has no headless mode, so it gets a virtual screen of its own (Xvfb, on a display number the
X server picks). Selenium speaks WebDriver to the driver it is given; it never looks for or downloads
one (SE_OFFLINE, and an explicit executable).
"""

from __future__ import annotations

import glob
import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DRIVER = Path("/usr/bin/WebKitWebDriver")


def minibrowser() -> Path | None:
    """Where Debian's libwebkit2gtk-4.1-0 puts MiniBrowser (the folder names the architecture)."""
    found = sorted(glob.glob("/usr/lib/*/webkit2gtk-4.1/MiniBrowser"))
    return Path(found[0]) if found else None


def xvfb() -> str | None:
    return shutil.which("Xvfb")


@contextmanager
def virtual_screen(width: int = 2000, height: int = 1600) -> Iterator[str]:
    """An X display (":N") for the duration; Xvfb writes its number once it accepts clients."""
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 30)
        number = os.read(read, 64).decode().strip() if ready else ""
        if not number:
            raise RuntimeError("Xvfb did not start within 30 s")
        yield f":{number}"
    finally:
        os.close(read)
        server.terminate()
        server.wait(timeout=10)


@contextmanager
def webkit_driver(display: str):  # -> selenium WebDriver
    from selenium import webdriver
    from selenium.webdriver.webkitgtk.service import Service

    browser = minibrowser()
    assert browser is not None
    options = webdriver.WebKitGTKOptions()
    options.binary_location = str(browser)
    options.add_argument("--automation")
    environment = {**os.environ, "DISPLAY": display, "SE_OFFLINE": "true"}
    service = Service(executable_path=str(DRIVER), env=environment)
    driver = webdriver.WebKitGTK(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()
