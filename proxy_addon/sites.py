"""The sites switched off ("not on this site"): their pages are left alone; the list is private.

A site here is a registrable domain (eTLD+1, `privacy.site_of`), the same name the result cache is
partitioned by: an image belongs to the site of the page that shows it (`privacy.page_site`: its
Origin, else its Referer), not to the host that serves it. An image on a listed site's page is
passed exactly as with the proxy switched off: the Gate streams it unread, so it costs no look, no
work in the workers and no cache entry.

The list is `wink-sites-off.json` in the confdir (0600, in a 0700 folder), read at start-up and
written on each change. It changes only through the paired control API (proxy_addon.control_api).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path

from mitmproxy import ctx

from proxy_addon.privacy import NO_PAGE, page_site, site_of
from proxy_addon.private_files import write_private_json

logger = logging.getLogger(__name__)

FILE_NAME = "wink-sites-off.json"
#: At most this many sites on the list: one entry per click, so far more than anyone makes.
MAX_SITES = 10_000
#: A host name as a browser's URL parser leaves it (lower-case labels, or an IPv4/bracketed IPv6 address).
_HOST = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*)$")
_MAX_HOST = 253


def site_of_host(host: str) -> str:
    """The site a user means by "this site" when on a page of `host`; ValueError with a sentence if
    `host` is no host name (a URL, a path, spaces)."""
    name = host.strip().lower().rstrip(".")
    if not name or len(name) > _MAX_HOST or not _HOST.match(name):
        raise ValueError(f"{host[:80]!r} is not a web site's host name (such as www.example.com).")
    return site_of(name)


class SiteList:
    """The sites switched off, in memory and in one private file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._sites: set[str] = set()
        if path is not None:
            with contextlib.suppress(OSError, ValueError, TypeError):
                listed = json.loads(path.read_text())["sites"]
                self._sites = {site for site in listed if isinstance(site, str)}

    def __contains__(self, site: object) -> bool:
        return site in self._sites

    def __len__(self) -> int:
        return len(self._sites)

    def sites(self) -> list[str]:
        return sorted(self._sites)

    def switch(self, site: str, off: bool) -> None:
        """Put `site` on the list (off) or take it away; ValueError when the list is full."""
        if off and site not in self._sites and len(self._sites) >= MAX_SITES:
            raise ValueError(f"The list already holds {MAX_SITES} sites; take some off first.")
        before = set(self._sites)
        if off:
            self._sites.add(site)
        else:
            self._sites.discard(site)
        if self._sites != before:
            self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            write_private_json(self.path, {"sites": self.sites()})
        except OSError as error:
            logger.warning("wink: cannot keep the sites switched off in the confdir (%s).", error.strerror)

    def covers(self, headers: Mapping[str, str]) -> bool:
        """Is the page this request comes from on a listed site? (Cheap when the list is empty.)"""
        if not self._sites:
            return False
        page = page_site(headers)
        return page != NO_PAGE and page.split("://", 1)[-1] in self._sites


class SitesOff:
    """The add-on holding the list, read from the confdir the proxy runs with."""

    def __init__(self) -> None:
        self.list = SiteList()

    def configure(self, updated: set[str]) -> None:
        if "confdir" in updated:
            self.list = SiteList(Path(ctx.options.confdir).expanduser() / FILE_NAME)

    def covers(self, headers: Mapping[str, str]) -> bool:
        return self.list.covers(headers)
