"""The extension in a real Chromium, routing real traffic through a real mitmdump with the wink add-on.

One scenario, step by step, as a person would use it: set the options, switch on in the popup, load a
page (the target photo, as an <img>, a CSS background and a srcset image, must paint the pipeline's
frames, screenshot by screenshot, and move); choose another motion, reload; point it at a port where
no proxy runs (the popup says so); restart the browser (still on); switch off (the proxy sees
nothing); and a second browser that does not trust the proxy's CA (the popup says so). Screenshots
of the popup and the page go to artifacts/extension/. With WINK_UPDATE_DOCS=1 the popup screenshot
is also written to chrome_extension/docs/popup.png for the README (the popup shows no photo, so no
fixture image ever lands in the repository).
"""

from __future__ import annotations

import datetime
import hashlib
import io
import ipaddress
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from proxy_addon import control_api
from testkit import paint
from testkit.fixtures import REPO, missing
from testkit.harness import Mitmdump, Origin, Route, free_port

pytestmark = pytest.mark.browser

EXTENSION_DIR = REPO / "chrome_extension"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "artifacts" / "extension"
DOCS_SCREENSHOT = EXTENSION_DIR / "docs" / "popup.png"

CHROMIUM_ARGS = [
    "--headless=new",
    f"--load-extension={EXTENSION_DIR}",
    f"--disable-extensions-except={EXTENSION_DIR}",
    *paint.CHROMIUM_ARGS,
]


