"""The same extension in Debian's Firefox ESR, through a real mitmdump with the wink add-on.

As a Firefox user would: the extension is loaded as a temporary add-on (WebDriver BiDi's
webExtension.install, what about:debugging's "Load Temporary Add-on" does), switched on in its popup;
the target photo on a page paints the pipeline's frames, screenshot by screenshot. Then "not on this
site" in the popup: the same page shows the original, byte for byte, and the workers do nothing for
it, while another site still winks; a second extension and the page itself cannot read or change the
list. Last, one click off: the next load is the original, and the proxy sees none of it.
Firefox is driven step by step by tests/browser/firefox_driver.mjs (puppeteer-core, npm ci there).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from testkit import paint
from testkit.fixtures import REPO, missing
from testkit.harness import Client, Mitmdump, Origin, Route
from tests.extension.test_extension_e2e import (
    ARTIFACTS,
    PROBE,
    PROBE_ID,
    face_free_png,
    frames,
    make_site_certificates,
    probe_extension,
    size_of,
)

pytestmark = pytest.mark.browser

FIREFOX = Path("/usr/bin/firefox-esr")
DRIVER = REPO / "tests" / "browser" / "firefox_driver.mjs"
EXTENSION_DIR = REPO / "chrome_extension"
GECKO_ID = json.loads((EXTENSION_DIR / "manifest.json").read_text())["browser_specific_settings"]["gecko"]["id"]
#: What Firefox asks for when an <img> loads (the proxy picks the animation's format by it).
FIREFOX_IMAGE_ACCEPT = "image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>wink firefox test page</title>
<style>body {{ margin: 16px; background: #fff; }} img {{ display: block; margin-bottom: 12px; }}</style></head>
<body><img id="target" src="/zeman.jpg" alt="target"><img id="plain" src="/plain.png" alt="no face"></body></html>
"""


class Firefox:
    """One Firefox ESR, one command at a time (tests/browser/firefox_driver.mjs)."""

    def __init__(self, profile: Path, prefs: dict[str, Any], folder: Path, home: Path) -> None:
        job = folder / "firefox-job.json"
        job.write_text(json.dumps({"profile": str(profile), "prefs": prefs}))
        self.stderr = (folder / "firefox-driver.log").open("w")
        self.process = subprocess.Popen(
            ["node", str(DRIVER), str(job)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env={"PATH": "/usr/bin:/bin", "HOME": str(home), "WINK_FIREFOX": str(FIREFOX)},
        )

    def __call__(self, command: str, **arguments: Any) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"do": command, **arguments}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"firefox_driver.mjs ended: see {self.stderr.name}"
        answer = json.loads(line)
        assert answer.pop("ok"), f"{command} {arguments}: {answer['error']}"
        return answer.get("value", answer)

    def close(self) -> None:
        try:
            if self.process.stdin is not None:
                self.process.stdin.write('{"do": "quit"}\n')
                self.process.stdin.close()
            self.process.wait(timeout=30)
        except (subprocess.TimeoutExpired, BrokenPipeError):
            self.process.kill()
            self.process.wait()
        self.stderr.close()


def trusting_profile(profile: Path, cas: dict[str, Path]) -> None:
    """A Firefox profile whose own certificate store trusts each CA for TLS servers."""
    profile.mkdir(parents=True, exist_ok=True)
    certutil = shutil.which("certutil") or "certutil"
    subprocess.run([certutil, "-N", "-d", f"sql:{profile}", "--empty-password"], check=True, capture_output=True)
    for nickname, pem in cas.items():
        subprocess.run(
            [certutil, "-A", "-d", f"sql:{profile}", "-t", "C,,", "-n", nickname, "-i", str(pem)],
            check=True,
            capture_output=True,
        )


def popup_state(firefox: Firefox) -> tuple[str, str]:
    firefox("wait", tab="popup", selector="#status:not([data-state='checking'])")
    return firefox("attr", tab="popup", selector="#status", name="data-state"), firefox(
        "text", tab="popup", selector="#status"
    )


def received_size(firefox: Firefox, path: str) -> int:
    """The size of the body the page got for `path` (Resource Timing: same-origin, so not hidden)."""
    js = (
        f"const entry = performance.getEntriesByType('resource').find((e) => new URL(e.name).pathname === '{path}');"
        " return entry ? entry.encodedBodySize : -1;"
    )
    return firefox("eval", tab="site", js=js)


def load(firefox: Firefox, url: str) -> None:
    firefox("goto", tab="site", url=url)
    firefox("eval", tab="site", js="await Promise.all([...document.images].map((i) => i.decode())); return true;")


