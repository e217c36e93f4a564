"""Hostile web (issue 12): a real mitmdump with the add-on, real origins on 127.0.0.1, a real client.

What must pass byte-identical (downloads, nosniff text, POSTs, fetch() data, no-transform), what an
animation must say about its freshness, bombs of every encoding, a zero-filled JPEG, frozen and
killed workers, a damaged, deleted and full cache, the console and file privacy, and the control API
against a second extension. Every wait is bounded; every stopped process is continued.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import time
import zlib
from pathlib import Path

import brotli
import pytest
import zstandard
from PIL import Image

from pipeline import provenance
from proxy_addon import control_api
from testkit.harness import WEBP_ACCEPT, Mitmdump, Origin, Route, temp_workdir

IMAGE_REQUEST = {"accept": WEBP_ACCEPT, "sec-fetch-dest": "image"}
#: Decoded size of every bomb, as in the issue.
BOMB_SIZE = 200_000_000
BOMB_ENCODERS = {
    "gzip": lambda data: gzip.compress(data, 6),
    "deflate": lambda data: zlib.compress(data, 6),
    "br": lambda data: brotli.compress(data, quality=5),
    "zstd": lambda data: zstandard.ZstdCompressor(level=3).compress(data),
    "bz2": lambda data: bz2.compress(data, 9),
    "zlib": lambda data: zlib.compress(data, 6),
}


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def variant(fixtures: Path, index: int) -> bytes:
    """A target photo no other request used (a cache miss)."""
    source = Image.open(fixtures / "faces" / "zeman" / f"zeman_{1 + index % 2}.jpg").convert("RGB")
    return encode(source, "JPEG", quality=90 - index)


def same_frames(a: bytes, b: bytes) -> bool:
    """Two animations show the same pixels in every frame."""
    with Image.open(io.BytesIO(a)) as one, Image.open(io.BytesIO(b)) as other:
        if getattr(one, "n_frames", 1) != getattr(other, "n_frames", 1):
            return False
        for index in range(getattr(one, "n_frames", 1)):
            one.seek(index)
            other.seek(index)
            if one.convert("RGBA").tobytes() != other.convert("RGBA").tobytes():
                return False
    return True


def is_animation(body: bytes) -> bool:
    try:
        return getattr(Image.open(io.BytesIO(body)), "n_frames", 1) > 3
    except Exception:
        return False


@pytest.fixture(scope="module")
def table(fixtures: Path) -> dict[str, Route]:
    photo = (fixtures / "faces" / "zeman" / "zeman_1.jpg").read_bytes()
    header = encode(Image.new("RGB", (800, 600), (120, 90, 80)), "JPEG")
    routes = {
        "/photo.jpg": Route(photo, "image/jpeg", headers={"ETag": '"p1"'}),
        "/download": Route(
            photo, "application/octet-stream", headers={"Content-Disposition": 'attachment; filename="passport.jpg"'}
        ),
        "/download.jpg": Route(photo, "image/jpeg", headers={"Content-Disposition": "attachment"}),
        "/nosniff.txt": Route(photo, "text/plain", headers={"X-Content-Type-Options": "nosniff"}),
        "/post": Route(photo, "image/jpeg"),
        "/fetched.jpg": Route(photo, "image/jpeg"),
        "/no-transform.jpg": Route(photo, "image/jpeg", headers={"Cache-Control": "public, no-transform"}),
        "/immutable.jpg": Route(
            variant(fixtures, 0),
            "image/jpeg",
            headers={"ETag": '"im1"', "Cache-Control": "max-age=31536000, immutable", "Expires": "Thu, 01 Jan 2037"},
        ),
        "/zeros.jpg": Route(b"\xff\xd8\xff\xe0" + bytes(20_000_000), "image/jpeg"),
        "/plain.jpg": Route(encode(Image.new("RGB", (640, 480), (200, 180, 150)), "JPEG"), "image/jpeg"),
    }
    for name, compress in BOMB_ENCODERS.items():
        routes[f"/bomb-{name}.jpg"] = Route(
            compress(header + bytes(BOMB_SIZE)), "image/jpeg", headers={"Content-Encoding": name}
        )
    for index in range(1, 12):
        routes[f"/variant_{index}.jpg"] = Route(variant(fixtures, index), "image/jpeg")
    for index in (10, 11):  # ~3 MP: their APNG (~4.2 MB) is over the "full disk" test's 2.5 MB file limit
        still = Image.open(io.BytesIO(variant(fixtures, index)))
        scale = (3_000_000 / (still.width * still.height)) ** 0.5
        big = still.resize((int(still.width * scale), int(still.height * scale)))
        routes[f"/big_{index}.jpg"] = Route(encode(big, "JPEG"), "image/jpeg")
    return routes


@pytest.fixture(scope="module")
def origins(table, tmp_path_factory):
    plain, secure = Origin(table), Origin(table, tls_dir=tmp_path_factory.mktemp("hostile-tls"))
    yield {"http": plain, "https": secure}
    plain.close()
    secure.close()


@pytest.fixture(scope="module")
def proxy():
    """The documented command's defaults (flow_detail untouched), a generous deadline."""
    proxy = Mitmdump(temp_workdir(), flow_detail=None, wink_timeout=30, wink_workers=1, wink_max_body=32)
    try:
        proxy.wait_ready()
        yield proxy
    finally:
        proxy.stop()


