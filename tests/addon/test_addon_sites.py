""" "Not on this site" and the Firefox origin: the list, its file, who may read and change it, and
that an image on a listed site's page costs no work, with mitmproxy's own helpers (taddons, tflow)."""

from __future__ import annotations

import json

import pytest
from mitmproxy.test import taddons

from proxy_addon import control_api, sites
from proxy_addon.cache_keeper import Cache
from proxy_addon.control_host import ControlHost
from proxy_addon.gate import CANDIDATE
from tests.addon.test_addon_unit import (
    OURS,
    STRANGER,
    Script,
    animated,
    animated_webp,
    control_flow,
    fake_worker,
    image_bytes,
    image_flow,
)

OUR_FIREFOX = "moz-extension://2f1b8c3e-6a4d-4e2f-9b1a-0c7d5e3f8a21"
OTHER_FIREFOX = "moz-extension://9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
PAGE = "https://evil.example"


@pytest.fixture
def addon(tmp_path):
    with taddons.context() as tctx:
        script = Script(tctx.master)
        tctx.configure(
            script,
            wink_target="any",
            wink_cache_dir=str(tmp_path / "cache"),
            wink_workers=1,
            confdir=str(tmp_path / "confdir"),
        )
        yield script
        script.shut_down()


def call(addon: Script, method: str, path: str, body: bytes = b"", **headers: str):
    flow = control_flow(method, path, body, **headers)
    addon.send_request(flow)
    return flow.response


def change(addon: Script, origin: str | None, secret: str, host: str, off: bool | None = True):
    headers = {"content-type": "application/json", "x-wink-secret": secret}
    if origin is not None:
        headers["origin"] = origin
    body = {"host": host} if off is None else {"host": host, "off": off}
    return call(addon, "POST", "/api/sites", json.dumps(body).encode(), **headers)


# --- the list and its file -----------------------------------------------------------------------


def test_site_list_is_private_and_survives_a_restart(tmp_path):
    path = tmp_path / "confdir" / sites.FILE_NAME
    first = sites.SiteList(path)
    assert len(first) == 0 and not path.exists()
    first.switch("example.co.uk", True)
    first.switch("example.co.uk", True)
    first.switch("wikipedia.org", True)
    first.switch("wikipedia.org", False)
    assert path.stat().st_mode & 0o777 == 0o600
    assert sites.SiteList(path).sites() == ["example.co.uk"]
    path.write_text("{not json")
    assert sites.SiteList(path).sites() == []  # a damaged file: an empty list, and the proxy runs


@pytest.mark.parametrize(
    ("host", "site"),
    [
        ("www.bbc.co.uk", "bbc.co.uk"),
        ("News.BBC.co.uk.", "bbc.co.uk"),
        ("example.com", "example.com"),
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", "localhost"),
    ],
)
def test_site_of_a_host_is_its_registrable_domain(host, site):
    assert sites.site_of_host(host) == site


@pytest.mark.parametrize("host", ["", "https://example.com/", "a b.com", "example.com/path", "x" * 300])
def test_site_of_a_host_refuses_what_is_no_host(host):
    with pytest.raises(ValueError, match="not a web site's host name"):
        sites.site_of_host(host)


def test_the_list_covers_pages_of_the_site_by_origin_or_referer():
    listed = sites.SiteList()
    assert not listed.covers({"referer": "https://www.bbc.co.uk/news"})
    listed.switch("bbc.co.uk", True)
    assert listed.covers({"referer": "https://www.bbc.co.uk/news"})
    assert listed.covers({"referer": "http://bbc.co.uk/"})
    assert listed.covers({"origin": "https://static.bbc.co.uk"})
    assert not listed.covers({"referer": "https://bbc.com/"})
    assert not listed.covers({})  # a request naming no page belongs to no site
    # The page's site counts, not the image's host: the site's own image host on another page winks.
    assert not listed.covers({"referer": "https://example.com/", "host": "ichef.bbc.co.uk"})


# --- who may read and change it --------------------------------------------------------------------


def test_only_the_paired_extension_reads_and_changes_the_list(addon):
    secret = addon.part(ControlHost).pairing.secret
    assert change(addon, OURS, secret, "www.bbc.co.uk").status_code == 200
    # A web page (its fetch carries its Origin) and another extension, even holding the secret.
    for origin in (PAGE, STRANGER, OTHER_FIREFOX):
        refused = change(addon, origin, secret, "www.bbc.co.uk", False)
        assert refused.status_code == 403, origin
        assert "access-control-allow-origin" not in refused.headers
        read = call(addon, "GET", "/api/sites", origin=origin, **{"x-wink-secret": secret})
        assert read.status_code == 403 and "bbc" not in read.text
        assert "access-control-allow-origin" not in call(addon, "GET", "/", origin=origin).headers
    # Without the secret: nobody, our own origin included.
    assert change(addon, OURS, "guess", "example.com").status_code == 401
    assert call(addon, "GET", "/api/sites", origin=OURS).status_code == 401
    assert call(addon, "GET", "/api/sites").status_code == 401
    listed = call(addon, "GET", "/api/sites", origin=OURS, **{"x-wink-secret": secret})
    assert json.loads(listed.content) == {"sites": ["bbc.co.uk"]}
    assert listed.headers["access-control-allow-origin"] == OURS
    # The status page shows it; nothing else in the status does.
    assert b"<th>not on these sites</th><td>bbc.co.uk</td>" in call(addon, "GET", "/").content
    assert b"bbc" not in call(addon, "GET", "/api/status").content


