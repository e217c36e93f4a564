"""End to end: a real `mitmdump -s proxy_addon/wink.py`, real HTTP and HTTPS origins, a real client.

One proxy (generous deadline) serves most tests; a second one with a tiny deadline covers the
deadline, a killed worker and a cache that survives a restart.
"""

from __future__ import annotations

import io
import json
import os
import signal
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from proxy_addon import control_api
from testkit.harness import WEBP_ACCEPT, Client, Mitmdump, Origin, Route, fetch_all, temp_workdir

APNG = "image/apng,image/svg+xml,image/*,*/*;q=0.8"
EXT = f"chrome-extension://{control_api.EXTENSION_ID}"
TARGET = "zeman"  # the default, enrolled in assets/targets


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def zeman_variant(fixtures: Path, index: int) -> bytes:
    """A target photo whose bytes no other test used (so it is a cache miss)."""
    source = Image.open(fixtures / "faces" / "zeman" / f"zeman_{1 + index % 2}.jpg").convert("RGB")
    return encode(source, "JPEG", quality=94 - index)


def png_bomb(side: int = 20000) -> bytes:
    """A small PNG whose header claims side x side pixels (1-bit, all zero)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def bad_corpus(fixtures: Path) -> dict[str, Route]:
    zeman = (fixtures / "faces" / "zeman" / "zeman_1.jpg").read_bytes()
    frames = [Image.new("RGB", (120, 90), (60 * i, 30, 200 - 60 * i)) for i in range(3)]
    sixteen = Image.new("I;16", (200, 160))
    sixteen.putdata([(x * 300) % 65535 for x in range(200 * 160)])
    return {
        "/bad/empty.jpg": Route(b"", "image/jpeg"),
        "/bad/truncated.jpg": Route(zeman[:3000], "image/jpeg"),
        "/bad/text.jpg": Route(b"this is not a picture at all\n" * 20, "image/jpeg"),
        "/bad/bomb.png": Route(png_bomb(), "image/png"),
        "/bad/drawing.svg": Route(
            b'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200">'
            b'<circle cx="100" cy="100" r="80"/></svg>',
            "image/svg+xml",
        ),
        "/bad/animated.gif": Route(
            encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0), "image/gif"
        ),
        "/bad/cmyk.jpg": Route(encode(Image.new("CMYK", (300, 200), (10, 80, 30, 5)), "JPEG"), "image/jpeg"),
        "/bad/16bit.png": Route(encode(sixteen, "PNG"), "image/png"),
        "/bad/wrong-type.png": Route(encode(Image.new("RGB", (300, 200), (20, 90, 40)), "PNG"), "image/jpeg"),
        "/bad/zeman-tiny.jpg": Route(encode(Image.open(io.BytesIO(zeman)).resize((40, 56)), "JPEG"), "image/jpeg"),
    }


def routes(fixtures: Path) -> dict[str, Route]:
    faces = fixtures / "faces"
    table = {
        "/zeman_1.jpg": Route(
            (faces / "zeman" / "zeman_1.jpg").read_bytes(),
            "image/jpeg",
            headers={"ETag": '"z1"', "Cache-Control": "max-age=600"},
        ),
        "/zeman_2.jpg": Route((faces / "zeman" / "zeman_2.jpg").read_bytes(), "image/jpeg"),
        "/biden_1.jpg": Route((faces / "biden" / "biden_1.jpg").read_bytes(), "image/jpeg"),
        "/obama_1.jpg": Route((faces / "obama" / "obama_1.jpg").read_bytes(), "image/jpeg"),
        "/noface.png": Route(encode(Image.new("RGB", (640, 480), (200, 180, 150)), "PNG"), "image/png"),
        "/page.html": Route(b"<!doctype html><title>t</title><img src=/zeman_1.jpg>", "text/html"),
        "/style.css": Route(b"body { color: #123; }\n", "text/css"),
        "/data.json": Route(json.dumps({"a": [1, 2, 3]}).encode(), "application/json"),
    }
    table.update(bad_corpus(fixtures))
    for index in range(8):
        table[f"/variant_{index}.jpg"] = Route(zeman_variant(fixtures, index), "image/jpeg")
    return table


@pytest.fixture(scope="module")
def origins(fixtures, tmp_path_factory):
    table = routes(fixtures)
    plain = Origin(table)
    secure = Origin(table, tls_dir=tmp_path_factory.mktemp("origin-tls"))
    yield {"http": plain, "https": secure}
    plain.close()
    secure.close()


@pytest.fixture(scope="module")
def proxy(origins):
    workdir = temp_workdir()
    proxy = Mitmdump(workdir, wink_timeout=60, wink_workers=2, wink_target=TARGET)
    try:
        proxy.wait_ready()
        yield proxy
    finally:
        proxy.stop()
        print(proxy.log()[-3000:])


def test_addon_proxy_workers_come_from_a_fork_server_without_threads(proxy):
    """The workers are forked from one clean process that imported the pipeline (pool.py). A thread
    running in it as it forks would leave whatever locks it held locked in every worker; OpenBLAS stops
    its own before a fork, and nothing else that the server imports may start one."""
    (server,) = proxy.fork_server_pids()
    assert len(os.listdir(f"/proc/{server}/task")) == 1
    assert len(proxy.worker_pids()) == 2


def animated_frames(body: bytes) -> tuple[str, tuple[int, int], int]:
    image = Image.open(io.BytesIO(body))
    return image.format, image.size, getattr(image, "n_frames", 1)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_addon_proxy_target_photo_animated(proxy, origins, scheme):
    origin = origins[scheme]
    original = origin.routes["/zeman_1.jpg"].body
    size = Image.open(io.BytesIO(original)).size
    reply = proxy.client.get(origin.url("/zeman_1.jpg"), accept=WEBP_ACCEPT)
    assert reply.status == 200
    assert reply.headers["content-type"] == "image/webp"
    assert int(reply.headers["content-length"]) == len(reply.body)
    fmt, out_size, frames = animated_frames(reply.body)
    assert (fmt, out_size) == ("WEBP", size) and frames > 3
    assert reply.headers["etag"].startswith('"z1~wink.') and reply.headers["cache-control"] == "private, no-cache"
    assert "content-encoding" not in reply.headers

    apng = proxy.client.get(origin.url("/zeman_2.jpg"), accept=APNG)
    assert apng.headers["content-type"] == "image/apng"
    assert animated_frames(apng.body)[0] == "PNG" and animated_frames(apng.body)[2] > 3


def test_addon_proxy_gif_for_plain_clients(proxy, origins):
    reply = proxy.client.get(origins["http"].url("/zeman_1.jpg"), accept="image/*")
    assert reply.headers["content-type"] == "image/gif"
    fmt, _, frames = animated_frames(reply.body)
    assert fmt == "GIF" and frames > 3


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize(
    "path", ["/biden_1.jpg", "/obama_1.jpg", "/noface.png", "/page.html", "/style.css", "/data.json"]
)
def test_addon_proxy_everything_else_identical(proxy, origins, scheme, path):
    origin = origins[scheme]
    reply = proxy.client.get(origin.url(path), accept=WEBP_ACCEPT)
    assert reply.status == 200
    assert reply.body == origin.routes[path].body
    assert reply.headers["content-type"] == origin.routes[path].content_type


def test_addon_proxy_bad_images_identical(proxy, origins, fixtures):
    origin = origins["http"]
    failed_before = proxy.status()["counts"]
    for path in bad_corpus(fixtures):
        reply = proxy.client.get(origin.url(path), accept=WEBP_ACCEPT)
        assert reply.status == 200, path
        assert reply.body == origin.routes[path].body, path
        assert reply.headers["content-type"] == origin.routes[path].content_type, path
    assert proxy.client.get(origin.url("/page.html")).status == 200  # still serving
    assert proxy.status()["counts"]["seen"] > failed_before["seen"]


def test_addon_proxy_range_untouched_and_head_matches_get(proxy, origins):
    origin = origins["http"]
    original = origin.routes["/zeman_1.jpg"].body
    partial = proxy.client.get(origin.url("/zeman_1.jpg"), accept=WEBP_ACCEPT, range="bytes=0-99")
    assert partial.status == 206 and partial.body == original[:100]
    get = proxy.client.get(origin.url("/zeman_1.jpg"), accept=WEBP_ACCEPT)
    head = proxy.client.request("HEAD", origin.url("/zeman_1.jpg"), headers={"accept": WEBP_ACCEPT})
    assert head.status == 200 and head.body == b""
    for name in ("content-type", "content-length", "etag", "cache-control", "x-wink"):
        assert head.headers.get(name) == get.headers.get(name), name
    assert get.headers["content-type"] == "image/webp"
    page_head = proxy.client.request("HEAD", origin.url("/page.html"), headers={"accept": "text/html"})
    assert page_head.status == 200 and page_head.body == b"" and page_head.headers["content-type"] == "text/html"


def test_addon_proxy_load(proxy, origins, fixtures):
    """A few hundred mixed requests, 20 in flight: none fails, every body is the original or an animation."""
    mix = [
        "/variant_0.jpg",
        "/variant_1.jpg",
        "/variant_2.jpg",
        "/variant_3.jpg",
        "/biden_1.jpg",
        "/obama_1.jpg",
        "/noface.png",
        "/page.html",
        "/style.css",
        "/data.json",
        "/bad/truncated.jpg",
        "/bad/cmyk.jpg",
        "/bad/animated.gif",
        "/zeman_1.jpg",
    ]
    jobs = [(("http", "https")[i % 2], mix[(i * 7) % len(mix)]) for i in range(280)]
    started = time.monotonic()
    replies = fetch_all(proxy.port, proxy.ca, [origins[scheme].url(path) for scheme, path in jobs])
    elapsed = time.monotonic() - started
    animated = 0
    for (_, path), reply in zip(jobs, replies, strict=True):
        original = origins["http"].routes[path].body
        assert reply is not None and reply.status == 200, path
        if reply.body == original:
            continue
        assert "variant" in path or "zeman" in path, path
        fmt, size, frames = animated_frames(reply.body)
        assert fmt == "WEBP" and frames > 3 and size == Image.open(io.BytesIO(original)).size
        assert reply.headers["content-type"] == "image/webp"
        assert int(reply.headers["content-length"]) == len(reply.body)
        animated += 1
    assert animated > 0
    print(
        f"load: {len(jobs)} requests in {elapsed:.1f} s, {animated} animated, memory peak kB {proxy.memory_peak_kb()}"
    )


def test_addon_proxy_latency_and_cpu_per_kind_of_image(proxy, origins, fixtures):
    """The status page tells apart what a page's images cost: no face, other people, the target, the cache."""
    origin = origins["http"]
    kinds = {
        "/kinds/noface.png": encode(Image.new("RGB", (500, 400), (90, 140, 60)), "PNG"),
        "/kinds/biden.png": encode(Image.open(fixtures / "faces" / "biden" / "biden_1.jpg"), "PNG"),
        "/kinds/zeman.png": encode(Image.open(fixtures / "faces" / "zeman" / "zeman_2.jpg"), "PNG"),
    }
    for path, body in kinds.items():
        origin.routes[path] = Route(body, "image/png")
    before = proxy.status()["latency_by_kind"]
    for path in [*kinds, "/kinds/zeman.png"]:
        assert proxy.client.get(origin.url(path), accept=WEBP_ACCEPT).status == 200
    after = proxy.status()["latency_by_kind"]
    for kind in ("no face", "other people", "target"):
        assert after[kind]["count"] == before[kind]["count"] + 1, kind
        assert after[kind]["cpu_p50"] > 0 and after[kind]["p50"] > 0, kind
    assert after["cache"]["count"] == before["cache"]["count"] + 1
    assert after["no face"]["cpu_p50"] < after["other people"]["cpu_p50"] < after["target"]["cpu_p50"]
    queue = proxy.status()["queue"]
    assert set(queue["waiting"]) == set(queue["running"]) == {"look", "identify", "animate"}
    page = proxy.client.get("http://wink.proxy/").body.decode()
    assert "other people: " in page and "queue: waiting / running" in page