#: The Redis databases of the module's shared proxy and of a proxy a test starts itself: apart from
#: each other and from the other modules' (database 0), so no test is served what another one cached.
MODULE_PROXY_DB, OWN_PROXY_DB = 1, 2


@pytest.fixture(scope="module")
def redis_proxy(redis_server):
    """The same, its cache on the session's Redis (wink_cache_url) instead of on disk."""
    proxy = Mitmdump(
        temp_workdir(),
        flow_detail=None,
        wink_timeout=30,
        wink_workers=1,
        wink_max_body=32,
        wink_cache_url=redis_server.empty_db_url(MODULE_PROXY_DB),
    )
    try:
        proxy.wait_ready()
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture(params=["disk", "redis"])
def cache_mode(request) -> str:
    """Where the proxy under test keeps its cache: the disk (the default) or a shared Redis."""
    return request.param


@pytest.fixture
def any_proxy(request, cache_mode):
    return request.getfixturevalue("proxy" if cache_mode == "disk" else "redis_proxy")


@pytest.fixture
def cache_options(request, cache_mode) -> dict[str, str]:
    """The options of a proxy started by the test itself, for its cache mode."""
    if cache_mode == "disk":
        return {}
    return {"wink_cache_url": request.getfixturevalue("redis_server").empty_db_url(OWN_PROXY_DB)}


def get(proxy: Mitmdump, url: str, **headers: str):
    return proxy.client.request(
        "GET", url, headers={**IMAGE_REQUEST, **{k.replace("_", "-"): v for k, v in headers.items()}}
    )


def test_hostile_only_page_images_are_touched(proxy, origins):
    https, http = origins["https"], origins["http"]
    original = https.routes["/photo.jpg"].body
    assert get(proxy, https.url("/photo.jpg")).headers["content-type"] == "image/webp"  # it does animate
    untouched = [
        proxy.client.get(https.url("/download"), accept=WEBP_ACCEPT, sec_fetch_dest="image"),
        get(proxy, https.url("/download.jpg")),
        get(proxy, https.url("/nosniff.txt")),
        proxy.client.request("POST", https.url("/post"), b"a=1", {**IMAGE_REQUEST, "content-type": "text/plain"}),
        proxy.client.get(https.url("/fetched.jpg"), accept="*/*", sec_fetch_dest="empty"),
        proxy.client.get(https.url("/fetched.jpg"), accept=WEBP_ACCEPT, sec_fetch_dest="empty"),
        get(proxy, https.url("/no-transform.jpg")),
        get(proxy, https.url("/photo.jpg"), cache_control="no-transform"),
        proxy.client.get(http.url("/fetched.jpg"), accept="*/*"),  # plain HTTP, no Fetch Metadata
    ]
    for reply in untouched:
        assert reply.status == 200 and reply.body == original
        assert "x-wink" not in reply.headers
    assert untouched[0].headers["content-disposition"] == 'attachment; filename="passport.jpg"'
    # plain HTTP has no Fetch Metadata: an Accept naming images is what makes an image request
    plain = proxy.client.get(http.url("/photo.jpg"), accept=WEBP_ACCEPT)
    assert plain.headers["content-type"] == "image/webp" and is_animation(plain.body)


