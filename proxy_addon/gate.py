"""Which responses the add-on may touch at all: GET answers with status 200 to a request for an image.

Everything else streams through byte-identical, unread, the moment its headers arrive: downloads,
`nosniff` text, the answers to POSTs, data a script fetches, bodies marked `no-transform` (RFC 9110
§7.7: a proxy MUST NOT transform them) and bodies over `wink_max_body`. The rules are pure functions of
headers, so they are easy to read and to test; the `Gate` add-on applies them.

A HEAD for an image is sent upstream as a GET and answered with the headers that GET gets from us,
without the body, so HEAD and GET never disagree about what the image is.
"""

from __future__ import annotations

from collections.abc import Mapping

from mitmproxy import ctx, http

from proxy_addon import control_api
from proxy_addon.sites import SitesOff

#: flow.metadata keys: the response may be animated; the client asked HEAD (we asked GET).
CANDIDATE = "wink_candidate"
ASKED_HEAD = "wink_head"


def _tokens(value: str) -> list[str]:
    return [part.split(";", 1)[0].split("=", 1)[0].strip().lower() for part in value.split(",")]


def names_image(accept: str) -> bool:
    """True when an Accept header names an image type (image/webp, image/*): what browsers send for
    <img> where they send no Fetch Metadata. A bare */* (fetch(), XHR, curl) is no image request."""
    return any(token.startswith("image/") for token in _tokens(accept))


def wants_image(method: str, headers: Mapping[str, str]) -> bool:
    """A GET (or HEAD) for an image: `Sec-Fetch-Dest: image` where the browser sends Fetch Metadata
    (HTTPS and localhost origins), else an Accept that names image types (plain HTTP, older Safari)."""
    if method.upper() not in ("GET", "HEAD"):
        return False
    if "no-transform" in _tokens(headers.get("cache-control", "")):
        return False
    dest = headers.get("sec-fetch-dest")
    if dest is not None:
        return dest.strip().lower() == "image"
    return names_image(headers.get("accept", ""))


def refusal(status: int, headers: Mapping[str, str], max_body: int) -> str | None:
    """Why a response to an image request must pass untouched, or None when it may be animated."""
    if status != 200:
        return "not a 200"
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type and not content_type.startswith("image/"):
        return "not an image type"
    if "attachment" in _tokens(headers.get("content-disposition", "")):
        return "a download"
    if "no-transform" in _tokens(headers.get("cache-control", "")):
        return "no-transform"
    if "content-range" in headers:
        return "a range"
    length = headers.get("content-length", "").strip()
    if length.isdigit() and int(length) > max_body:
        return "too large"
    return None


def drop_body(_: bytes) -> bytes:
    """The stream filter for a HEAD we asked as GET: the client must get no body bytes."""
    return b""


class Gate:
    """Marks the responses the Animate add-on may look at; streams every other one through unread,
    also every response to a page of a site switched off (proxy_addon.sites), as if the proxy were off."""

    def __init__(self, sites_off: SitesOff) -> None:
        self.sites_off = sites_off

    def request(self, flow: http.HTTPFlow) -> None:
        request = flow.request
        if flow.response is not None or not ctx.options.wink_enabled or control_api.is_control_host(request.host):
            return
        if self.sites_off.covers(request.headers):
            return
        if request.method.upper() == "HEAD" and wants_image("HEAD", request.headers):
            flow.metadata[ASKED_HEAD] = True
            request.method = "GET"

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        if response is None or control_api.is_control_host(flow.request.host):
            return
        request = flow.request
        touchable = (
            ctx.options.wink_enabled
            and request.method.upper() == "GET"
            and wants_image("GET", request.headers)
            and refusal(response.status_code, response.headers, ctx.options.wink_max_body * 1024 * 1024) is None
            and not self.sites_off.covers(request.headers)
        )
        if touchable:
            flow.metadata[CANDIDATE] = True
        elif response.status_code < 200 or response.status_code in (204, 304):
            return  # no body to stream (101 hands the connection over to WebSocket)
        elif flow.metadata.get(ASKED_HEAD):
            request.method = "HEAD"
            response.stream = drop_body
        else:
            response.stream = True

    def response(self, flow: http.HTTPFlow) -> None:
        """Last in line: a HEAD we asked as GET gets the headers of our GET answer, and no body."""
        if not flow.metadata.get(ASKED_HEAD) or flow.response is None:
            return
        flow.request.method = "HEAD"
        response = flow.response
        if response.stream or response.status_code < 200 or response.status_code in (204, 304):
            return
        length = len(response.raw_content or b"")
        response.raw_content = b""
        if "transfer-encoding" not in response.headers:
            response.headers["content-length"] = str(length)
