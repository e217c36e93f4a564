"""An HTTP/2 site through the proxy, in real Chromium: the protocol most image hosts and CDNs speak.

mitmproxy mirrors the site's protocol, so Chromium speaks HTTP/2 to the proxy too, and a page's photos
are asked for at once, multiplexed on one connection. The target's photo must still come back animated
on the first load and paint the pipeline's frames (screenshots matched as in testkit/paint.py),
and every other photo and the page's script data come through byte-identical.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageOps

from testkit import paint
from testkit.fixtures import fixture_path, missing
from testkit.harness import H2Origin, Mitmdump, Route, temp_workdir

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")


def _scenery(index: int) -> bytes:
    """A face-free JPEG: a crop of scikit-image's coffee, a little different each time."""
    import skimage.data

    image = Image.fromarray(skimage.data.coffee()).crop((20 * index, 0, 400 + 20 * index, 300))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82)
    return out.getvalue()


@pytest.fixture(scope="module")
def loaded() -> dict[str, Any]:
    """One load of a page of eight photos (one of the target) and a JSON fetch, over HTTP/2, and
    screenshots of the target photo as it plays."""
    if not CHROMIUM.is_file():
        missing(CHROMIUM)
    from playwright.sync_api import sync_playwright

    workdir = temp_workdir("wink-h2-")
    (workdir / "tls").mkdir()
    routes = {f"/scenery_{i}.jpg": Route(_scenery(i), "image/jpeg") for i in range(7)}
    routes["/target.jpg"] = Route(fixture_path("faces/zeman/zeman_1.jpg").read_bytes(), "image/jpeg")
    routes["/data.json"] = Route(b'{"photos": 8}\n', "application/json")
    # The target first, at its own size at the top left, so a screenshot of it compares pixel for pixel.
    html = '<img id="target" src="/target.jpg" style="display: block">'
    html += "".join(f'<img src="/scenery_{i}.jpg" width="200">' for i in range(7))
    html += "<script>fetch('/data.json').then(r => r.text()).then(t => { document.title = t.trim(); });</script>"
    page_html = f"<!doctype html><body style='margin: 0; background: #fff'>{html}</body>"
    routes["/index.html"] = Route(page_html.encode(), "text/html; charset=utf-8")
    origin = H2Origin(routes, workdir / "tls")
    proxy = Mitmdump(workdir / "proxy")
    try:
        proxy.wait_ready()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=[
                    *paint.CHROMIUM_ARGS,
                    f"--proxy-server=http://127.0.0.1:{proxy.port}",
                    "--proxy-bypass-list=<-loopback>",
                ],
            )
            context = browser.new_context(ignore_https_errors=True)
            page = context.new_page()
            bodies: dict[str, tuple[bytes, dict[str, str]]] = {}

            def seen(response: Any) -> None:
                if response.status == 200:
                    bodies[response.url.rsplit("/", 1)[1]] = (response.body(), response.headers)

            page.on("response", seen)
            page.goto(origin.url("/index.html"), wait_until="load", timeout=60_000)
            loaded_at = time.monotonic()
            page.wait_for_function("document.title.length > 0", timeout=10_000)
            ref = paint.reference(bodies["target.jpg"][0])
            clip = {"x": 0, "y": 0, "width": ref.width, "height": ref.height}
            page.set_viewport_size({"width": max(1280, ref.width), "height": max(720, ref.height)})
            shots = paint.watch(lambda: paint.decode_png(page.screenshot(clip=clip)), ref, loaded_at)
            state = page.evaluate(
                """() => ({
                  protocols: performance.getEntriesByType('resource').map(e => e.nextHopProtocol),
                  painted: Array.from(document.images).every(i => i.complete && i.naturalWidth > 0),
                  title: document.title,
                })"""
            )
            browser.close()
    finally:
        proxy.stop()
        origin.close()
    return {"routes": routes, "bodies": bodies, "reference": ref, "shots": shots, **state}


def test_the_browser_spoke_http2_to_the_proxy(loaded: dict[str, Any]) -> None:
    assert loaded["protocols"] and set(loaded["protocols"]) == {"h2"}, loaded["protocols"]


def test_the_target_is_animated_on_the_first_load(loaded: dict[str, Any]) -> None:
    body, headers = loaded["bodies"]["target.jpg"]
    assert "animated" in headers.get("x-wink", ""), headers
    image = Image.open(io.BytesIO(body))
    assert image.format == "WEBP" and getattr(image, "n_frames", 1) > 2
    assert loaded["painted"], "an image did not paint"
    first = np.asarray(image.convert("RGB"), np.int16)
    still = np.asarray(
        ImageOps.exif_transpose(Image.open(fixture_path("faces/zeman/zeman_1.jpg"))).convert("RGB"), np.int16
    )
    assert first.shape == still.shape and float(np.abs(first - still).mean()) < 3.0


def test_the_browser_paints_the_target_s_frames(loaded: dict[str, Any]) -> None:
    ref = loaded["reference"]
    matches = [paint.match(shot, ref) for shot in loaded["shots"]]
    detail = ", ".join(f"#{m.frame} {m.error:.1f}/{m.moving_error:.1f}" for m in matches)
    assert max(max(m.error, m.moving_error) for m in matches) <= paint.MAX_MEAN_ERROR, detail
    assert paint.distinct_frames(matches, ref) >= paint.FRAMES_TO_SEE, detail


def test_everything_else_passes_byte_identical(loaded: dict[str, Any]) -> None:
    routes, bodies = loaded["routes"], loaded["bodies"]
    for name in [*(f"scenery_{i}.jpg" for i in range(7)), "data.json"]:
        assert bodies[name][0] == routes[f"/{name}"].body, name
    assert loaded["title"] == '{"photos": 8}'
