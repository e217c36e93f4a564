"""The add-on that keeps our ETags to ourselves: revalidation requests are untagged before they leave.

A browser revalidating an animation sends back the ETag we made (proxy_addon.etags). The origin must
see its own ETag for an animation the current settings would make again (its 304 then keeps the
browser's copy), and no ETag, date check or range at all for one they would not.
"""

from __future__ import annotations

from mitmproxy import ctx, http

from proxy_addon.etags import ETAG_MARK, our_tags, tagged_etag, untag_if_none_match
from proxy_addon.options import WinkOptions
from proxy_addon.rewrite import FRESHNESS
from proxy_addon.sites import SitesOff

#: flow.metadata key: the settings tag of the animation a revalidation kept (its 304 is re-tagged).
KEPT_TAG = "wink_kept_tag"


class Revalidation:
    def __init__(self, options: WinkOptions, sites_off: SitesOff) -> None:
        self.options, self.sites_off = options, sites_off

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:  # answered in the proxy (the control host): nothing goes upstream
            return
        headers = flow.request.headers
        inm, if_range = headers.get("if-none-match", ""), headers.get("if-range", "")
        if ETAG_MARK not in inm and ETAG_MARK not in if_range:
            return
        tag = None
        if ctx.options.wink_enabled and not self.sites_off.covers(headers):
            # The tag these settings give this client: the one it holds, if either.
            tags = [choice.tag for choice in self.options.choices(headers.get("accept", ""))]
            held = [ours for ours in our_tags(f"{inm}, {if_range}") if ours in tags]
            tag = held[0] if held else tags[0]
        if ETAG_MARK in if_range:  # a range of our animation: only the whole image makes sense upstream
            headers.pop("if-range")
            headers.pop("range", None)
        if ETAG_MARK in inm:
            value = untag_if_none_match(inm, tag)
            if value is None:
                del headers["if-none-match"]
            else:
                headers["if-none-match"] = value
            if tag is not None and tag in our_tags(inm):
                flow.metadata[KEPT_TAG] = tag
            if any(ours != tag for ours in our_tags(inm)):
                # The browser holds an animation these settings would not make (or the proxy is off):
                # a date check would let the origin answer 304 and keep it, so the image comes in full.
                headers.pop("if-modified-since", None)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        """A 304 for an animation the browser keeps: it updates the stored headers, so it carries our
        ETag and our freshness again, never the origin's max-age."""
        tag, response = flow.metadata.get(KEPT_TAG), flow.response
        if tag is None or response is None or response.status_code != 304:
            return
        headers = response.headers
        headers["etag"] = tagged_etag(headers.get("etag", ""), tag)
        headers["cache-control"] = FRESHNESS
        headers.pop("expires", None)
        headers.pop("age", None)
