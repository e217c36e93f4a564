"""Several real mitmdumps sharing one real Redis (wink_cache_url): the work is done once for the fleet,
and a Redis killed under load costs no page and no image. Also mitmproxy's proxyauth on a shared proxy."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from testkit.harness import WEBP_ACCEPT, Client, Mitmdump, Origin, Route, fetch_all, temp_workdir

IMAGE = {"accept": WEBP_ACCEPT}
#: Target photos in the load (half from each of two different photos of Zeman), each asked by both proxies.
TARGETS = 6
#: Photos without a face in the load.
PLAIN = 16
#: Seconds within which a restarted Redis is used again (the issue's bar).
BACK_WITHIN = 5.0


def jpeg(image: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def plain(index: int) -> bytes:
    """A photo without a face, different for every index."""
    return jpeg(Image.new("RGB", (320 + index, 240), ((37 * index) % 256, (91 * index) % 256, 120)))


def thumbnail(body: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(body)) as image:
        image.seek(0)
        return np.asarray(image.convert("L").resize((48, 48)), dtype=np.float32)


def frames(body: bytes) -> int:
    """Frames of a fully decodable image; 0 when it is corrupt."""
    try:
        with Image.open(io.BytesIO(body)) as image:
            count = getattr(image, "n_frames", 1)
            for index in range(count):
                image.seek(index)
                image.load()
            return count
    except Exception:
        return 0


@pytest.fixture(scope="module")
def photos(fixtures: Path) -> dict[str, bytes]:
    sources = [Image.open(fixtures / "faces" / "zeman" / f"zeman_{n}.jpg").convert("RGB") for n in (1, 2)]
    table = {f"/target_{i}.jpg": jpeg(sources[i % 2], 90 - i) for i in range(TARGETS + 2)}
    table |= {f"/plain_{i}.jpg": plain(i) for i in range(PLAIN + 40)}
    return table


@pytest.fixture(scope="module")
def origin(photos):
    server = Origin({path: Route(body, "image/jpeg") for path, body in photos.items()})
    yield server
    server.close()


@pytest.fixture(scope="module")
def fleet(redis_server):
    """Two proxies, one worker each, sharing the session's Redis through a URL with its password."""
    url = redis_server.empty_db_url(0)
    proxies = [Mitmdump(temp_workdir(), wink_timeout=30, wink_workers=1, wink_cache_url=url)]
    proxies.append(Mitmdump(temp_workdir(), wink_timeout=30, wink_workers=1, wink_cache_url=url))
    try:
        for proxy in proxies:
            proxy.wait_ready()
        yield proxies
    finally:
        for proxy in proxies:
            proxy.stop()
        for proxy in proxies:  # the URL holds a password: it never reaches the console
            assert redis_server.password not in proxy.log() and "redis://" not in proxy.log()


def made(proxies: list[Mitmdump]) -> int:
    """Animations the proxies' workers made (the status page's count of animation steps run)."""
    return sum(proxy.status()["counts"]["animations_made"] for proxy in proxies)