def test_the_site_switch_asks_and_answers(addon):
    secret = addon.part(ControlHost).pairing.secret
    asked = change(addon, OURS, secret, "www.bbc.co.uk", None)
    assert json.loads(asked.content) == {"site": "bbc.co.uk", "off": False, "sites": []}
    off = json.loads(change(addon, OURS, secret, "news.bbc.co.uk").content)
    assert off == {"site": "bbc.co.uk", "off": True, "sites": ["bbc.co.uk"]}
    on = json.loads(change(addon, OURS, secret, "bbc.co.uk", False).content)
    assert on == {"site": "bbc.co.uk", "off": False, "sites": []}
    bad = change(addon, OURS, secret, "https://bbc.co.uk/")
    assert bad.status_code == 400 and "host name" in json.loads(bad.content)["error"]
    wrong = call(
        addon,
        "POST",
        "/api/sites",
        b'{"host": "a.com", "off": "yes"}',
        origin=OURS,
        **{
            "content-type": "application/json",
            "x-wink-secret": secret,
        },
    )
    assert wrong.status_code == 400


def test_firefox_pairs_once_and_its_origin_is_then_the_only_firefox_one(addon, tmp_path):
    assert "access-control-allow-origin" not in call(addon, "GET", "/api/status", origin=OUR_FIREFOX).headers
    assert call(addon, "POST", "/api/pair", b"{}", origin="moz-extension://not-a-uuid").status_code == 403
    paired = call(addon, "POST", "/api/pair", b"{}", origin=OUR_FIREFOX)
    assert paired.status_code == 200 and paired.headers["access-control-allow-origin"] == OUR_FIREFOX
    secret = json.loads(paired.content)["secret"]
    assert call(addon, "POST", "/api/pair", b"{}", origin=OTHER_FIREFOX).status_code == 409
    assert change(addon, OUR_FIREFOX, secret, "example.com").status_code == 200
    assert change(addon, OTHER_FIREFOX, secret, "example.com", False).status_code == 403
    stored = json.loads((tmp_path / "confdir" / "wink-control.json").read_text())
    assert stored["firefox_origin"] == OUR_FIREFOX  # a restart keeps it
    # Chromium's pinned ID is still answered (the same secret, if the user copies the profile over).
    assert call(addon, "GET", "/api/status", origin=OURS).headers["access-control-allow-origin"] == OURS


def test_chromium_pairing_pins_no_firefox_origin(addon):
    assert call(addon, "POST", "/api/pair", b"{}", origin=OURS).status_code == 200
    assert addon.part(ControlHost).pairing.firefox_origin is None
    assert call(addon, "POST", "/api/pair", b"{}", origin=OUR_FIREFOX).status_code == 409
    assert "access-control-allow-origin" not in call(addon, "GET", "/api/status", origin=OUR_FIREFOX).headers


# --- what a listed site costs -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_image_on_a_listed_site_costs_no_look_no_work_no_cache_entry(addon):
    calls = fake_worker(addon, animated(animated_webp()))
    secret = addon.part(ControlHost).pairing.secret
    assert change(addon, OURS, secret, "www.bbc.co.uk").status_code == 200
    jpeg = image_bytes()
    flow = image_flow(jpeg)
    flow.request.headers["referer"] = "https://www.bbc.co.uk/news"
    head = image_flow(b"")
    head.request.method = "HEAD"
    head.request.headers["referer"] = "https://www.bbc.co.uk/news"
    addon.send_request(head)
    assert head.request.method == "HEAD"  # not turned into a GET: nothing of ours happens
    await addon.send_response(flow)
    assert flow.response.stream is True and not flow.metadata.get(CANDIDATE)  # streamed, unread
    assert calls == [] and addon.counts["seen"] == 0
    assert addon.part(Cache).store.stats()[1] == 0
    # Another site's page still winks.
    elsewhere = image_flow(jpeg)
    elsewhere.request.headers["referer"] = "https://example.com/"
    await addon.send_response(elsewhere)
    assert len(calls) == 1 and elsewhere.response.headers["content-type"] == "image/webp"


def test_control_handlers_default_to_no_list():
    api = control_api.Handlers(dict, dict, lambda name: None, lambda on: None, lambda offered: True, str)
    reply = control_api.handle(
        "POST", "/api/sites", {"content-type": "application/json"}, b'{"host": "a.com", "off": true}', api
    )
    assert reply.status == 400
