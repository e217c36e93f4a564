"""mitmproxy add-on: every photo of the target person winks and smiles; everything else passes untouched.

    uv run mitmdump -s proxy_addon/wink.py --listen-host 127.0.0.1 --set confdir=certs/confdir

This is the script mitmdump loads: it only composes the add-ons, each of one concern, the way
mitmproxy's own `addons/__init__.py` does. A response is held at most `wink_timeout` seconds: past
that the original goes out and the work finishes in the background into the cache. Anything that
goes wrong sends the original bytes. `http://wink.proxy/` (through the proxy) shows the state.

    WinkOptions   the wink_* options, checked by pure parsers (options.py)
    Cache         the result cache, on disk or on Redis, following the wink_cache_* options (cache_keeper.py)
    PoolKeeper    the worker processes, step by step (pool_keeper.py, scheduler.py, pool.py, worker_process.py)
    ControlHost   http(s)://wink.proxy/: status page and JSON API (control_host.py, control_api.py)
    Revalidation  our ETags never reach the origin (revalidate.py, etags.py)
    Animate       sniff -> schedule -> apply (animate.py, bodies.py, scheduler.py, rewrite.py)
    Gate          only GETs for images, answered 200 with an image type; the rest streams (gate.py)
    Privacy       no URLs on the console, private files, the cache partitioned by site (privacy.py)
    SitesOff      "not on this site": the sites whose pages pass untouched (sites.py)
    Multiplex     HTTP/2 to the browser also for HTTP/1.1 sites, when asked (multiplex.py)

Importing this module loads no model and no OpenCV: mitmproxy runs it with a sys.path that the
workers inherit, and the pipeline only loads inside the workers (and their fork server, pool.py).
"""

from __future__ import annotations

from proxy_addon.animate import Animate
from proxy_addon.cache_keeper import Cache
from proxy_addon.control_host import ControlHost
from proxy_addon.gate import Gate
from proxy_addon.multiplex import Multiplex
from proxy_addon.options import WinkOptions
from proxy_addon.pool_keeper import PoolKeeper
from proxy_addon.privacy import Privacy
from proxy_addon.revalidate import Revalidation
from proxy_addon.sites import SitesOff
from proxy_addon.stats import OnceLog, Stats


def make_addons() -> list[object]:
    """A fresh set of the add-ons, in the order mitmproxy calls their hooks (options first; the Gate
    last, so its response hook sees the final answer)."""
    options, cache, stats, log = WinkOptions(), Cache(), Stats(), OnceLog()
    workers, sites_off = PoolKeeper(log, options), SitesOff()
    return [
        options,
        Privacy(),
        sites_off,
        Multiplex(),
        cache,
        workers,
        ControlHost(stats, cache, workers.lanes, sites_off),
        Revalidation(options, sites_off),
        Animate(options, cache, workers.lanes, stats, log),
        Gate(sites_off),
    ]


addons = make_addons()