def test_addon_proxy_face_free_photo_does_not_wait_behind_identifications(proxy, origins, fixtures):
    """Photos of other people wait for identification when a face-free photo arrives: it is answered
    after its quick look, not after their identifications. First come, first served answers it after
    all of them; the lanes after the two running and the few that end while it travels (an
    identification is ~20 ms a face)."""
    origin = origins["https"]
    names = ["obama/obama_1", "obama/obama_2", "biden/biden_1", "biden/biden_2"]
    names += ["kit_harington/kit_1", "kit_harington/kit_2", "rose_leslie/rose_1", "alex_lacamoire/alex_1"]
    people = [*names, *names[:4]]  # the same faces again, in bytes of their own
    for index, name in enumerate(people):
        image = Image.open(fixtures / "faces" / f"{name}.jpg").convert("RGB")
        image.putpixel((0, 0), (index, 7, 77))  # bytes no earlier test sent
        origin.routes[f"/queue/person_{index}.jpg"] = Route(encode(image, "JPEG", quality=92), "image/jpeg")
    scenery = encode(Image.new("RGB", (900, 600), (70, 120, 160)), "JPEG")
    origin.routes["/queue/scenery.jpg"] = Route(scenery, "image/jpeg")
    finished: list[str] = []
    scenery_client = Client(proxy.port, proxy.ca)
    assert scenery_client.get(origin.url("/style.css")).status == 200  # its connection up already

    def get(path: str, client: Client | None = None) -> None:
        own = client is None
        client = client or Client(proxy.port, proxy.ca)
        try:
            assert client.get(origin.url(path), accept=WEBP_ACCEPT).status == 200
            finished.append(path)
        finally:
            if own:
                client.close()

    before = proxy.status()["latency_by_kind"]["no face"]["count"]
    with ThreadPoolExecutor(len(people) + 1) as pool:
        jobs = [pool.submit(get, f"/queue/person_{index}.jpg") for index in range(len(people))]
        for _ in range(500):  # until every look is done and most identifications wait
            queue = proxy.status()["queue"]
            if queue["waiting"]["identify"] >= 8 and queue["waiting"]["look"] + queue["running"]["look"] == 0:
                break
            time.sleep(0.005)
        else:
            pytest.fail("the photos of people never queued for identification")
        jobs.append(pool.submit(get, "/queue/scenery.jpg", scenery_client))
        for job in jobs:
            job.result()
    scenery_client.close()
    assert proxy.status()["latency_by_kind"]["no face"]["count"] == before + 1  # looked at, not let through
    ahead = finished.index("/queue/scenery.jpg")
    assert ahead <= len(people) // 2, f"the face-free photo came back after {ahead} of {len(people)} photos of people"


