"""The add-on serving http(s)://wink.proxy/ inside the proxy: status page and JSON API (control_api.py).

Nothing about the control host ever goes upstream: its CONNECT is accepted here, its TLS is made with
the proxy's CA like for any site, and its requests are answered by control_api.handle. A request is for
the control host when its target (the absolute URL, the CONNECT, the SNI) says so, never because of
its Host header alone; and a Host header that names another host is refused.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mitmproxy import ctx, exceptions, http, tls
from mitmproxy.addonmanager import Loader

from pipeline.types import PIPELINE_VERSION
from proxy_addon import control_api
from proxy_addon.cache_keeper import Cache
from proxy_addon.pairing import FILE_NAME, AlreadyPaired, Pairing
from proxy_addon.sites import SitesOff, site_of_host
from proxy_addon.stats import Stats, WorkStatus


class ControlHost:
    def __init__(self, stats: Stats, cache: Cache, work: WorkStatus, sites_off: SitesOff) -> None:
        self.stats, self.cache, self.work = stats, cache, work
        self.sites_off = sites_off
        self.pairing = Pairing()

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "wink_extension_id",
            str,
            control_api.EXTENSION_ID,
            "The only browser extension the control API answers (the ID of chrome_extension/).",
        )

    def configure(self, updated: set[str]) -> None:
        if "confdir" in updated:
            self.pairing = Pairing(Path(ctx.options.confdir).expanduser() / FILE_NAME)

    def http_connect(self, flow: http.HTTPFlow) -> None:
        """https://wink.proxy/: accept the tunnel ourselves, so no upstream connection (or DNS lookup) is
        tried; TLS is then made with the proxy's CA like for any site, and request() answers inside it.
        (The extension checks this way that the browser trusts the CA.)"""
        if control_api.is_control_host(flow.request.host) and flow.response is None:  # None: no 407 (proxyauth)
            now = time.time()
            flow.response = http.Response(
                flow.request.data.http_version, 200, b"Connection established", http.Headers(), b"", None, now, now
            )

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        """No upstream TLS first for the control host: there is no upstream."""
        address = data.context.server.address
        if (
            data.client_hello.sni
            and control_api.is_control_host(data.client_hello.sni)
            or (address and control_api.is_control_host(str(address[0])))
        ):
            data.establish_server_tls_first = False

    def request(self, flow: http.HTTPFlow) -> None:
        request = flow.request
        if not control_api.is_control_host(request.host) or flow.response is not None:  # answered: proxyauth's 407
            return
        if not control_api.host_agrees(request.host_header):
            flow.response = http.Response.make(
                421, b"This request is not for wink.proxy.\n", {"Content-Type": "text/plain"}
            )
            return
        api = control_api.Handlers(
            self.status,
            self.presets,
            self.set_preset,
            self.set_enabled,
            self.pairing.check,
            self._pair,
            ctx.options.wink_extension_id,
            lambda: self.pairing.firefox_origin,
            lambda: self.sites_off.list.sites(),
            self.switch_site,
        )
        reply = control_api.handle(request.method, request.path, request.headers, request.raw_content or b"", api)
        flow.response = http.Response.make(reply.status, b"" if request.method == "HEAD" else reply.body, reply.headers)

    def status(self) -> dict[str, Any]:
        opts = ctx.options
        size, entries = self.cache.store.stats()
        work = self.work.work_state()
        return {
            "enabled": opts.wink_enabled,
            "target": opts.wink_target,
            "preset": opts.wink_preset,
            "format": opts.wink_format,
            "version": PIPELINE_VERSION,
            "counts": dict(self.stats.counts),
            "latency_ms": self.stats.latency(),
            "latency_by_kind": self.stats.latency_by_kind(),
            "queue": {"waiting": work.waiting, "running": work.running},
            "cache": {"bytes": size, "entries": entries, "on": self.cache.store.enabled},
            "workers": {
                "count": opts.wink_workers,
                "ready": work.ready,
                "restarts": work.restarts,
                "hung": work.hung,
            },
        }

    def _pair(self, firefox_origin: str | None) -> str:
        try:
            return self.pairing.pair(firefox_origin)
        except AlreadyPaired as error:
            raise LookupError("already paired") from error

    def presets(self) -> dict[str, Any]:
        from pipeline.presets import list_presets

        return {
            "current": ctx.options.wink_preset,
            "presets": [{"name": p.name, "description": p.description} for p in list_presets()],
        }

    def set_preset(self, name: str) -> None:
        from pipeline.presets import list_presets

        names = [p.name for p in list_presets()]
        if name not in names:
            raise ValueError(f"Unknown preset {name!r}; choose one of {', '.join(names)}.")
        try:
            ctx.options.update(wink_preset=name)
        except exceptions.OptionsError as error:
            raise ValueError(str(error)) from error

    def switch_site(self, host: str, off: bool | None) -> dict[str, Any]:
        """Switch the site of `host` off or on (None: leave it); ValueError for a host that is none."""
        site = site_of_host(host)
        if off is not None:
            self.sites_off.list.switch(site, off)
        return {"site": site, "off": site in self.sites_off.list}

    def set_enabled(self, enabled: bool) -> None:
        ctx.options.update(wink_enabled=enabled)  # the Workers add-on starts the pool when switched on