def assert_paints(firefox: Firefox, data: bytes, label: str, folder: Path, at_least: int) -> None:
    """The page's #target shows the frames of `data` (every screenshot within the bar; `at_least`
    visibly different ones)."""
    ref = paint.reference(data)
    count = iter(range(10_000))

    def take() -> np.ndarray:
        path = folder / f"{label}-{next(count)}.png"
        firefox("shot", tab="site", selector="#target", path=str(path))
        return paint.decode_png(path.read_bytes())

    shots = paint.watch(take, ref, time.monotonic()) if at_least > 1 else [take(), take()]
    matches = [paint.match(shot, ref) for shot in shots]
    detail = ", ".join(f"#{m.frame} {m.error:.1f}/{m.moving_error:.1f}" for m in matches)
    worst = max(max(m.error, m.moving_error) for m in matches)
    assert worst <= paint.MAX_MEAN_ERROR, f"firefox {label}: painted unlike any frame ({detail})"
    assert paint.distinct_frames(matches, ref) >= at_least, f"firefox {label}: ({detail})"


@pytest.fixture(scope="module")
def firefox_tools() -> None:
    if not FIREFOX.is_file():
        missing(FIREFOX)
    if shutil.which("certutil") is None:
        missing(Path("certutil"))
    if not (DRIVER.parent / "node_modules" / "puppeteer-core").is_dir():
        missing(DRIVER.parent / "node_modules" / "puppeteer-core")


def test_firefox_extension_winks_and_not_on_this_site(firefox_tools, fixtures: Path, tmp_path: Path) -> None:
    folder = ARTIFACTS / "firefox"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    target = (fixtures / "faces" / "zeman" / "zeman_1.jpg").read_bytes()
    no_store = {"Cache-Control": "no-store"}
    width, height = size_of(target)
    routes = {
        "/page.html": Route(PAGE.format().encode(), "text/html; charset=utf-8", headers=no_store),
        "/zeman.jpg": Route(target, "image/jpeg", headers=no_store),
        "/plain.png": Route(face_free_png(), "image/png", headers=no_store),
    }
    certs = make_site_certificates(tmp_path / "site-certs")
    site = Origin(routes, cert_chain=(certs.cert, certs.key))
    page_url = site.url("/page.html")  # https://127.0.0.1:PORT: the site "127.0.0.1"
    other_site_url = page_url.replace("127.0.0.1", "localhost")  # the same server, another site
    proxy = Mitmdump(tmp_path / "proxy", wink_timeout=60, wink_workers=1, flow_detail="2")
    firefox = None
    try:
        proxy.wait_ready(timeout=180)
        profile = tmp_path / "profile"
        trusting_profile(profile, {"wink-test-proxy": proxy.ca, "wink-test-site": certs.ca})
        ours, probe = str(uuid.uuid4()), str(uuid.uuid4())
        prefs = {
            # The moz-extension hosts Firefox would otherwise draw at random at install, fixed here so
            # the test can open the popup page (the proxy learns ours by pairing, as with a user's).
            "extensions.webextensions.uuids": json.dumps({GECKO_ID: ours, PROBE_ID: probe}),
            # The permission prompt the user answers "Allow" on switching on.
            "extensions.webextOptionalPermissionPrompts": False,
            # The test's site is on 127.0.0.1: Firefox never proxies loopback unless told to.
            "network.proxy.allow_hijacking_localhost": True,
        }
        firefox = Firefox(profile, prefs, folder, tmp_path)
        assert firefox("install", path=str(EXTENSION_DIR))["id"] == GECKO_ID
        run_scenario(firefox, proxy, site, page_url, other_site_url, target, (width, height), ours, probe, folder)
    finally:
        if firefox is not None:
            firefox.close()
        proxy.stop()
        site.close()


@dataclass
class Scene:
    firefox: Firefox
    proxy: Mitmdump
    site: Origin
    page_url: str
    folder: Path
    extension: str  # our moz-extension:// origin
    client: Client
    image_headers: dict[str, str]  # what Firefox sends for the page's <img>


def run_scenario(firefox, proxy, site, page_url, other_site_url, target, size, ours, probe, folder) -> None:
    headers = {"referer": page_url, "accept": FIREFOX_IMAGE_ACCEPT}
    scene = Scene(
        firefox, proxy, site, page_url, folder, f"moz-extension://{ours}", Client(proxy.port, proxy.ca), headers
    )
    switch_on_and_wink(scene, size)
    listed = switch_site_off(scene, target)

    # Another site still winks.
    seen = proxy.status()["counts"]["seen"]
    load(firefox, other_site_url)
    assert received_size(firefox, "/zeman.jpg") not in (len(target), -1)
    assert proxy.status()["counts"]["seen"] > seen

    strangers_cannot_touch_the_list(scene, probe)
    assert json.loads(listed.read_text()) == {"sites": ["127.0.0.1"]}

    # Back on for the site: it winks again.
    firefox("click", tab="popup", selector="#site-off")
    firefox("wait", tab="popup", selector="#site-off:not(:checked):not(:disabled)")
    assert json.loads(listed.read_text()) == {"sites": []}
    load(firefox, page_url)
    assert received_size(firefox, "/zeman.jpg") not in (len(target), -1)

    # One click off: the next load is the original, and goes direct.
    firefox("click", tab="popup", selector="#power")
    assert popup_state(firefox)[0] == "off"
    log_before = len(proxy.log())
    load(firefox, page_url)
    assert received_size(firefox, "/zeman.jpg") == len(target)
    assert f"127.0.0.1:{site.port}" not in proxy.log()[log_before:], "the proxy saw the page while off"