def test_hostile_animations_revalidate(proxy, origins):
    origin = origins["https"]
    first = get(proxy, origin.url("/immutable.jpg"))
    assert first.headers["content-type"] == "image/webp"
    assert first.headers["cache-control"] == "private, no-cache" and "expires" not in first.headers
    etag = first.headers["etag"]
    assert etag.startswith('"im1~wink.')
    # HEAD says what GET says
    head = proxy.client.request("HEAD", origin.url("/immutable.jpg"), headers=IMAGE_REQUEST)
    assert head.body == b""
    for name in ("content-type", "content-length", "etag", "cache-control"):
        assert head.headers.get(name) == first.headers.get(name), name
    # the origin answers 304 to its own ETag: the browser's copy stays an animation, re-tagged, no-cache
    origin.routes["/etag304.jpg"] = Route(b"", "image/jpeg", 304, {"ETag": '"im1"', "Cache-Control": "max-age=9999"})
    hits = len(origin.server.hits)
    again = get(proxy, origin.url("/etag304.jpg"), if_none_match=etag)
    assert again.status == 304 and again.headers["etag"] == etag
    assert again.headers["cache-control"] == "private, no-cache"
    assert len(origin.server.hits) == hits + 1


def test_hostile_bombs_pass_and_memory_stays(any_proxy, origins):
    proxy = any_proxy
    origin = origins["http"]
    for _ in range(3):  # settle: connections, threads, the first examine
        get(proxy, origin.url("/plain.jpg"))
    idle = proxy.rss_kb()
    peak = idle
    for name in BOMB_ENCODERS:
        path = f"/bomb-{name}.jpg"
        reply = get(proxy, origin.url(path))
        assert reply.status == 200 and reply.body == origin.routes[path].body, name
        assert reply.headers["content-encoding"] == name
        peak = max(peak, proxy.rss_kb())
    assert proxy.process.poll() is None
    assert peak - idle <= 100_000, f"RSS grew {(peak - idle) / 1000:.0f} MB under the bombs"
    assert get(proxy, origin.url("/photo.jpg")).headers["content-type"] == "image/webp"


def test_hostile_zero_filled_jpeg(any_proxy, origins):
    proxy = any_proxy
    origin = origins["http"]
    for _ in range(2):  # the second time it is remembered by hash
        reply = get(proxy, origin.url("/zeros.jpg"))
        assert reply.status == 200 and reply.body == origin.routes["/zeros.jpg"].body


def test_hostile_privacy(proxy, origins, tmp_path):
    origin = origins["https"]
    token = "sig=SECRET-TOKEN-1234"
    assert get(proxy, origin.url(f"/plain.jpg?{token}")).status == 200
    time.sleep(0.3)
    assert "SECRET-TOKEN-1234" not in proxy.log() and "/plain.jpg" not in proxy.log()
    assert proxy.confdir.stat().st_mode & 0o777 == 0o700
    cache = proxy.workdir / "cache"
    assert cache.stat().st_mode & 0o777 == 0o700
    files = [path for path in cache.rglob("*") if path.is_file()]
    assert files and all(path.stat().st_mode & 0o777 == 0o600 for path in files)
    assert (proxy.confdir / "wink-control.json").stat().st_mode & 0o777 == 0o600


def test_hostile_cache_is_partitioned_by_page_site(any_proxy, origins):
    proxy = any_proxy
    origin = origins["https"]
    url = origin.url("/variant_1.jpg")

    def cached_after(referer: str) -> int:
        before = proxy.status()["counts"]["cached"]
        get(proxy, url, referer=referer)
        return proxy.status()["counts"]["cached"] - before

    assert cached_after("https://news.example.org/a") == 0
    time.sleep(0.5)  # the cache entry is written after the response
    assert cached_after("https://www.news.example.org/b") == 1  # the same site
    assert cached_after("https://evil.example.net/") == 0  # another site cannot tell it was seen


