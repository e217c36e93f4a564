"""The control host `wink.proxy`: a status page and a small JSON API, answered inside the proxy.

Pure request -> response logic, kept apart from the add-on so it is easy to read and to test. The
security rules live here too:
- CORS headers only for our own extension's origin (in Chromium its ID is pinned by the manifest's
  `key`; in Firefox the moz-extension origin that paired, proxy_addon.pairing), so neither a web page
  nor another extension can read the proxy's state;
- state changes only by POST with a JSON body, from no origin or ours, carrying the per-install
  secret (`X-Wink-Secret`, proxy_addon.pairing): other local processes and other extensions are out;
- the secret is handed out once, to our extension's origin (`POST /api/pair`);
- the sites switched off (proxy_addon.sites) are read and changed only with the secret;
- nothing revealed names a file or a process.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

CONTROL_HOST = "wink.proxy"
#: The ID Chromium derives from chrome_extension/manifest.json's `key` (any other origin is a stranger).
EXTENSION_ID = "ehmbnbkmnkeaigdhbipiglolfmiekfke"
SECRET_HEADER = "x-wink-secret"
#: The origin Firefox gives an installed extension: a random UUID per install, not its gecko ID.
FIREFOX_ORIGIN = re.compile(r"^moz-extension://[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _no_firefox() -> str | None:
    return None


def _no_sites(host: str, off: bool | None) -> dict[str, Any]:
    raise ValueError("This proxy keeps no list of sites.")


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class ControlError(Exception):
    """A request the API refuses; str() is the sentence sent back as {"error": ...}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Handlers:
    """What the add-on lends the control API: read the state, change it (raising ValueError if refused)."""

    status: Callable[[], dict[str, Any]]
    presets: Callable[[], dict[str, Any]]
    set_preset: Callable[[str], None]
    set_enabled: Callable[[bool], None]
    secret_ok: Callable[[str | None], bool]
    pair: Callable[[str | None], str]  # given a Firefox origin to remember; LookupError once handed out
    extension_id: str = EXTENSION_ID
    firefox_origin: Callable[[], str | None] = _no_firefox  # the moz-extension origin that paired
    sites: Callable[[], list[str]] = list  # the sites switched off
    #: host, off (None: only ask) -> {"site", "off"}; ValueError for a host that is none.
    switch_site: Callable[[str, bool | None], dict[str, Any]] = _no_sites


def is_control_host(host: str) -> bool:
    return host.lower().rstrip(".") == CONTROL_HOST


def host_agrees(host_header: str | None) -> bool:
    """A request whose target is the control host must not say it is for another host."""
    if host_header is None:
        return True
    name = host_header.strip().lower()
    if name.startswith("["):
        return False
    return is_control_host(name.rsplit(":", 1)[0] if ":" in name else name)


def _ours(origin: str | None, api: Handlers) -> TypeGuard[str]:
    return origin is not None and origin in (f"chrome-extension://{api.extension_id}", api.firefox_origin())


def _cors(origin: str | None, api: Handlers) -> dict[str, str]:
    """Echo the origin only for our extension; anyone else gets nothing, so cannot read replies."""
    if _ours(origin, api):
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {"Vary": "Origin"}


def _json(status: int, value: Any) -> Reply:
    return Reply(
        status,
        json.dumps(value, indent=1).encode() + b"\n",
        {"Content-Type": "application/json", "Cache-Control": "no-store"},
    )


def handle(method: str, path: str, headers: Mapping[str, str], body: bytes, api: Handlers) -> Reply:
    """Answer one request to the control host."""
    origin = headers.get("origin")
    try:
        reply = _route(method.upper(), path.split("?", 1)[0], headers, body, api)
    except ControlError as error:
        reply = _json(error.status, {"error": str(error)})
    reply.headers.update(_cors(origin, api))
    reply.headers.setdefault("X-Content-Type-Options", "nosniff")
    return reply


def _route(method: str, path: str, headers: Mapping[str, str], body: bytes, api: Handlers) -> Reply:
    if method == "OPTIONS":
        return _preflight(headers.get("origin"), api)
    if path in ("/", "/index.html"):
        _only(method, "GET", "HEAD")
        return _page(api.status(), api.sites())
    if path == "/api/status":
        _only(method, "GET", "HEAD")
        return _json(200, api.status())
    if path == "/api/presets":
        _only(method, "GET", "HEAD")
        return _json(200, api.presets())
    if path == "/api/pair":
        _only(method, "POST")
        origin = headers.get("origin")
        firefox = origin is not None and FIREFOX_ORIGIN.match(origin) is not None
        if not (_ours(origin, api) or firefox):
            raise ControlError(403, "Only the wink browser extension may pair with the proxy.")
        try:
            return _json(200, {"secret": api.pair(origin if firefox else None)})
        except LookupError as error:
            raise ControlError(
                409,
                "The proxy is already paired with a wink extension. To pair again, delete "
                "wink-control.json in the proxy's confdir and restart the proxy.",
            ) from error
    if path == "/api/preset":
        value = _state_change(method, headers, body, "preset", str, api)
        try:
            api.set_preset(value)
        except ValueError as error:
            raise ControlError(400, str(error)) from error
        return _json(200, api.status())
    if path == "/api/enabled":
        api.set_enabled(_state_change(method, headers, body, "enabled", bool, api))
        return _json(200, api.status())
    if path == "/api/sites":
        return _sites(method, headers, body, api)
    raise ControlError(404, f"Nothing at {path}; try / or /api/status.")


