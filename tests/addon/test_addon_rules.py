"""The rules of issue 12 as pure helpers: what may be touched, the cache partition, the cache's
digests, the pairing secret, the watchdog's view of a stopped process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from proxy_addon import gate, pairing, pool, privacy
from proxy_addon.cache import ResultCache, seal, unseal
from testkit.harness import WEBP_ACCEPT

IMAGE = {"sec-fetch-dest": "image", "accept": WEBP_ACCEPT}


@pytest.mark.parametrize(
    ("method", "headers", "wanted"),
    [
        ("GET", IMAGE, True),
        ("HEAD", IMAGE, True),
        ("POST", IMAGE, False),
        ("GET", {"sec-fetch-dest": "empty", "accept": "*/*"}, False),  # fetch() from a script
        ("GET", {"sec-fetch-dest": "empty", "accept": WEBP_ACCEPT}, False),  # Fetch Metadata wins
        ("GET", {"sec-fetch-dest": "document", "accept": "text/html,image/webp,*/*"}, False),
        ("GET", {"accept": WEBP_ACCEPT}, True),  # plain HTTP: no Fetch Metadata, Accept names images
        ("GET", {"accept": "image/*"}, True),
        ("GET", {"accept": "*/*"}, False),
        ("GET", {}, False),
        ("GET", {**IMAGE, "cache-control": "no-transform"}, False),
    ],
)
def test_gate_wants_image(method, headers, wanted):
    assert gate.wants_image(method, headers) is wanted


@pytest.mark.parametrize(
    ("status", "headers", "refused"),
    [
        (200, {"content-type": "image/jpeg"}, None),
        (200, {}, None),
        (206, {"content-type": "image/jpeg"}, "not a 200"),
        (200, {"content-type": "application/octet-stream"}, "not an image type"),
        (200, {"content-type": "text/plain", "x-content-type-options": "nosniff"}, "not an image type"),
        (200, {"content-type": "image/jpeg", "content-disposition": 'attachment; filename="p.jpg"'}, "a download"),
        (200, {"content-type": "image/jpeg", "cache-control": "max-age=60, no-transform"}, "no-transform"),
        (200, {"content-type": "image/jpeg", "content-length": str(17 * 2**20)}, "too large"),
    ],
)
def test_gate_refusal(status, headers, refused):
    assert gate.refusal(status, headers, 16 * 2**20) == refused


@pytest.mark.parametrize(
    ("headers", "site"),
    [
        ({"origin": "https://a.example.co.uk"}, "https://example.co.uk"),
        ({"referer": "https://www.news.example.com/article?id=1"}, "https://example.com"),
        ({"referer": "http://127.0.0.1:8000/page.html"}, "http://127.0.0.1"),
        ({"origin": "null", "referer": "https://b.example.org/x"}, "https://example.org"),
        ({}, privacy.NO_PAGE),
    ],
)
def test_privacy_page_site(headers, site):
    assert privacy.page_site(headers) == site


def test_cache_digest_and_damage(tmp_path):
    assert unseal(seal(b"abc")) == b"abc" and unseal(seal(b"")) == b""
    assert unseal(b"short") is None
    cache = ResultCache(str(tmp_path / "cache"), 10)
    value = os.urandom(200_000)  # big enough for diskcache to keep it in a file of its own
    cache.put("k", value)
    assert cache.get("k") == value
    (stored,) = [p for p in (tmp_path / "cache").rglob("*.val")]
    with open(stored, "r+b") as file:
        file.seek(5000)
        file.write(b"\0" * 400)
    assert cache.get("k") is None and cache.damaged == 1
    assert cache.get("k") is None  # deleted, not damaged twice
    assert cache.damaged == 1
    mode = (tmp_path / "cache").stat().st_mode & 0o777
    assert mode == 0o700


def test_cache_full_disk_and_deleted_folder(tmp_path, monkeypatch):
    cache = ResultCache(str(tmp_path / "cache"), 10)
    real_set = cache._cache.set

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache._cache, "set", full)
    cache.put("k", b"value")  # lost, but the cache goes on
    assert cache.enabled and cache.get("k") is None
    monkeypatch.setattr(cache._cache, "set", real_set)
    cache.put("k", b"value")
    assert cache.get("k") == b"value"
    import shutil

    shutil.rmtree(tmp_path / "cache")
    cache.put("j", b"again")
    assert cache.enabled and cache.get("j") == b"again" and (tmp_path / "cache").is_dir()


def test_cache_folder_deleted_before_a_thread_first_reads(tmp_path):
    """The proxy reads its cache from worker threads: a thread that has no database connection yet,
    reading after the folder was deleted, finds a miss and the cache made again, not turned off."""
    import shutil
    import threading

    cache = ResultCache(str(tmp_path / "cache"), 10)
    cache.put("k", b"value")
    shutil.rmtree(tmp_path / "cache")
    read: list[bytes | None] = []
    thread = threading.Thread(target=lambda: read.append(cache.get("k")))
    thread.start()
    thread.join()
    assert read == [None] and cache.enabled and (tmp_path / "cache").is_dir()
    cache.put("k", b"again")
    assert cache.get("k") == b"again"


def test_pairing_once_and_private(tmp_path):
    path = tmp_path / "confdir" / pairing.FILE_NAME
    first = pairing.Pairing(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert not first.check(None) and not first.check("guess") and first.check(first.secret)
    secret = first.pair()
    with pytest.raises(pairing.AlreadyPaired):
        first.pair()
    again = pairing.Pairing(path)  # a restart keeps the secret and that it was handed out
    assert again.secret == secret and again.paired


def test_pool_sees_a_stopped_process():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not pool.stopped(child.pid)
        os.kill(child.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while not pool.stopped(child.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.stopped(child.pid)
    finally:
        os.kill(child.pid, signal.SIGCONT)
        child.kill()
        child.wait()
    assert pool.stopped(2**22 + 7) is False  # no such process


def test_pool_limits_scale_with_the_deadline():
    settings = pool.PoolSettings(1, "zeman", "wink", deadline=3.0)
    assert settings.stall_limit == 1.5 and settings.job_limit == 15.0
