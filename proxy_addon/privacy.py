"""The add-on that keeps what a person browses to themselves, and the cache partition of a request.

- mitmdump prints every URL by default (`flow_detail` 1), and URLs carry signed tokens: we lower the
  default to 0. A `flow_detail` set on the command line to anything but 1 is kept.
- Files the proxy makes (result cache, confdir, CA) are the user's alone: umask 077, confdir 0700.
- The result cache is partitioned by the site of the page that asks (`page_site`), as browsers have
  partitioned theirs since 2020, so a page cannot time whether this browser met an image elsewhere.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from mitmproxy import ctx
from mitmproxy.addonmanager import Loader

#: The partition of requests that name no page (no Referer, no Origin).
NO_PAGE = "-"


def site_of(host: str) -> str:
    """The registrable domain (eTLD+1) of a host; an IP address or a single label stands for itself."""
    host = host.lower().rstrip(".")
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host.strip("[]"))
        return host
    if "." not in host:
        return host
    from publicsuffix2 import get_sld

    return get_sld(host) or host


def page_site(headers: Mapping[str, str]) -> str:
    """The site of the page a request comes from: its Origin, else its Referer, else NO_PAGE."""
    for name in ("origin", "referer"):
        value = headers.get(name, "").strip()
        if not value or value == "null":
            continue
        parts = urlsplit(value)
        if parts.scheme and parts.hostname:
            return f"{parts.scheme}://{site_of(parts.hostname)}"
    return NO_PAGE


class Privacy:
    """Quiet console, private files."""

    def load(self, loader: Loader) -> None:
        os.umask(0o077)  # before any add-on makes a file or folder
        # mitmdump's default: one line with the URL per request (mitmproxy's other tools have no
        # flow_detail, and print nothing).
        if "flow_detail" in ctx.options and ctx.options.flow_detail == 1:
            ctx.options.update(flow_detail=0)

    def running(self) -> None:
        confdir = Path(ctx.options.confdir).expanduser()
        with contextlib.suppress(OSError):
            if confdir.is_dir():
                confdir.chmod(0o700)
