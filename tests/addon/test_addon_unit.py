"""Unit tests of the add-ons with mitmproxy's own helpers (taddons, tflow); image work faked in-process.

The real worker processes and the real pipeline are exercised in test_addon_proxy.py.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import zlib
from concurrent.futures.process import BrokenProcessPool

import pytest
from mitmproxy import exceptions, hooks, http
from mitmproxy.net import encoding
from mitmproxy.proxy.layers.http import HttpConnectHook, HttpRequestHook, HttpResponseHeadersHook, HttpResponseHook
from mitmproxy.test import taddons, tflow
from PIL import Image

from proxy_addon import bodies, control_api, etags, rewrite, stats, wink, worker_process
from proxy_addon.cache_keeper import Cache
from proxy_addon.control_host import ControlHost
from proxy_addon.options import WinkOptions
from proxy_addon.pool_keeper import PoolKeeper
from proxy_addon.protocol import Kind, Lane, Step, WorkResult
from proxy_addon.scheduler import QUEUE_PER_WORKER
from testkit.harness import WEBP_ACCEPT

OURS = f"chrome-extension://{control_api.EXTENSION_ID}"
STRANGER = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (200, 150), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 90).save(out, fmt)
    return out.getvalue()


def animated_webp(size: tuple[int, int] = (200, 150)) -> bytes:
    frames = [Image.new("RGB", size, (i * 60, 0, 0)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def image_flow(
    body: bytes, content_type: str = "image/jpeg", accept: str = WEBP_ACCEPT, **headers: str
) -> http.HTTPFlow:
    flow = tflow.tflow()
    flow.request.headers["accept"] = accept
    flow.response = http.Response.make(200, body, {"content-type": content_type, **headers})
    return flow


class Script:
    """The add-ons of proxy_addon/wink.py as mitmproxy holds them: a parent whose children are `addons`.

    Hooks go through mitmproxy's own AddonManager, in the script's order. (Its methods are not named
    like hooks, or mitmproxy would call them as this parent's own.)
    """

    def __init__(self, master) -> None:
        self.master = master
        self.addons = wink.make_addons()
        master.addons.add(self)  # loads every child: their options exist from here on

    def part(self, kind):
        return next(addon for addon in self.addons if isinstance(addon, kind))

    @property
    def counts(self) -> dict[str, int]:
        return self.part(ControlHost).stats.counts

    def status(self) -> dict:
        return self.part(ControlHost).status()

    def tag(self, flow: http.HTTPFlow) -> str:
        return self.part(WinkOptions).choose(flow.request.headers.get("accept", "")).tag

    def send_request(self, flow: http.HTTPFlow) -> None:
        self.master.addons.invoke_addon_sync(self, HttpRequestHook(flow))

    async def send_response(self, flow: http.HTTPFlow) -> None:
        """As mitmproxy does: the response's headers first (the Gate decides there), then the body."""
        self.master.addons.invoke_addon_sync(self, HttpResponseHeadersHook(flow))
        if not flow.response.stream:
            await self.master.addons.invoke_addon(self, HttpResponseHook(flow))

    def connect(self, flow: http.HTTPFlow) -> None:
        self.master.addons.invoke_addon_sync(self, HttpConnectHook(flow))

    def shut_down(self) -> None:
        self.master.addons.invoke_addon_sync(self, hooks.DoneHook())


@pytest.fixture
def tctx(tmp_path):
    """A mitmproxy test context holding the add-ons, with a temporary cache; no worker pool is started."""
    with taddons.context() as tctx:
        script = Script(tctx.master)
        tctx.configure(script, wink_target="any", wink_cache_dir=str(tmp_path / "cache"), wink_workers=1)
        tctx.addon = script
        yield tctx
        script.shut_down()


@pytest.fixture
def addon(tctx):
    return tctx.addon


def fake_worker(addon: Script, result=None, delay: float = 0.0, error: Exception | None = None) -> list:
    """Replace the process pool's work with an in-process coroutine; returns the list of calls made."""
    calls = []

    async def run(*args):
        calls.append(args)
        await asyncio.sleep(delay)
        if error is not None:
            raise error
        return result

    addon.part(PoolKeeper).pool.run = run
    return calls


def animated(data: bytes) -> WorkResult:
    return WorkResult(Kind.ANIMATED, data)


NOTHING = WorkResult(Kind.NOTHING)


# --- pure helpers ---


@pytest.mark.parametrize(
    ("accept", "setting", "expected"),
    [
        (WEBP_ACCEPT, "auto", "webp"),
        ("image/apng,image/*;q=0.8", "auto", "apng"),
        ("image/webp;q=0,image/apng", "auto", "apng"),
        ("*/*", "auto", "gif"),
        ("", "auto", "gif"),
        (WEBP_ACCEPT, "gif", "gif"),
    ],
)
def test_addon_choose_format(accept, setting, expected):
    assert rewrite.choose_format(accept, setting) == expected


@pytest.mark.parametrize(
    ("accept", "served", "expected"),
    [
        (WEBP_ACCEPT, "avif", "avif"),
        (WEBP_ACCEPT, "jpeg", "webp"),
        (WEBP_ACCEPT, None, "webp"),
        ("image/webp,image/apng,image/*", "avif", "webp"),  # no image/avif named: image/* is not enough
        ("image/avif;q=0,image/webp", "avif", "webp"),
    ],
)
def test_addon_answers_avif_with_avif_to_clients_that_take_it(accept, served, expected):
    assert rewrite.choose_format(accept, "auto", served) == expected
    assert rewrite.choose_format(accept, "gif", served) == "gif"  # a forced format stays forced


def test_addon_etag_round_trip():
    tag = etags.settings_tag("zeman", "wink", "webp")
    assert etags.tagged_etag('"abc"', tag) == f'"abc~wink.{tag}"'
    assert etags.tagged_etag('W/"abc"', tag) == f'W/"abc~wink.{tag}"'
    sent = f'"x", W/"abc~wink.{tag}", "old~wink.0000000000"'
    assert etags.untag_if_none_match(sent, tag) == '"x", W/"abc"'
    assert etags.untag_if_none_match(f'"abc~wink.{tag}"', None) is None


def test_addon_percentile():
    assert stats.percentile([], 0.5) is None
    assert stats.percentile([5.0, 1.0, 3.0], 0.5) == 3.0
    assert stats.percentile(list(map(float, range(101))), 0.95) == 95.0


def test_addon_examine_decides_by_bytes():
    def lookup(key):
        return None

    def examine(body: bytes, encoding_name: str | None = None, fmt: str = "webp"):
        return bodies.examine(body, encoding_name, 64, fmt, ":k", lookup)

    def reason(found) -> str:
        assert isinstance(found, bodies.Untouched)
        return found.reason

    assert examine(b"<html>hello</html>") is None
    assert examine(b"") is None
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"/>'
    assert reason(examine(svg)) == "svg is not animated"
    assert reason(examine(image_bytes(size=(40, 40)))) == "too small"
    gif = io.BytesIO()
    frames = [Image.new("RGB", (100, 100), (i * 200, 0, 0)) for i in range(2)]
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:])
    assert reason(examine(gif.getvalue())) == "already animated"
    jpeg = image_bytes()
    for name in ("gzip", "deflate", "br", "zstd"):
        found = examine(encoding.encode(jpeg, name), name)
        assert isinstance(found, bodies.Candidate) and found.body == jpeg and found.key.endswith(":k")
    raw_deflate = zlib.compressobj(wbits=-15)
    assert examine(raw_deflate.compress(jpeg) + raw_deflate.flush(), "deflate").body == jpeg
    assert examine(encoding.encode(b"<html>" * 1000, "gzip"), "gzip") is None
    # encodings no browser sends are not undone at all (Python's codecs would, without a limit)
    for name in ("bz2", "zlib", "base64", "gzip, br"):
        assert examine(jpeg, name) is None
    big = image_bytes(size=(2400, 2000))
    assert reason(examine(big, fmt="apng")) == "too large for apng"
    assert isinstance(examine(big, fmt="webp"), bodies.Candidate)