def switch_on_and_wink(scene: Scene, size: tuple[int, int]) -> None:
    """Options (this proxy's port, loopback through it), one click on; the target winks as drawn."""
    firefox = scene.firefox
    firefox("open", tab="popup", url=f"{scene.extension}/options.html", selector="#port")
    firefox("fill", tab="popup", selector="#port", value=str(scene.proxy.port))
    firefox("fill", tab="popup", selector="#bypass", value="<-loopback>")
    firefox("click", tab="popup", selector="#save")
    firefox("wait", tab="popup", selector="#message.saved")

    firefox("open", tab="popup", url=f"{scene.extension}/popup.html", selector="#status")
    assert popup_state(firefox)[0] == "off"
    firefox("click", tab="popup", selector="#power")
    state, text = popup_state(firefox)
    assert state == "ok", f"Firefox popup after switching on says: {text}"

    load(firefox, scene.page_url)
    # The answer the page got, from the proxy's cache (same bytes, settings and page site).
    animation = scene.client.get(scene.site.url("/zeman.jpg"), **scene.image_headers).body
    assert frames(animation) > 2 and size_of(animation) == size
    assert received_size(firefox, "/zeman.jpg") == len(animation)
    assert received_size(firefox, "/plain.png") == len(scene.site.routes["/plain.png"].body)
    assert_paints(firefox, animation, "on", scene.folder, at_least=3)


def switch_site_off(scene: Scene, target: bytes) -> Path:
    """The popup over the page names its site; one click: the original, byte for byte, no work."""
    firefox, proxy = scene.firefox, scene.proxy
    firefox("front", tab="site")
    firefox("open", tab="popup", url=f"{scene.extension}/popup.html", selector="#status")
    firefox("wait", tab="popup", selector="#site:not([hidden])")
    assert firefox("text", tab="popup", selector="#site-name") == "127.0.0.1"
    firefox("click", tab="popup", selector="#site-off")
    firefox("wait", tab="popup", selector="#site-off:checked:not(:disabled)")
    # It paired on the way: the proxy now knows this install's random origin, and answers it only.
    assert json.loads((proxy.confdir / "wink-control.json").read_text())["firefox_origin"] == scene.extension
    listed = proxy.confdir / "wink-sites-off.json"
    assert json.loads(listed.read_text()) == {"sites": ["127.0.0.1"]}
    assert listed.stat().st_mode & 0o777 == 0o600
    assert "127.0.0.1" in scene.client.get("http://wink.proxy/").body.decode()  # the status page shows it

    seen = proxy.status()["counts"]["seen"]
    log_before = len(proxy.log())
    load(firefox, scene.page_url)
    assert received_size(firefox, "/zeman.jpg") == len(target)
    assert scene.client.get(scene.site.url("/zeman.jpg"), **scene.image_headers).body == target
    assert f"127.0.0.1:{scene.site.port}" in proxy.log()[log_before:], "the page did not go through the proxy"
    assert proxy.status()["counts"]["seen"] == seen, "the workers looked at an image of a site switched off"
    assert_paints(firefox, target, "site-off", scene.folder, at_least=1)
    return listed


def strangers_cannot_touch_the_list(scene: Scene, probe: str) -> None:
    """Another installed extension, and the page itself, run every probe: nothing can be read."""
    firefox = scene.firefox
    firefox("install", path=str(probe_extension(scene.folder / "probe-extension")))
    firefox("open", tab="probe", url=f"moz-extension://{probe}/probe.html", selector="p")
    probes = {}
    for tab in ("probe", "site"):
        for base in ("http://wink.proxy", "https://wink.proxy"):
            found = probes[f"{tab} {base}"] = firefox("eval", tab=tab, js=PROBE.replace("BASE", json.dumps(base)))
            unread = {key: value for key, value in found.items() if value not in ("refused", "opaque")}
            assert not unread, f"{tab} read the control API at {base}: {unread}"
            if tab == "probe" and base.startswith("http:"):
                assert found["reached"] == "opaque", "the probe's requests did not reach the proxy"
    (scene.folder / "probes.json").write_text(json.dumps(probes, indent=1))