def test_fleet_animates_once_and_shares_it(fleet, origin):
    one, other = fleet
    before = made(fleet)
    first = one.client.get(origin.url("/target_0.jpg"), **IMAGE)
    assert first.headers["content-type"] == "image/webp" and frames(first.body) > 3
    cached = other.status()["counts"]["cached"]
    deadline = time.monotonic() + 10  # the entry is written once the response is on its way
    while other.status()["counts"]["cached"] == cached and time.monotonic() < deadline:
        reply = other.client.get(origin.url("/target_0.jpg"), **IMAGE)
    assert other.status()["counts"]["cached"] == cached + 1
    assert reply.body == first.body  # the very bytes made through the first proxy
    assert made(fleet) == before + 1

    # both asked for a new photo at the same moment: one animates it, the other waits for its result
    before = made(fleet)
    replies: dict[int, bytes] = {}
    start = threading.Barrier(2)

    def ask(index: int) -> None:
        client = Client(fleet[index].port, fleet[index].ca)
        start.wait()
        replies[index] = client.get(origin.url("/target_1.jpg"), **IMAGE).body
        client.close()

    threads = [threading.Thread(target=ask, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert all(frames(replies[index]) > 3 for index in (0, 1))
    assert replies[0] == replies[1]
    assert made(fleet) == before + 1


def test_fleet_redis_killed_under_load(fleet, origin, photos, redis_server):
    urls = [origin.url(f"/target_{i}.jpg") for i in range(2, 2 + TARGETS)]
    urls += [origin.url(f"/plain_{i}.jpg") for i in range(PLAIN)]
    results: dict[int, list] = {}

    def load(index: int) -> None:
        proxy = fleet[index]
        results[index] = fetch_all(proxy.port, proxy.ca, urls if index == 0 else urls[::-1], in_flight=4)

    loads = [threading.Thread(target=load, args=(index,)) for index in (0, 1)]
    for thread in loads:
        thread.start()
    deadline = time.monotonic() + 60
    while sum(proxy.status()["counts"]["seen"] for proxy in fleet) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    redis_server.kill()
    assert any(thread.is_alive() for thread in loads)  # killed in the middle of the load
    try:
        deadline = time.monotonic() + 60
        seen = sum(proxy.status()["counts"]["seen"] for proxy in fleet)
        while sum(proxy.status()["counts"]["seen"] for proxy in fleet) < seen + 6 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        redis_server.start()
    restarted = time.monotonic()
    back = served_again(fleet, origin)
    print(f"served from Redis again {back - restarted:.2f} s after its restart")  # shown with pytest -s
    assert back - restarted <= BACK_WITHIN, f"served from Redis {back - restarted:.1f} s after its restart"
    for thread in loads:
        thread.join(180)
    sources = {path: thumbnail(body) for path, body in photos.items()}
    for index in (0, 1):
        order = urls if index == 0 else urls[::-1]
        assert len(results[index]) == len(order)
        for url, reply in zip(order, results[index], strict=True):
            path = url[url.index("/", 8) :]
            assert reply is not None and reply.status == 200, url  # no failed load
            assert reply.body == photos[path] or frames(reply.body) > 3, url  # never a corrupted image
            if reply.body != photos[path]:  # an animation of this photo, not of another one
                shown = thumbnail(reply.body)
                nearest = min(sources, key=lambda other: float(np.abs(sources[other] - shown).mean()))
                assert (
                    photos[nearest] == photos[path]
                    or nearest.startswith("/target_")
                    and (int(nearest[8:-4]) % 2 == int(path[8:-4]) % 2)
                ), (url, nearest)
    for proxy in fleet:
        assert proxy.log().count("shared cache cannot be reached") == 1  # once for the outage


def served_again(fleet: list[Mitmdump], origin: Origin) -> float:
    """When a result one proxy stored after the restart was first served from Redis through the other."""
    one, other = fleet
    for index in range(PLAIN, PLAIN + 40):
        url = origin.url(f"/plain_{index}.jpg")
        one.client.get(url, **IMAGE)
        cached = other.status()["counts"]["cached"]
        other.client.get(url, **IMAGE)
        if other.status()["counts"]["cached"] > cached:
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError("the restarted Redis was not used again")


def test_fleet_proxyauth_keeps_the_control_api_paired(tmp_path):
    """With proxyauth (one login per person), every request needs a login, and a login alone does not
    open the control API: it still answers changes only to the paired extension's secret."""
    proxy = Mitmdump(temp_workdir(), wink_enabled="false", proxyauth="alice:wonderland")
    login = {"proxy-authorization": "Basic " + base64.b64encode(b"alice:wonderland").decode()}
    try:
        deadline = time.monotonic() + 60
        while not proxy.ca.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        status = None
        while time.monotonic() < deadline:
            try:
                status = proxy.client.request("GET", "http://wink.proxy/api/status")
                break
            except OSError:
                time.sleep(0.1)
        assert status is not None and status.status == 407  # no login: mitmproxy asks for one
        read = proxy.client.request("GET", "http://wink.proxy/api/status", headers=login)
        assert read.status == 200 and json.loads(read.body)["enabled"] is False
        change = json.dumps({"enabled": True}).encode()
        json_type = {"content-type": "application/json"}
        stranger = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
        for headers in ({**login, **json_type}, {**login, **json_type, "origin": stranger}):
            assert proxy.client.request("POST", "http://wink.proxy/api/enabled", change, headers).status in (401, 403)
        secret = {**login, **json_type, "x-wink-secret": proxy.secret()}
        assert proxy.client.request("POST", "http://wink.proxy/api/enabled", change, {**secret}).status == 200
        assert proxy.client.request("POST", "http://wink.proxy/api/enabled", change, {**json_type}).status == 407
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as tunnel:  # nor a tunnel to it
            tunnel.sendall(b"CONNECT wink.proxy:443 HTTP/1.1\r\nHost: wink.proxy:443\r\n\r\n")
            assert tunnel.recv(64).split(b" ")[1] == b"407"
    finally:
        proxy.stop()