@pytest.mark.parametrize("name", ["gzip", "deflate", "br", "zstd"])
def test_addon_compressed_bomb_is_not_inflated_past_the_limit(name):
    """A bomb behind a real image header is counted, never held, and refused past MAX_DECODED."""
    data = encoding.encode(image_bytes() + bytes(bodies.MAX_DECODED + 1_000_000), name)
    assert len(data) < bodies.MAX_DECODED // 100
    found = bodies.examine(data, name, 64, "webp", ":k", lambda key: None)
    assert isinstance(found, bodies.Untouched) and found.reason == "too large once decompressed"
    # the streaming decoders hand out small pieces, whatever the ratio
    pieces = bodies.decoder(name)(data)
    assert max(len(next(pieces)) for _ in range(50)) <= 16 * 1024 * 1024


def test_addon_zero_filled_jpeg_is_refused_from_its_prefix():
    """FF D8 FF E0 and 20 MB of zeros: the header check reads a bounded prefix, and says no."""
    body = b"\xff\xd8\xff\xe0" + bytes(20_000_000)
    found = bodies.examine(body, None, 64, "webp", ":k", lambda key: None)
    assert isinstance(found, bodies.Untouched) and found.raw_key
    again = bodies.examine(body, None, 64, "webp", ":k", lambda key: None, refused={found.raw_key})
    assert isinstance(again, bodies.Untouched) and again.reason == "refused before"