def test_hostile_control_api(proxy):
    client, stranger = proxy.client, "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
    ours = f"chrome-extension://{control_api.EXTENSION_ID}"
    body, json_type = b'{"enabled": false}', {"content-type": "application/json"}
    assert client.request("POST", "http://wink.proxy/api/pair", b"{}", {"origin": stranger}).status == 403
    for headers in ({**json_type, "origin": stranger, "x-wink-secret": proxy.secret()}, json_type):
        assert client.request("POST", "http://wink.proxy/api/enabled", body, headers).status in (401, 403)
    read = client.get("http://wink.proxy/api/status", origin=stranger)
    assert "access-control-allow-origin" not in read.headers
    status = json.loads(read.body)
    assert status["enabled"] is True and "dir" not in status["cache"] and "pids" not in status["workers"]
    assert str(proxy.workdir) not in client.get("http://wink.proxy/").body.decode()
    preflight = client.request(
        "OPTIONS", "http://wink.proxy/api/enabled", headers={"origin": ours, "access-control-request-method": "POST"}
    )
    assert preflight.headers["access-control-allow-origin"] == ours
    # the target decides, and the Host header must agree
    disguised = client.request("GET", "http://wink.proxy/api/status", headers={"host": "example.com"})
    assert disguised.status == 421


def test_hostile_frozen_and_fatal_workers(origins, fixtures, cache_options):
    """Frozen workers are replaced and target photos animate again; a job that kills its worker is
    remembered, so reloading that image does not break the pool again."""
    origin = origins["http"]
    proxy = Mitmdump(temp_workdir(), wink_timeout=2, wink_workers=2, **cache_options)
    frozen: list[int] = []
    try:
        proxy.wait_ready()
        frozen = proxy.worker_pids()
        assert len(frozen) == 2
        for pid in frozen:  # each worker's address space is capped (wink_worker_memory, 4096 MB)
            limits = Path(f"/proc/{pid}/limits").read_text()
            (line,) = [row for row in limits.splitlines() if row.startswith("Max address space")]
            assert line.split()[3] == str(4096 * 1024 * 1024), line
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        # the status page tells the truth as soon as the kernel has stopped them (before any replacement)
        ready = []
        for _ in range(10):  # 0.5 s, less than the 1 s after which the watchdog replaces them
            time.sleep(0.05)
            ready.append(proxy.status()["workers"]["ready"])
        assert 0 in ready, ready
        stalled = get(proxy, origin.url("/variant_2.jpg"))
        assert stalled.body == origin.routes["/variant_2.jpg"].body  # the original, at the deadline
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            workers = proxy.status()["workers"]
            if workers["ready"] == 2 and not set(frozen) & set(proxy.worker_pids()):
                break
            time.sleep(0.25)
        assert workers["ready"] == 2 and workers["hung"] >= 1, workers
        animated = None
        for index in (3, 4, 5, 6):
            animated = get(proxy, origin.url(f"/variant_{index}.jpg"))
            if is_animation(animated.body):
                break
        assert animated is not None and is_animation(animated.body), proxy.log()[-2000:]
    finally:
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        proxy.stop()

    # the OOM killer's way: SIGKILL while the job runs
    proxy = Mitmdump(temp_workdir(), wink_timeout=0.2, wink_workers=1, **cache_options)
    try:
        proxy.wait_ready()
        # a warm header check, so the job itself starts before the deadline; and an idle worker (the
        # plain photo's job done and cached), so the job it runs when killed is ours
        deadline = time.monotonic() + 60
        while proxy.status()["counts"]["cached"] < 1 and time.monotonic() < deadline:
            get(proxy, origin.url("/plain.jpg"))
            time.sleep(0.2)
        path = "/variant_7.jpg"
        original = origin.routes[path].body
        assert get(proxy, origin.url(path)).body == original  # past the deadline; the job runs on
        (pid,) = proxy.worker_pids()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            workers = proxy.status()["workers"]
            if workers["restarts"] >= 1 and workers["ready"] >= 1:
                break
            time.sleep(0.25)
        assert workers["restarts"] == 1, workers
        assert "made its worker die" in proxy.log()
        for _ in range(3):
            assert get(proxy, origin.url(path)).body == original
            time.sleep(0.3)
        assert proxy.status()["workers"]["restarts"] == 1  # remembered: no new crash
    finally:
        proxy.stop()


