"""A mitmproxy script for benchmarks/pageload_bench.py --timeline: when each image's request came,
when the site's last byte arrived, and when the response left the proxy.

Loaded after the wink add-on (`-s proxy_addon/wink.py -s benchmarks/timeline_addon.py`), its response
hook runs once wink's is done, so "left" includes the hold; loaded alone it times a bare mitmdump.
It writes one JSON line per image to $WINK_TIMELINE_DIR/timeline-<listen port>.jsonl: the paths of the
benchmark's own generated pages, nothing from real browsing. It is a measuring tool, never part of
the product.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import IO

from mitmproxy import ctx, http

REQUESTED = "timeline_requested"


class Timeline:
    def __init__(self) -> None:
        self._out: IO[str] | None = None

    def running(self) -> None:
        folder = os.environ.get("WINK_TIMELINE_DIR")
        if folder:
            self._out = (Path(folder) / f"timeline-{ctx.options.listen_port}.jsonl").open("a")

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        flow.metadata[REQUESTED] = time.time()

    def response(self, flow: http.HTTPFlow) -> None:
        if self._out is None or flow.response is None or REQUESTED not in flow.metadata:
            return
        row = {
            "path": flow.request.path,
            "requested": flow.metadata[REQUESTED],
            "site_done": flow.response.timestamp_end,
            "left": time.time(),
            "http2": flow.request.http_version == "HTTP/2.0",
        }
        self._out.write(json.dumps(row) + "\n")
        self._out.flush()

    def done(self) -> None:
        if self._out is not None:
            self._out.close()


addons = [Timeline()]