def test_addon_apply_animation_headers():
    response = http.Response.make(
        200,
        b"x" * 10,
        {
            "content-type": "application/octet-stream",
            "content-encoding": "identity",
            "etag": '"e1"',
            "accept-ranges": "bytes",
            "cache-control": "max-age=60",
            "vary": "Origin",
        },
    )
    data = animated_webp()
    rewrite.apply_animation(response, data, "image/webp", "t")
    headers = response.headers
    assert response.raw_content == data and headers["content-length"] == str(len(data))
    assert headers["content-type"] == "image/webp" and "content-encoding" not in headers
    assert headers["etag"] == '"e1~wink.t"' and "accept-ranges" not in headers
    assert headers["cache-control"] == "private, no-cache" and headers["vary"] == "Origin, Accept"


# --- options ---


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("wink_timeout", "0"),
        ("wink_timeout", "soon"),
        ("wink_workers", 0),
        ("wink_min_size", -1),
        ("wink_cache_size", -5),
        ("wink_preset", "no-such-preset"),
        ("wink_target", "no-such-person"),
        ("wink_format", "jpeg"),
    ],
)
def test_addon_bad_option_is_refused(tctx, addon, option, value):
    with pytest.raises(exceptions.OptionsError):
        tctx.configure(addon, **{option: value})