def wait_until(condition, timeout: float, what: str, interval: float = 0.2):
    """Poll `condition` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# --- certificates for the local HTTPS site -------------------------------------------------------


@dataclass
class SiteCertificates:
    ca: Path
    cert: Path
    key: Path


def make_site_certificates(folder: Path) -> SiteCertificates:
    """A throwaway CA and a 127.0.0.1 certificate signed by it.

    With the proxy on, mitmdump talks to the site (ssl_insecure) and the browser sees mitmproxy's
    certificate; with the proxy off the browser talks to the site directly, so it must trust this CA too.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wink extension test site CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    site_key = ec.generate_private_key(ec.SECP256R1())
    site_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(site_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    certs = SiteCertificates(folder / "site-ca.pem", folder / "site.pem", folder / "site-key.pem")
    certs.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    certs.cert.write_bytes(site_cert.public_bytes(serialization.Encoding.PEM))
    key_pem = site_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    certs.key.write_bytes(key_pem)
    return certs


# --- the browser's certificate store --------------------------------------------------------------


def make_home_trusting(home: Path, cas: dict[str, Path]) -> None:
    """A HOME whose NSS db (where Chromium on Linux looks) trusts each CA for TLS servers."""
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True, exist_ok=True)
    certutil = shutil.which("certutil") or "certutil"
    subprocess.run([certutil, "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True, capture_output=True)
    for nickname, pem in cas.items():
        subprocess.run(
            [certutil, "-A", "-d", f"sql:{nssdb}", "-t", "C,,", "-n", nickname, "-i", str(pem)],
            check=True,
            capture_output=True,
        )


def launch_chromium(playwright, profile: Path, home: Path, other_extension: Path | None = None):
    """Chromium with the unpacked extension (and another one, if given), its own profile and HOME;
    returns (context, our extension's id)."""
    args = CHROMIUM_ARGS
    if other_extension is not None:
        both = f"{EXTENSION_DIR},{other_extension}"
        args = [
            "--headless=new",
            f"--load-extension={both}",
            f"--disable-extensions-except={both}",
            *paint.CHROMIUM_ARGS,
        ]
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        headless=False,  # --headless=new below: the old headless mode cannot run extensions
        args=args,
        env={**os.environ, "HOME": str(home)},
        viewport={"width": 1000, "height": 1200},  # room for the target photo at its natural size
    )
    worker = (
        context.service_workers[0]
        if context.service_workers
        else context.wait_for_event("serviceworker", timeout=20_000)
    )
    extension_id = worker.url.split("/")[2]
    return context, extension_id


# --- another extension -----------------------------------------------------------------------------

PROBE_ID = "probe@wink-tests.invalid"

# Every probe a stranger tries on the control API: read the list, read the status page, change the
# list (a CORS JSON request, then a no-cors one that reaches the proxy without its answer being
# readable), pair. `reached` proves the requests went through the proxy (no other host of that name).
PROBE = """
const out = {};
const base = BASE;
const change = JSON.stringify({ host: "127.0.0.1", off: false });
const tries = {
  read: [base + "/api/sites", {}],
  page: [base + "/", {}],
  change: [base + "/api/sites", { method: "POST", headers: { "Content-Type": "application/json" }, body: change }],
  blind: [base + "/api/sites", { method: "POST", mode: "no-cors", body: change }],
  pair: [base + "/api/pair", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" }],
  reached: [base + "/", { mode: "no-cors" }],
};
for (const [name, [url, init]] of Object.entries(tries)) {
  try {
    const response = await fetch(url, { cache: "no-store", ...init });
    out[name] = response.type === "opaque" ? "opaque" : { status: response.status, body: await response.text() };
  } catch (error) {
    out[name] = "refused";
  }
}
return out;
"""


def probe_extension(folder: Path) -> Path:
    """Another installed extension, with no permissions: one page the test runs its probes in."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "manifest_version": 3,
        "name": "another extension",
        "version": "1.0",
        "browser_specific_settings": {"gecko": {"id": PROBE_ID}},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "probe.html").write_text("<!doctype html><title>probe</title><p>probe</p>")
    return folder


def unpacked_extension_id(folder: Path) -> str:
    """The ID Chromium gives an extension loaded unpacked from `folder` without a key: the first
    128 bits of the SHA-256 of its absolute path, written with the letters a-p."""
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:32]
    return digest.translate(str.maketrans("0123456789abcdef", "abcdefghijklmnop"))


def run_probes(page, label: str, results: dict) -> None:
    """Run PROBE in `page` against both schemes of the control host; nothing may be read."""
    for base in ("http://wink.proxy", "https://wink.proxy"):
        found = results[f"{label} {base}"] = page.evaluate(
            f"async () => {{ {PROBE.replace('BASE', json.dumps(base))} }}"
        )
        unread = {key: value for key, value in found.items() if value not in ("refused", "opaque")}
        assert not unread, f"{label} read the control API at {base}: {unread}"


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser_tools() -> None:
    """Like the fixtures: CI must have the browser (.ci/run installs it); a developer may lack it.

    apt-get install chromium libnss3-tools
    """
    if not CHROMIUM.is_file():
        missing(CHROMIUM)
    if shutil.which("certutil") is None:
        missing(Path("certutil"))


@pytest.fixture(scope="module")
def wink_proxy(tmp_path_factory, browser_tools) -> Iterator[Mitmdump]:
    """mitmdump -s proxy_addon/wink.py on a free port, with its own confdir (CA) and cache.

    The harness sets ssl_insecure: the local site's certificate is signed by a CA only the browser's
    NSS db knows. A cold worker loads its models first: give the first photo time rather than a still.
    flow_detail=2 logs every flow (1, mitmdump's own default, the add-on lowers to 0: no URLs on the
    console), so the log shows whether the proxy saw the page.
    """
    proxy = Mitmdump(tmp_path_factory.mktemp("proxy"), wink_timeout=60, wink_workers=1, flow_detail="2")
    try:
        proxy.wait_ready(timeout=180)
    except BaseException:
        proxy.stop()
        raise
    yield proxy
    proxy.stop()


# --- the scenario --------------------------------------------------------------------------------
POPUP_SIZE = {"width": 340, "height": 600}  # Chrome sizes a real popup to its content

# Each picture reaches the page three ways: <img src>, CSS background, <img srcset>.
WAYS = ("img", "css", "srcset")
PICTURES = {"target": "zeman.jpg", "other": "biden.jpg", "plain": "plain.png"}


def face_free_png() -> bytes:
    """A picture with shapes and a gradient but no face, made here so it is nobody's photo."""
    image = Image.linear_gradient("L").resize((480, 320)).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 60, 200, 260), fill=(30, 120, 200))
    draw.ellipse((260, 80, 420, 240), fill=(230, 160, 40))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def image_path(way: str, picture: str) -> str:
    return f"/{way}/{PICTURES[picture]}"


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>wink test page</title>
<style>
  body {{ font: 14px/20px sans-serif; margin: 16px; background: #fff; }}
  h1 {{ font-size: 20px; line-height: 24px; margin: 0 0 12px; }}
  .grid {{ margin-bottom: 12px; }}
  .grid {{ display: grid; grid-template-columns: repeat(2, 220px); gap: 12px; }}
  .grid > * {{ width: 220px; height: 220px; object-fit: cover; background: center / cover; }}
  .natural > * {{ display: block; margin: 0 0 12px; background-repeat: no-repeat; }}
</style></head>
<body>
  <h1>Three pictures, three ways</h1>
  <div class="grid">
    <img src="/img/biden.jpg" alt="other person, img">
    <img src="/img/plain.png" alt="no face, img">
    <div style="background-image: url(/css/biden.jpg)"></div>
    <div style="background-image: url(/css/plain.png)"></div>
    <img srcset="/srcset/biden.jpg 1x" alt="other person, srcset">
    <img srcset="/srcset/plain.png 1x" alt="no face, srcset">
  </div>
  <!-- The target at its natural size (no CSS scaling), so what is painted can be compared pixel by pixel. -->
  <div class="natural">
    <img id="target-img" src="/img/zeman.jpg" alt="target, img">
    <div id="target-css" style="background-image: url(/css/zeman.jpg); width: {width}px; height: {height}px"></div>
    <img id="target-srcset" srcset="/srcset/zeman.jpg 1x" alt="target, srcset">
  </div>
</body></html>
"""


def assert_paints_frames(page, way: str, data: bytes, label: str) -> None:
    """The page's element for the target `way` shows the frames of the animation it received, and moves.

    Screenshots of the element at moments aimed over the loop, each matched against the frames Pillow
    decodes from the very bytes the page got (testkit/paint.py); the figures go to the artifacts.
    """
    ref = paint.reference(data)
    element = page.locator(f"#target-{way}")
    element.scroll_into_view_if_needed()
    box = element.bounding_box()
    assert box is not None and (round(box["width"]), round(box["height"])) == (ref.width, ref.height), box

    def take() -> np.ndarray:
        # The page's own pixels at the element's box (whole pixels: layout puts it on integer offsets).
        now = element.bounding_box()
        assert now is not None
        clip = {"x": round(now["x"]), "y": round(now["y"]), "width": ref.width, "height": ref.height}
        return paint.decode_png(page.screenshot(clip=clip))

    shots = paint.watch(take, ref, time.monotonic())
    for index, shot in enumerate(shots):
        Image.fromarray(shot).save(ARTIFACTS / f"{label}-{way}-{index}.png")
    matches = [paint.match(shot, ref) for shot in shots]
    detail = ", ".join(f"#{m.frame} {m.error:.1f}/{m.moving_error:.1f}" for m in matches)
    worst = max(max(m.error, m.moving_error) for m in matches)
    assert worst <= paint.MAX_MEAN_ERROR, f"{label} via {way}: painted unlike any frame ({detail})"
    distinct = paint.distinct_frames(matches, ref)
    assert distinct >= 3, f"{label} via {way}: only {distinct} different frames seen ({detail})"


def load_page(page, url: str, expected_paths: list[str]) -> dict[str, bytes]:
    """Load `url` and return the bytes of every expected image exactly as the page received them."""
    responses = {}

    def keep(response) -> None:
        path = "/" + response.url.split("/", 3)[3]
        if path in expected_paths:
            responses[path] = response

    page.on("response", keep)
    try:
        page.goto(url, wait_until="load", timeout=90_000)
        wait_until(
            lambda: set(responses) == set(expected_paths),
            30,
            f"the page to load {sorted(set(expected_paths) - set(responses))}",
        )
        return {path: response.body() for path, response in responses.items()}
    finally:
        page.remove_listener("response", keep)


def frames(data: bytes) -> int:
    with Image.open(io.BytesIO(data)) as image:
        return getattr(image, "n_frames", 1)


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def popup_status(popup) -> tuple[str, str]:
    """Wait until the popup has finished checking; return (state, status text)."""
    # Selectors, not wait_for_function: the extension's CSP forbids evaluating strings.
    popup.wait_for_selector("#status:not([data-state='checking'])", timeout=30_000)
    return (popup.get_attribute("#status", "data-state"), popup.inner_text("#status"))


def open_popup(context, extension_id: str):
    popup = context.new_page()
    popup.set_viewport_size(POPUP_SIZE)
    popup.goto(f"chrome-extension://{extension_id}/popup.html")
    return popup


def set_options(context, extension_id: str, host: str, port: int, bypass: str) -> None:
    options = context.new_page()
    options.goto(f"chrome-extension://{extension_id}/options.html")
    options.fill("#host", host)
    options.fill("#port", str(port))
    options.fill("#bypass", bypass)
    options.click("#save")
    options.wait_for_selector("#message.saved", timeout=10_000)
    options.close()


def proxy_level_of_control(context) -> str:
    worker = context.service_workers[0]
    return worker.evaluate("chrome.proxy.settings.get({}).then((details) => details.levelOfControl)")


def not_on_this_site(context, popup, wink_proxy, page_url, image_paths, originals, probe_dir) -> None:
    """The popup over the page switches its site off: the next load is the original, byte for byte,
    and the workers see none of it; neither another extension nor the page can read or change the
    list; switched on again, the page winks."""
    page = context.new_page()
    load_page(page, page_url, image_paths)
    page.bring_to_front()
    popup.reload()
    popup.wait_for_selector("#site:not([hidden])", timeout=30_000)
    assert popup.inner_text("#site-name") == "127.0.0.1"
    popup.click("#site-off")
    popup.wait_for_selector("#site-off:checked:not(:disabled)")
    listed = wink_proxy.confdir / "wink-sites-off.json"
    wait_until(lambda: listed.is_file(), 10, "the list in the confdir")
    assert json.loads(listed.read_text()) == {"sites": ["127.0.0.1"]}
    popup.locator("main").screenshot(path=ARTIFACTS / "popup_site_off.png")

    seen = wink_proxy.status()["counts"]["seen"]
    off = load_page(page, page_url, image_paths)
    for way in WAYS:
        for picture in PICTURES:
            assert off[image_path(way, picture)] == originals[picture], f"{picture} via {way} on a site switched off"
    assert wink_proxy.status()["counts"]["seen"] == seen, "the workers looked at an image of a site switched off"

    results: dict = {}
    probe = context.new_page()
    probe.goto(f"chrome-extension://{unpacked_extension_id(probe_dir)}/probe.html")
    run_probes(probe, "another extension", results)
    assert results["another extension http://wink.proxy"]["reached"] == "opaque", "the probe missed the proxy"
    run_probes(page, "the page", results)
    (ARTIFACTS / "probes_chromium.json").write_text(json.dumps(results, indent=1))
    assert json.loads(listed.read_text()) == {"sites": ["127.0.0.1"]}
    probe.close()

    popup.click("#site-off")
    popup.wait_for_selector("#site-off:not(:checked):not(:disabled)")
    again = load_page(page, page_url, image_paths)
    assert frames(again[image_path("img", "target")]) > 2, "the site switched on again does not wink"
    page.close()


def test_extension_switches_browser_through_wink_proxy(wink_proxy, fixtures: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    originals = {
        "target": (fixtures / "faces" / "zeman" / "zeman_1.jpg").read_bytes(),
        "other": (fixtures / "faces" / "biden" / "biden_1.jpg").read_bytes(),
        "plain": face_free_png(),
    }
    # Every load reaches the network, so each step of the test sees fresh responses.
    no_store = {"Cache-Control": "no-store"}
    width, height = size_of(originals["target"])
    page_html = PAGE.format(width=width, height=height).encode()
    routes = {"/page.html": Route(page_html, "text/html; charset=utf-8", headers=no_store)}
    for way in WAYS:
        for picture, name in PICTURES.items():
            kind = "image/png" if name.endswith(".png") else "image/jpeg"
            routes[image_path(way, picture)] = Route(originals[picture], kind, headers=no_store)
    site_certs = make_site_certificates(tmp_path / "site-certs")
    site = Origin(routes, cert_chain=(site_certs.cert, site_certs.key))
    page_url = site.url("/page.html")
    image_paths = [image_path(way, picture) for way in WAYS for picture in PICTURES]

    home = tmp_path / "home"
    make_home_trusting(home, {"wink-test-proxy": wink_proxy.ca, "wink-test-site": site_certs.ca})
    profile = tmp_path / "profile"

    try:
        with sync_playwright() as playwright:
            context, extension_id = launch_chromium(playwright, profile, home)
            try:
                # The manifest's key pins the ID: the one origin the proxy's control API answers.
                assert extension_id == control_api.EXTENSION_ID
                # Options: this proxy's port, and loopback through the proxy (Chrome skips it otherwise).
                set_options(context, extension_id, "127.0.0.1", wink_proxy.port, "<-loopback>")

                # Switch on in the popup.
                popup = open_popup(context, extension_id)
                assert popup_status(popup)[0] == "off"
                popup.click("#power")
                state, text = popup_status(popup)
                assert proxy_level_of_control(context) == "controlled_by_this_extension"
                # The CA is trusted, so "ok" (the HTTPS check needs the add-on to accept CONNECT wink.proxy).
                assert state == "ok", f"popup after switching on says: {text}"
                assert popup.get_attribute("#target", "title") == wink_proxy.status()["target"]

                # Load the page through the proxy: the target winks, everything else is untouched.
                page = context.new_page()
                first = load_page(page, page_url, image_paths)
                page.screenshot(path=ARTIFACTS / "page_on.png", full_page=True)
                for way in WAYS:
                    target = first[image_path(way, "target")]
                    assert frames(target) > 2, f"target via {way}: not animated ({len(target)} bytes)"
                    assert size_of(target) == size_of(originals["target"])
                    for picture in ("other", "plain"):
                        assert first[image_path(way, picture)] == originals[picture], f"{picture} via {way}"
                    # The browser paints the animation's frames, not just receives image/webp.
                    assert_paints_frames(page, way, target, "on")

                # The popup, refreshed, shows what happened; this is the README's screenshot.
                popup.reload()
                assert popup_status(popup)[0] == "ok"
                popup.wait_for_selector("#counts:has-text('animated')")
                popup.locator("main").screenshot(path=ARTIFACTS / "popup_on.png")
                if os.environ.get("WINK_UPDATE_DOCS"):
                    DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
                    shutil.copyfile(ARTIFACTS / "popup_on.png", DOCS_SCREENSHOT)

                # Choose another motion in the popup; the next load brings it.
                presets = [option.get_attribute("value") for option in popup.locator("#preset option").all()]
                first_preset = popup.input_value("#preset")
                assert first_preset in presets and len(presets) > 1, presets
                second_preset = next(name for name in presets if name != first_preset)
                popup.select_option("#preset", second_preset)
                wait_until(
                    lambda: wink_proxy.status()["preset"] == second_preset,
                    10,
                    f"the add-on to switch to {second_preset}",
                )
                # The change went with the secret the popup got by pairing, once.
                assert json.loads((wink_proxy.confdir / "wink-control.json").read_text())["paired"] is True
                second = load_page(page, page_url, image_paths)
                for way in WAYS:
                    target = second[image_path(way, "target")]
                    assert frames(target) > 2, f"{second_preset} via {way}: not animated"
                    assert target != first[image_path(way, "target")], f"{way}: still {first_preset}"
                    assert second[image_path(way, "other")] == originals["other"]
                assert_paints_frames(page, "img", second[image_path("img", "target")], second_preset)

                # The proxy refusing connections shows as such, with the start command.
                set_options(context, extension_id, "127.0.0.1", free_port(), "<-loopback>")
                popup.reload()
                state, text = popup_status(popup)
                assert state == "problem" and "does not answer" in text, text
                assert "mitmdump -s proxy_addon/wink.py" in text
                popup.locator("main").screenshot(path=ARTIFACTS / "popup_proxy_down.png")
                set_options(context, extension_id, "127.0.0.1", wink_proxy.port, "<-loopback>")
            finally:
                context.close()

            # Restart the browser: it was on, so it is on again. (Another extension is installed now.)
            probe_dir = probe_extension(tmp_path / "probe-extension")
            context, extension_id = launch_chromium(playwright, profile, home, probe_dir)
            try:
                wait_until(
                    lambda: proxy_level_of_control(context) == "controlled_by_this_extension",
                    10,
                    "the extension to put the proxy back after a restart",
                )
                popup = open_popup(context, extension_id)
                state, text = popup_status(popup)
                assert state == "ok", f"popup after a restart says: {text}"
                assert popup.is_checked("#power")
                not_on_this_site(context, popup, wink_proxy, page_url, image_paths, originals, probe_dir)

                # Switch off: the page loads directly; the proxy sees none of it.
                popup.click("#power")
                assert popup_status(popup)[0] == "off"
                assert proxy_level_of_control(context) == "controllable_by_this_extension"
                popup.locator("main").screenshot(path=ARTIFACTS / "popup_off.png")
                seen_before = wink_proxy.status()["counts"]["seen"]
                log_before = len(wink_proxy.log())
                requests_before = len(site.server.hits)

                page = context.new_page()
                direct = load_page(page, page_url, image_paths)
                page.screenshot(path=ARTIFACTS / "page_off.png", full_page=True)
                for way in WAYS:
                    for picture in PICTURES:
                        assert direct[image_path(way, picture)] == originals[picture], f"{picture} via {way}"
                assert "/page.html" in site.server.hits[requests_before:]
                new_log = wink_proxy.log()[log_before:]
                assert f"127.0.0.1:{site.port}" not in new_log, f"the proxy saw the page:\n{new_log[-2000:]}"
                assert wink_proxy.status()["counts"]["seen"] == seen_before
            finally:
                context.close()

            # A browser that does not trust the proxy's CA: the popup says so and how to fix it.
            untrusting_home = tmp_path / "home-without-proxy-ca"
            make_home_trusting(untrusting_home, {"wink-test-site": site_certs.ca})
            context, extension_id = launch_chromium(playwright, tmp_path / "profile-2", untrusting_home)
            try:
                set_options(context, extension_id, "127.0.0.1", wink_proxy.port, "<-loopback>")
                popup = open_popup(context, extension_id)
                popup.click("#power")
                state, text = popup_status(popup)
                assert state == "problem" and "does not trust the proxy's certificate" in text, text
                assert "python -m certs install" in text
                popup.locator("main").screenshot(path=ARTIFACTS / "popup_ca_untrusted.png")
            finally:
                context.close()
    finally:
        site.close()
