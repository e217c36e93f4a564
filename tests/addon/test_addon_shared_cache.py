"""The shared cache (wink_cache_url) against a real redis-server: the option's parser, sealed entries
with their TTL, claims, an outage and the return, TLS. The fleet of real mitmdumps: test_addon_fleet.py."""

from __future__ import annotations

import logging
import time

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons

from proxy_addon import shared_cache
from proxy_addon.options import WinkOptions
from proxy_addon.shared_cache import CLAIM_MS, PREFIX, SharedResultCache, parse_cache_url
from testkit.harness import RedisServer, temp_workdir


@pytest.mark.parametrize(
    "url",
    ["redis://cache.lan:6379/2", "rediss://:s3cret@cache.lan/0", "redis://user:s3cret@127.0.0.1", "unix:///run/r.sock"],
)
def test_shared_cache_urls_that_parse(url):
    assert parse_cache_url(url) == url
    assert parse_cache_url("") == ""


@pytest.mark.parametrize(
    "url", ["http://:s3cret@cache.lan/", "redis://:s3cret@cache.lan:port/", "redis://:s3cret@/0", "redis://:s3cret@h/x"]
)
def test_shared_cache_bad_urls_are_one_sentence_without_the_url(url):
    with pytest.raises(ValueError) as raised:
        parse_cache_url(url)
    assert "s3cret" not in str(raised.value) and "wink_cache_url" in str(raised.value)
    options = WinkOptions()
    with taddons.context(options) as tctx, pytest.raises(exceptions.OptionsError) as refused:
        tctx.configure(options, wink_cache_url=url)
    assert "s3cret" not in str(refused.value)


@pytest.fixture
def store(redis_server):
    redis_server.client().flushdb()
    cache = SharedResultCache(redis_server.url, ttl_hours=2)
    yield cache
    cache.close()


def test_shared_cache_entries_are_sealed_and_expire(store, redis_server):
    assert store.get("k:tag:site") is None
    store.put("k:tag:site", b"animation")
    store.put("n:tag:site", b"")  # nothing to do: a negative entry
    assert store.get("k:tag:site") == b"animation" and store.get("n:tag:site") == b""
    client = redis_server.client()
    assert 0 < client.pttl(PREFIX + "k:tag:site") <= 2 * 3_600_000
    client.setrange(PREFIX + "k:tag:site", 20, b"\0\0\0")  # damaged in the store
    assert store.get("k:tag:site") is None and store.damaged == 1
    assert not client.exists(PREFIX + "k:tag:site")  # deleted: worked out again, never served
    deadline = time.monotonic() + 5  # read in a thread: the status page never waits for Redis
    while store.stats()[1] != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    size, entries = store.stats()
    assert size > 0 and entries == 1


def test_shared_cache_claims(store, redis_server):
    first = store.claim("k")
    assert first.mine and first.token
    assert not store.claim("k").mine  # another proxy asking now waits
    assert 0 < redis_server.client().pttl(f"{PREFIX}claim:k") <= CLAIM_MS  # expires if we die
    store.release("k", "not-our-token")
    assert not store.claim("k").mine
    store.release("k", first.token)
    assert store.claim("k").mine


def test_shared_cache_outage_is_no_cache_logged_once(redis_server, caplog, monkeypatch):
    monkeypatch.setattr(shared_cache, "RETRY_SECONDS", 0.2)
    server = RedisServer(temp_workdir("wink-redis-outage-"))
    store = SharedResultCache(server.url, ttl_hours=1)
    try:
        store.put("k", b"x")
        server.kill()
        with caplog.at_level(logging.WARNING):
            started = time.monotonic()
            for _ in range(20):
                assert store.get("k") is None
                store.put("k", b"y")
                assert store.claim("k").mine  # work alone
            assert time.monotonic() - started < 2  # never a long block: short timeouts, then not asked
            assert not store.enabled
            server.start()
            deadline = time.monotonic() + 5
            while store.get("k") is None and time.monotonic() < deadline:
                store.put("k", b"back")
                time.sleep(0.05)
        assert store.get("k") == b"back" and store.enabled
        outages = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
        assert len(outages) == 1
        assert "reachable again" in caplog.text
        assert server.password not in caplog.text and str(server.port) not in caplog.text
    finally:
        store.close()
        server.stop()


def test_shared_cache_over_tls(tmp_path, redis_server):  # redis_server: skipped or failed without one
    server = RedisServer(temp_workdir("wink-redis-tls-"), tls_dir=tmp_path)
    store = SharedResultCache(server.url, ttl_hours=1)
    try:
        assert server.url.startswith("rediss://")
        store.put("k", b"over tls")
        assert store.get("k") == b"over tls" and store.enabled
    finally:
        store.close()
        server.stop()