def test_addon_proxy_control_page_and_api(proxy, origins):
    client = proxy.client
    client.get(origins["http"].url("/zeman_1.jpg"), accept=WEBP_ACCEPT)  # something to count, whatever ran before
    page = client.get("http://wink.proxy/")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert b"wink proxy is" in page.body and b"zeman" in page.body and b"<b>ON</b>" in page.body

    status = json.loads(client.get("http://wink.proxy/api/status").body)
    secure = client.get("https://wink.proxy/api/status", origin=EXT)  # TLS made with the proxy's CA
    assert secure.status == 200 and json.loads(secure.body)["target"] == TARGET
    assert status["enabled"] is True and status["target"] == TARGET and status["preset"] == "wink"
    counts = {"seen", "animated", "passed", "failed", "cached", "queue_full", "timeouts"}
    assert set(status["counts"]) >= counts
    assert status["counts"]["animated"] >= 1 and status["latency_ms"]["p50"] is not None
    for _ in range(50):  # the cache is written after the response left
        if proxy.status()["cache"]["entries"] >= 1:
            break
        time.sleep(0.1)
    assert proxy.status()["cache"]["entries"] >= 1

    presets = json.loads(client.get("http://wink.proxy/api/presets", origin=EXT).body)
    assert presets["current"] == "wink" and "wink" in [p["name"] for p in presets["presets"]]

    # a web page: no CORS headers, its preflight is not allowed, its POST is refused, nothing changes
    evil = "https://evil.example"
    read = client.get("http://wink.proxy/api/status", origin=evil)
    assert "access-control-allow-origin" not in read.headers
    preflight = client.request(
        "OPTIONS",
        "http://wink.proxy/api/enabled",
        headers={
            "origin": evil,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
    for headers, status in (
        ({"origin": evil, "content-type": "application/json", "x-wink-secret": proxy.secret()}, 403),
        ({"content-type": "text/plain", "x-wink-secret": proxy.secret()}, 415),
    ):
        refused = client.request("POST", "http://wink.proxy/api/enabled", b'{"enabled": false}', headers)
        assert refused.status == status, headers
    assert json.loads(client.get("http://wink.proxy/api/status").body)["enabled"] is True

    # another extension: no CORS, no pairing, no changes
    stranger = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
    assert "access-control-allow-origin" not in client.get("http://wink.proxy/api/status", origin=stranger).headers
    assert client.request("POST", "http://wink.proxy/api/pair", b"{}", {"origin": stranger}).status == 403
    as_stranger = {"origin": stranger, "content-type": "application/json", "x-wink-secret": proxy.secret()}
    assert client.request("POST", "http://wink.proxy/api/enabled", b'{"enabled": false}', as_stranger).status == 403
    # a local process without the secret
    local = {"content-type": "application/json"}
    assert client.request("POST", "http://wink.proxy/api/enabled", b'{"enabled": false}', local).status == 401
    assert json.loads(client.get("http://wink.proxy/api/status").body)["enabled"] is True
    revealed = json.loads(client.get("http://wink.proxy/api/status").body)
    assert "dir" not in revealed["cache"] and "pids" not in revealed["workers"]

    # the extension: pairs once for the secret, then allowed, with CORS echoed
    paired = client.request("POST", "http://wink.proxy/api/pair", b"{}", {"origin": EXT})
    assert paired.status == 200 and paired.headers["access-control-allow-origin"] == EXT
    secret = json.loads(paired.body)["secret"]
    assert secret == proxy.secret()
    assert client.request("POST", "http://wink.proxy/api/pair", b"{}", {"origin": EXT}).status == 409
    ext = {"origin": EXT, "content-type": "application/json", "x-wink-secret": secret}
    preflight = client.request(
        "OPTIONS", "http://wink.proxy/api/enabled", headers={"origin": EXT, "access-control-request-method": "POST"}
    )
    assert preflight.headers["access-control-allow-origin"] == EXT
    bad = client.request("POST", "http://wink.proxy/api/preset", b'{"preset": "no-such"}', ext)
    assert bad.status == 400 and "error" in json.loads(bad.body)
    chosen = client.request("POST", "http://wink.proxy/api/preset", b'{"preset": "wink"}', ext)
    assert chosen.status == 200 and json.loads(chosen.body)["preset"] == "wink"
    off = client.request("POST", "http://wink.proxy/api/enabled", b'{"enabled": false}', ext)
    assert off.status == 200 and json.loads(off.body)["enabled"] is False
    assert off.headers["access-control-allow-origin"] == EXT
    try:
        origin = origins["http"]
        reply = client.get(origin.url("/variant_7.jpg"), accept=WEBP_ACCEPT)
        assert reply.body == origin.routes["/variant_7.jpg"].body
    finally:
        on = client.request("POST", "http://wink.proxy/api/enabled", b'{"enabled": true}', ext)
        assert json.loads(on.body)["enabled"] is True


def test_addon_proxy_deadline_killed_worker_and_restart(origins, fixtures):
    """Tiny deadline: the original at once, the animation from the cache later; a killed worker is
    replaced; the cache survives a restart."""
    workdir = temp_workdir()
    origin = origins["https"]
    proxy = Mitmdump(workdir, wink_timeout=0.05, wink_workers=1, wink_target=TARGET)
    try:
        proxy.wait_ready()
        path = "/variant_4.jpg"
        original = origin.routes[path].body
        first = proxy.client.get(origin.url(path), accept=WEBP_ACCEPT)
        assert first.body == original and first.ms < 2000
        deadline = time.monotonic() + 60
        while True:
            later = proxy.client.get(origin.url(path), accept=WEBP_ACCEPT)
            if later.body != original or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert later.headers["content-type"] == "image/webp" and animated_frames(later.body)[2] > 3
        assert proxy.status()["counts"]["timeouts"] >= 1

        (pid,) = proxy.worker_pids()
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        path = "/variant_5.jpg"
        deadline = time.monotonic() + 90
        while True:
            reply = proxy.client.get(origin.url(path), accept=WEBP_ACCEPT)
            assert reply.status == 200
            if reply.body != origin.routes[path].body or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert animated_frames(reply.body)[2] > 3, proxy.log()[-3000:]
        workers = proxy.status()["workers"]
        assert workers["restarts"] >= 1 and pid not in proxy.worker_pids()
    finally:
        proxy.stop()

    again = Mitmdump(workdir, wink_timeout=0.05, wink_workers=1, wink_target=TARGET)
    try:
        again.wait_ready()
        for _ in range(5):  # the header check too runs under the 50 ms deadline: a cold first look may miss it
            cached = again.client.get(origin.url("/variant_4.jpg"), accept=WEBP_ACCEPT)
            if cached.headers["content-type"] == "image/webp":
                break
        assert cached.headers["content-type"] == "image/webp"
        assert again.status()["counts"]["cached"] == 1
    finally:
        again.stop()


def _alpn_through(proxy: Mitmdump, origin: Origin) -> str | None:
    """The protocol the proxy agrees with a browser that offers h2 and HTTP/1.1, for `origin`."""
    import socket
    import ssl

    with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as raw:
        raw.sendall(f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1\r\nHost: 127.0.0.1:{origin.port}\r\n\r\n".encode())
        assert raw.recv(4096).startswith(b"HTTP/1.1 200")
        context = ssl.create_default_context(cafile=str(proxy.ca))
        context.set_alpn_protocols(["h2", "http/1.1"])
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.selected_alpn_protocol()


def test_addon_proxy_mirrors_the_site_protocol_unless_asked_for_http2(proxy, origins):
    """The origin speaks only HTTP/1.1. By default the browser gets HTTP/1.1 too (mitmproxy's own
    choice: over HTTP/2 it would open a new connection to the site for every image); wink_http2 gives
    it h2, so that a held image holds one stream, not one of the browser's six connections."""
    origin = origins["https"]
    assert _alpn_through(proxy, origin) in (None, "http/1.1")  # the site names no protocol: HTTP/1.1
    asked = Mitmdump(temp_workdir(), wink_http2="true", wink_workers=1)
    try:
        asked.wait_ready(warm=False)
        assert _alpn_through(asked, origin) == "h2"
    finally:
        asked.stop()