def _only(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise ControlError(405, f"Use {' or '.join(allowed)} here.")


def _preflight(origin: str | None, api: Handlers) -> Reply:
    """Allow our extension's JSON POSTs; anyone else gets a bare 204 the browser treats as a refusal."""
    reply = Reply(204, b"")
    if _ours(origin, api):
        reply.headers.update(
            {
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type, X-Wink-Secret",
                "Access-Control-Max-Age": "600",
            }
        )
    return reply


def _sites(method: str, headers: Mapping[str, str], body: bytes, api: Handlers) -> Reply:
    """GET: the sites switched off. POST {"host", "off"}: switch the site of that host off or on
    (without "off": only ask whether it is off). Both need the secret, like every change."""
    if method in ("GET", "HEAD"):
        _authorised(headers, api)
        return _json(200, {"sites": api.sites()})
    data = _json_object(method, headers, body, api, "host")
    host, off = data.get("host"), data.get("off")
    if not isinstance(host, str) or not (off is None or isinstance(off, bool)):
        raise ControlError(400, 'Send {"host": "www.example.com", "off": true or false}.')
    try:
        answer = api.switch_site(host, off)
    except ValueError as error:
        raise ControlError(400, str(error)) from error
    return _json(200, {**answer, "sites": api.sites()})


def _state_change(method: str, headers: Mapping[str, str], body: bytes, key: str, kind: type, api: Handlers) -> Any:
    """The one value a state-changing request carries, after every check that keeps web pages, other
    extensions and other local processes out."""
    value = _json_object(method, headers, body, api, key)[key]
    if not isinstance(value, kind):
        raise ControlError(400, f'"{key}" must be a {"boolean" if kind is bool else "string"}.')
    return value


def _authorised(headers: Mapping[str, str], api: Handlers) -> None:
    """From no origin (a local script) or ours, with the secret; else 403 or 401."""
    origin = headers.get("origin")
    if origin is not None and not _ours(origin, api):
        raise ControlError(403, "Only the wink browser extension may change the proxy's state.")
    if not api.secret_ok(headers.get(SECRET_HEADER)):
        raise ControlError(
            401,
            "Send the proxy's secret in X-Wink-Secret (the extension pairs for it; a local script reads "
            "wink-control.json in the proxy's confdir).",
        )


def _json_object(method: str, headers: Mapping[str, str], body: bytes, api: Handlers, key: str) -> dict[str, Any]:
    """The JSON object a POST carries, holding `key`, once the sender is authorised."""
    _only(method, "POST")
    _authorised(headers, api)
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        raise ControlError(415, "Send the change as a JSON body (Content-Type: application/json).")
    try:
        value = json.loads(body or b"null")
    except ValueError:
        value = None
    if not isinstance(value, dict) or key not in value:
        raise ControlError(400, f'The body must be a JSON object like {{"{key}": ...}}.')
    return value


def _row(name: str, value: Any) -> str:
    return f"<tr><th>{html.escape(name)}</th><td>{html.escape(str(value))}</td></tr>"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"


def _queue(queue: dict[str, dict[str, int]] | None) -> str:
    """Steps waiting and running per lane: "look 3/2, identify 1/0, animate 0/0"."""
    if not queue:
        return "–"
    waiting, running = queue["waiting"], queue["running"]
    return ", ".join(f"{lane} {waiting[lane]}/{running[lane]}" for lane in waiting)


def _page(status: dict[str, Any], sites_off: list[str]) -> Reply:
    counts, latency, cache = status["counts"], status["latency_ms"], status["cache"]
    state = "ON" if status["enabled"] else "OFF"
    rows = "".join(
        [
            _row("target", status["target"]),
            _row("preset", status["preset"]),
            _row("format", status["format"]),
            _row("images seen", counts["seen"]),
            _row("animated", counts["animated"]),
            _row("passed through", counts["passed"]),
            _row("failed (original sent)", counts["failed"]),
            _row("from cache", counts["cached"]),
            _row("queue full / timed out", f"{counts['queue_full']} / {counts['timeouts']}"),
            _row("sent while workers warmed up", counts["warming"]),
            _row("added latency p50 / p95", f"{_ms(latency['p50'])} / {_ms(latency['p95'])}"),
            *(
                _row(f"… {kind}: {row['count']} images", f"{_ms(row['p50'])} / {_ms(row['p95'])}")
                for kind, row in status.get("latency_by_kind", {}).items()
                if row["count"]
            ),
            _row("queue: waiting / running", _queue(status.get("queue"))),
            _row("cache", f"{cache['entries']} entries, {cache['bytes'] / 1e6:.1f} MB"),
            _row("workers ready", f"{status['workers']['ready']} of {status['workers']['count']}"),
            _row("workers replaced", status["workers"]["restarts"]),
            _row("pipeline version", status["version"]),
            _row("not on these sites", ", ".join(sites_off) or "none"),
        ]
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>wink proxy: {state}</title>
<style>body{{font:15px system-ui,sans-serif;margin:2em;color:#222}}
h1 b{{color:{"#080" if status["enabled"] else "#a00"}}}
th{{text-align:left;padding:.2em 1.5em .2em 0;font-weight:normal;color:#666}}td{{font-weight:600}}
code{{background:#f3f3f3;padding:.1em .3em}}</style></head>
<body><h1>wink proxy is <b>{state}</b></h1>
<table>{rows}</table>
<p>Every animation is synthetic and marked so in its metadata.
Change settings with the browser extension, or
<code>curl -x 127.0.0.1:8080 -H 'Content-Type: application/json'
-H "X-Wink-Secret: $SECRET" -d '{{"enabled": false}}' http://wink.proxy/api/enabled</code>,
with the secret from <code>wink-control.json</code> in the proxy's confdir.</p>
</body></html>
"""
    return Reply(
        200,
        page.encode(),
        {
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            "X-Frame-Options": "DENY",
        },
    )
