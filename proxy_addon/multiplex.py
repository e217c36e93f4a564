"""The add-on that can speak HTTP/2 to the browser also where the site speaks HTTP/1.1: off by default.

mitmproxy's own choice (connection_strategy=eager) mirrors the site: HTTP/2 where the site speaks it
(most image hosts and CDNs), so a held image holds up nothing else there, and HTTP/1.1 where the site
speaks only that. `--set wink_http2=true` offers the browser HTTP/2 before the site's protocol is known
(connection_strategy=lazy), so that over HTTP/1.1 too an image held for its look never holds one of the
browser's six connections. It is off because, while a look and an identification are short, it costs
more than it saves: mitmproxy never reuses an HTTP/1.1 connection to the site for an HTTP/2 client (a
response read until EOF could not be told apart), so every image is a new TCP and TLS connection to the
site, and pages load slower than with the site's own protocol (docs/decisions.md has the page-load
benchmark's figures). It pays only where images are held long enough to fill the six connections.
"""

from __future__ import annotations

from mitmproxy import ctx
from mitmproxy.addonmanager import Loader


class Multiplex:
    def load(self, loader: Loader) -> None:
        loader.add_option(
            "wink_http2",
            bool,
            False,
            "Speak HTTP/2 to the browser also for HTTP/1.1 sites (sets connection_strategy=lazy): an image "
            "held for a look at its faces then holds up no other, but mitmproxy opens a new connection to "
            "the site for every image (off: mitmproxy's own choice, HTTP/2 where the site speaks it).",
        )

    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        if "connection_strategy" not in opts or "http2" not in opts:  # no proxy server (start-up checks, tests)
            return
        wanted = opts.wink_http2 and opts.http2 and opts.connection_strategy != "lazy"
        if wanted and {"wink_http2", "connection_strategy", "http2"} & updated:
            opts.update(connection_strategy="lazy")
