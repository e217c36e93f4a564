"""The add-on that speaks HTTP/2 to the browser, also where the site speaks HTTP/1.1.

The add-on holds an image response while it looks for faces. Over HTTP/1.1 a held response holds its
whole connection, and a browser opens at most six to a site: a page's face-free photos then wait in
the browser, behind the photos of people being identified, before the proxy even sees them (on the
page-load benchmark they came 0.8 s late while the add-on answered them in 70 ms). Over HTTP/2 each
image is a stream of one connection, and nothing waits behind a held one. mitmproxy translates
HTTP/2 from the browser to HTTP/1.1 upstream; it offers the browser HTTP/2 before knowing what the
site speaks only with `connection_strategy=lazy` (eager mirrors the site's protocol), so that is set
while `wink_http2` is on. `--set wink_http2=false` leaves mitmproxy's own choice alone.
"""

from __future__ import annotations

from mitmproxy import ctx
from mitmproxy.addonmanager import Loader


class Multiplex:
    def load(self, loader: Loader) -> None:
        loader.add_option(
            "wink_http2",
            bool,
            True,
            "Speak HTTP/2 to the browser also for HTTP/1.1 sites (sets connection_strategy=lazy), so an "
            "image held for a look at its faces never holds up the page's other images.",
        )

    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        if "connection_strategy" not in opts or "http2" not in opts:  # no proxy server (start-up checks, tests)
            return
        wanted = opts.wink_http2 and opts.http2 and opts.connection_strategy != "lazy"
        if wanted and {"wink_http2", "connection_strategy", "http2"} & updated:
            opts.update(connection_strategy="lazy")