def test_addon_unwritable_cache_degrades(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with taddons.context() as tctx:
        addon = Script(tctx.master)
        tctx.configure(addon, wink_target="any", wink_cache_dir=str(blocker / "cache"))
        assert not addon.part(Cache).store.enabled
        assert addon.status()["cache"] == {"bytes": 0, "entries": 0, "on": False}
    assert "without a cache" in caplog.text


def test_addon_corrupt_cache_degrades(tmp_path):
    directory = tmp_path / "cache"
    directory.mkdir()
    (directory / "cache.db").write_bytes(b"this is not sqlite" * 100)
    with taddons.context() as tctx:
        addon = Script(tctx.master)
        tctx.configure(addon, wink_target="any", wink_cache_dir=str(directory))
        assert not addon.part(Cache).store.enabled


# --- the response hook ---


@pytest.mark.asyncio
async def test_addon_non_image_untouched_without_work(addon):
    calls = fake_worker(addon, animated(animated_webp()))
    for body, kind in [(b"<html></html>", "text/html"), (b"body{}", "text/css"), (b'{"a":1}', "image/jpeg")]:
        flow = image_flow(body, kind)
        before = flow.response.copy()
        await addon.send_response(flow)
        assert flow.response.raw_content == before.raw_content and flow.response.headers == before.headers
    assert calls == [] and addon.counts["seen"] == 0


@pytest.mark.asyncio
async def test_addon_animates_and_caches(addon):
    data = animated_webp()
    calls = fake_worker(addon, animated(data))
    jpeg = image_bytes()
    flow = image_flow(jpeg, etag='"v1"', **{"cache-control": "max-age=31536000, immutable"})
    await addon.send_response(flow)
    assert flow.response.headers["cache-control"] == "private, no-cache"
    assert flow.response.raw_content == data
    assert flow.response.headers["content-type"] == "image/webp"
    assert flow.response.headers["etag"].startswith('"v1~wink.')
    again = image_flow(jpeg)
    await addon.send_response(again)
    assert again.response.raw_content == data
    assert len(calls) == 1
    assert addon.counts | {} == {
        "seen": 2,
        "animated": 2,
        "passed": 0,
        "failed": 0,
        "cached": 1,
        "queue_full": 0,
        "timeouts": 0,
        "warming": 0,
        "animations_made": 0,  # the fake worker answers the first step with the animation
    }
    gif_flow = image_flow(jpeg, accept="image/*")  # another format is another cache entry
    await addon.send_response(gif_flow)
    assert calls[-1][0].fmt == "gif"


@pytest.mark.asyncio
async def test_addon_answers_a_photo_served_as_avif_with_animated_avif(addon):
    """The served bytes decide, not the Content-Type (sites label photos wrongly); a client that
    names no image/avif gets WebP of the same photo."""
    animation = io.BytesIO()
    Image.new("RGB", (200, 150), 90).save(
        animation, "AVIF", save_all=True, append_images=[Image.new("RGB", (200, 150))]
    )
    calls = fake_worker(addon, animated(animation.getvalue()))
    avif = image_bytes("AVIF")
    flow = image_flow(avif, content_type="image/jpeg")
    await addon.send_response(flow)
    assert calls[-1][0].fmt == "avif"
    assert flow.response.headers["content-type"] == "image/avif"
    fake_worker(addon, animated(animated_webp()))
    other = image_flow(avif, accept="image/webp,image/*")
    await addon.send_response(other)
    assert other.response.headers["content-type"] == "image/webp"


@pytest.mark.asyncio
async def test_addon_no_face_is_cached_negative(addon):
    calls = fake_worker(addon, NOTHING)
    jpeg = image_bytes()
    for _ in range(3):
        flow = image_flow(jpeg)
        await addon.send_response(flow)
        assert flow.response.raw_content == jpeg
    assert len(calls) == 1 and addon.counts["passed"] == 3 and addon.counts["cached"] == 2


@pytest.mark.asyncio
async def test_addon_skips_status_method_and_disabled(tctx, addon):
    calls = fake_worker(addon, animated(animated_webp()))
    jpeg = image_bytes()
    partial = image_flow(jpeg)
    partial.response.status_code = 206
    head = image_flow(jpeg)
    head.request.method = "HEAD"
    truncated = image_flow(jpeg)
    truncated.response.headers["content-length"] = str(len(jpeg) + 10)
    for flow in (partial, head, truncated):
        await addon.send_response(flow)
        assert flow.response.raw_content == jpeg
    tctx.configure(addon, wink_enabled=False)
    flow = image_flow(jpeg)
    await addon.send_response(flow)
    assert flow.response.raw_content == jpeg
    assert calls == []


@pytest.mark.asyncio
async def test_addon_failures_send_the_original(addon, caplog):
    jpeg = image_bytes()
    fake_worker(addon, WorkResult(Kind.BAD_IMAGE, reason="The image is truncated."))
    flow = image_flow(jpeg)
    await addon.send_response(flow)
    assert flow.response.raw_content == jpeg and addon.counts["failed"] == 1

    fake_worker(addon, error=BrokenProcessPool("gone"))
    for _ in range(2):
        flow = image_flow(image_bytes(size=(300, 200)))
        await addon.send_response(flow)
        assert flow.response.headers["content-type"] == "image/jpeg"
    assert addon.counts["failed"] == 3
    assert caplog.text.count("worker process died") == 1  # logged once per cause

    fake_worker(addon, animated(b"not an animation"))
    flow = image_flow(image_bytes(size=(320, 200)))
    await addon.send_response(flow)
    assert flow.response.headers["content-type"] == "image/jpeg"


@pytest.mark.asyncio
async def test_addon_deadline_then_cache(tctx, addon):
    data = animated_webp()
    calls = fake_worker(addon, animated(data), delay=0.5)
    jpeg = image_bytes()
    tctx.configure(addon, wink_timeout="0.05")
    flow = image_flow(jpeg)
    await addon.send_response(flow)
    assert flow.response.raw_content == jpeg and addon.counts["timeouts"] == 1
    await asyncio.sleep(0.8)  # the work finishes in the background
    later = image_flow(jpeg)
    await addon.send_response(later)
    assert later.response.raw_content == data
    assert len(calls) == 1


@pytest.mark.asyncio
async def test_addon_full_queue_passes_through(addon):
    fake_worker(addon, NOTHING, delay=0.05)  # one worker: the steps run one after another
    flows = [image_flow(image_bytes(size=(100 + i, 100))) for i in range(QUEUE_PER_WORKER + 3)]
    await asyncio.gather(*(addon.send_response(f) for f in flows))
    assert addon.counts["queue_full"] == 3 and addon.counts["passed"] == QUEUE_PER_WORKER


# --- request hook and control host ---


def test_addon_if_none_match_is_untagged(addon):
    flow = tflow.tflow()
    flow.request.headers["accept"] = WEBP_ACCEPT
    tag = addon.tag(flow)
    flow.request.headers["if-none-match"] = f'"e1~wink.{tag}"'
    addon.send_request(flow)
    assert flow.request.headers["if-none-match"] == '"e1"'
    flow.request.headers["if-none-match"] = '"e1~wink.0123456789"'
    addon.send_request(flow)
    assert "if-none-match" not in flow.request.headers


def test_addon_if_none_match_of_an_avif_animation_is_untagged(addon):
    """Revalidation comes before the image, so an animation made as AVIF (its photo was served as
    AVIF) is as current as the WebP this client would get of another photo."""
    flow = tflow.tflow()
    flow.request.headers["accept"] = WEBP_ACCEPT
    tag = addon.part(WinkOptions).choose(WEBP_ACCEPT, "avif").tag
    assert tag != addon.tag(flow)
    flow.request.headers["if-none-match"] = f'"e1~wink.{tag}"'
    addon.send_request(flow)
    assert flow.request.headers["if-none-match"] == '"e1"'
    flow.request.headers["accept"] = "image/webp,image/*"  # this client never gets AVIF
    flow.request.headers["if-none-match"] = f'"e1~wink.{tag}"'
    addon.send_request(flow)
    assert "if-none-match" not in flow.request.headers


def test_addon_our_etags_and_dates_never_keep_a_stale_animation(addon):
    """An image whose origin had no readable ETag still gets one of ours, which never goes upstream;
    once the settings change, the date check goes too (a 304 would keep the old animation), and a
    range of our animation is asked for as the whole image."""
    for origin_etag in (None, "abc123"):
        response = http.Response.make(200, b"x", {} if origin_etag is None else {"etag": origin_etag})
        rewrite.apply_animation(response, animated_webp(), "image/webp", "t")
        assert response.headers["etag"] == '"~wink.t"'
    flow = tflow.tflow()
    flow.request.headers["accept"] = WEBP_ACCEPT
    tag = addon.tag(flow)
    flow.request.headers["if-none-match"] = f'"~wink.{tag}"'
    flow.request.headers["if-modified-since"] = "Mon, 01 Jan 2024 00:00:00 GMT"
    addon.send_request(flow)
    assert "if-none-match" not in flow.request.headers and "if-modified-since" in flow.request.headers
    flow.request.headers.update(
        {"if-none-match": '"e1~wink.0123456789"', "if-range": '"e1~wink.0123456789"', "range": "bytes=0-99"}
    )
    addon.send_request(flow)
    assert not {"if-none-match", "if-modified-since", "if-range", "range"} & set(flow.request.headers.keys())


def control_flow(method: str, path: str, body: bytes = b"", **headers: str) -> http.HTTPFlow:
    request = http.Request.make(method, f"http://wink.proxy{path}", body, headers)
    return tflow.tflow(req=request)


def test_addon_control_host_is_answered_locally(addon):
    flow = control_flow("GET", "/api/status")
    addon.send_request(flow)
    status = json.loads(flow.response.content)
    assert status["enabled"] is True and status["target"] == "any" and "p95" in status["latency_ms"]
    assert (
        set(status["counts"])
        == set(addon.counts)
        == {"seen", "animated", "passed", "failed", "cached", "queue_full", "timeouts", "warming", "animations_made"}
    )
    assert "access-control-allow-origin" not in flow.response.headers

    flow = control_flow("GET", "/")
    addon.send_request(flow)
    assert b"wink proxy is <b>ON</b>" in flow.response.content

    flow = control_flow("GET", "/api/presets", origin=OURS)
    addon.send_request(flow)
    assert json.loads(flow.response.content)["current"] == "wink"
    assert flow.response.headers["access-control-allow-origin"] == OURS
    other = control_flow("GET", "/api/status", origin=STRANGER)
    addon.send_request(other)
    assert "access-control-allow-origin" not in other.response.headers
    assert "dir" not in json.loads(other.response.content)["cache"]
    assert "pids" not in json.loads(other.response.content)["workers"]

    connect = tflow.tflow()
    connect.request.method, connect.request.host, connect.request.port = "CONNECT", "wink.proxy", 443
    addon.connect(connect)
    assert connect.response.status_code == 200  # tunnel accepted locally, TLS with the proxy's CA follows


def test_addon_control_state_changes(addon):
    secret = addon.part(ControlHost).pairing.secret
    ext = {"origin": OURS, "content-type": "application/json", "x-wink-secret": secret}
    flow = control_flow("POST", "/api/enabled", b'{"enabled": false}', **ext)
    addon.send_request(flow)
    assert flow.response.status_code == 200 and json.loads(flow.response.content)["enabled"] is False

    refused = [
        (
            control_flow(
                "POST",
                "/api/enabled",
                b'{"enabled": true}',
                origin="https://evil.example",
                **{"content-type": "application/json"},
            ),
            403,
        ),
        (control_flow("POST", "/api/enabled", b'{"enabled": true}', **{**ext, "origin": STRANGER}), 403),
        (control_flow("POST", "/api/enabled", b'{"enabled": true}', **{**ext, "x-wink-secret": "guess"}), 401),
        (control_flow("POST", "/api/enabled", b'{"enabled": true}', **{"content-type": "application/json"}), 401),
        (control_flow("POST", "/api/enabled", b'{"enabled": true}', **{**ext, "content-type": "text/plain"}), 415),
        (control_flow("GET", "/api/enabled"), 405),
        (control_flow("POST", "/api/enabled", b'{"enabled": "yes"}', **ext), 400),
        (control_flow("POST", "/api/preset", b'{"preset": "nope"}', **ext), 400),
        (control_flow("POST", "/api/preset", b"[", **ext), 400),
    ]
    for flow, status in refused:
        addon.send_request(flow)
        assert flow.response.status_code == status, flow.request.path
        assert "error" in json.loads(flow.response.content)
    assert addon.status()["enabled"] is False

    local = {"content-type": "application/json", "x-wink-secret": secret}  # a script that read the file
    flow = control_flow("POST", "/api/preset", b'{"preset": "wink"}', **local)
    addon.send_request(flow)
    assert flow.response.status_code == 200


def test_addon_pairing_hands_the_secret_out_once(addon):
    stranger = control_flow("POST", "/api/pair", b"{}", origin=STRANGER)
    addon.send_request(stranger)
    assert stranger.response.status_code == 403
    first = control_flow("POST", "/api/pair", b"{}", origin=OURS)
    addon.send_request(first)
    assert json.loads(first.response.content)["secret"] == addon.part(ControlHost).pairing.secret
    again = control_flow("POST", "/api/pair", b"{}", origin=OURS)
    addon.send_request(again)
    assert again.response.status_code == 409 and "secret" not in json.loads(again.response.content)


def test_addon_control_host_is_the_target_not_the_host_header(addon):
    """Only a request whose target is wink.proxy is answered, and its Host header must agree."""
    disguised = control_flow("GET", "/api/status")
    disguised.request.headers["host"] = "example.com"
    addon.send_request(disguised)
    assert disguised.response.status_code == 421
    elsewhere = tflow.tflow()
    elsewhere.request.headers["host"] = "wink.proxy"
    addon.send_request(elsewhere)
    assert elsewhere.response is None  # goes to its own target


def test_addon_preflight_only_for_extensions():
    api = control_api.Handlers(dict, dict, lambda name: None, lambda on: None, lambda offered: False, str)
    page = control_api.handle("OPTIONS", "/api/enabled", {"origin": "https://evil.example"}, b"", api)
    assert "Access-Control-Allow-Origin" not in page.headers
    assert "Access-Control-Allow-Methods" not in page.headers
    other = control_api.handle("OPTIONS", "/api/enabled", {"origin": STRANGER}, b"", api)
    assert "Access-Control-Allow-Origin" not in other.headers
    ext = control_api.handle("OPTIONS", "/api/enabled", {"origin": OURS}, b"", api)
    assert ext.headers["Access-Control-Allow-Origin"] == OURS
    assert "X-Wink-Secret" in ext.headers["Access-Control-Allow-Headers"]
    assert "Content-Type" in ext.headers["Access-Control-Allow-Headers"]
    assert control_api.handle("GET", "/nothing", {}, b"", api).status == 404


def test_addon_gate_streams_what_it_may_not_touch(addon):
    """Untouchable responses stream through unread; ones without a body (101, 304) are left alone."""
    download = image_flow(image_bytes(), "application/octet-stream", **{"content-disposition": "attachment"})
    addon.master.addons.invoke_addon_sync(addon, HttpResponseHeadersHook(download))
    assert download.response.stream is True
    for status in (101, 304):
        flow = image_flow(b"", accept="*/*")
        flow.response.status_code = status
        addon.master.addons.invoke_addon_sync(addon, HttpResponseHeadersHook(flow))
        assert not flow.response.stream, status


def test_default_worker_count_follows_the_cores_this_process_may_use(monkeypatch):
    from proxy_addon import options

    monkeypatch.setattr(options.os, "sched_getaffinity", lambda pid: {0, 3, 5})
    assert options.default_workers() == 3
    monkeypatch.setattr(options.os, "sched_getaffinity", lambda pid: set())
    assert options.default_workers() == 1


def test_http2_to_the_browser_is_asked_of_mitmproxy_and_can_be_declined():
    from mitmproxy.addons.proxyserver import Proxyserver
    from mitmproxy.test import taddons

    from proxy_addon.multiplex import Multiplex

    for wanted, strategy in ((True, "lazy"), (False, "eager")):
        multiplex = Multiplex()
        with taddons.context(Proxyserver(), multiplex) as tctx:
            tctx.configure(multiplex, wink_http2=wanted)
            assert tctx.options.connection_strategy == strategy


def test_an_animation_runs_nicer_than_the_looks_of_its_worker(monkeypatch):
    """A worker's looks hold page photos and compete as the browser's equals; its animations yield."""

    def report_niceness(step: Step) -> WorkResult:
        return WorkResult(Kind.NOTHING, reason=str(os.getpriority(os.PRIO_PROCESS, 0)))  # this thread's (Linux)

    monkeypatch.setattr(worker_process, "_animate", report_niceness)
    result = worker_process.animate(Step(Lane.ANIMATE, b"", "zeman", "wink", "webp"))
    assert int(result.reason) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + worker_process.ANIMATION_NICE)