def damage(workdir: Path, redis_url: str, body: bytes) -> None:
    """Overwrite the middle of the stored entry of this image (on disk: the largest), once it is stored."""
    deadline = time.monotonic() + 10  # the result is stored once the response is on its way
    if not redis_url:
        while not (found := list((workdir / "cache").rglob("*.val"))) and time.monotonic() < deadline:
            time.sleep(0.1)
        stored = max(found, key=lambda path: path.stat().st_size)
        with open(stored, "r+b") as file:
            file.seek(stored.stat().st_size // 2)
            file.write(b"\0" * 400)
        return
    import redis

    client = redis.Redis.from_url(redis_url)
    pattern = f"wink:{hashlib.sha256(body).hexdigest()}:*"
    while not (keys := list(client.scan_iter(pattern))) and time.monotonic() < deadline:
        time.sleep(0.1)
    (key,) = keys
    client.setrange(key, client.strlen(key) // 2, b"\0" * 400)


def test_hostile_damaged_cache_entry(origins, cache_options):
    origin = origins["http"]
    workdir = temp_workdir()
    proxy = Mitmdump(workdir, wink_timeout=30, wink_workers=1, **cache_options)
    try:
        proxy.wait_ready()
        first = get(proxy, origin.url("/variant_8.jpg"))
        assert is_animation(first.body)
        damage(workdir, cache_options.get("wink_cache_url", ""), origin.routes["/variant_8.jpg"].body)
        again = get(proxy, origin.url("/variant_8.jpg"))
        # Never the damaged bytes: the photo itself, or the animation made again (its C2PA signature is
        # new each time, so compare what it shows and that its credentials hold).
        assert again.body == origin.routes["/variant_8.jpg"].body or (
            same_frames(again.body, first.body) and provenance.inspect(again.body).intact
        )
        assert "damaged cache entry" in proxy.log()
    finally:
        proxy.stop()


def test_hostile_deleted_and_full_cache(origins, fixtures):
    origin = origins["http"]
    workdir = temp_workdir()
    proxy = Mitmdump(workdir, wink_timeout=30, wink_workers=1)
    try:
        proxy.wait_ready()
        assert is_animation(get(proxy, origin.url("/variant_8.jpg")).body)  # the cache in use
        shutil.rmtree(workdir / "cache")
        fresh = get(proxy, origin.url("/variant_9.jpg"))
        assert is_animation(fresh.body)
        deadline = time.monotonic() + 10  # the result is stored once the response is on its way
        while not (workdir / "cache").is_dir() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (workdir / "cache").is_dir()
    finally:
        proxy.stop()

    # a disk that fills up mid-write: no file may grow past 2.5 MB (sqlite's journal stays under it; a
    # 3 MP APNG does not)
    apng = {"accept": "image/apng,image/*;q=0.8"}
    proxy = Mitmdump(temp_workdir(), file_size_limit=2_500_000, wink_timeout=60, wink_workers=1)
    try:
        proxy.wait_ready()
        assert proxy.status()["cache"]["on"] is True
        for _ in range(2):
            reply = get(proxy, origin.url("/big_10.jpg"), **apng)
            assert is_animation(reply.body) or reply.body == origin.routes["/big_10.jpg"].body
        deadline = time.monotonic() + 20  # the result is stored once the response is on its way
        while "could not read or write an entry" not in proxy.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "could not read or write an entry" in proxy.log()
        assert proxy.process.poll() is None and proxy.status()["cache"]["on"] is True
        assert is_animation(get(proxy, origin.url("/variant_11.jpg")).body)  # the cache goes on
    finally:
        proxy.stop()
