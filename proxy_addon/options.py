"""The add-on's options (`--set wink_...`), checked by pure parsers that raise, as mitmproxy's maplocal does.

A bad value stops start-up (or refuses the change) with one OptionsError sentence. The parsed values
other add-ons need are kept here: the timeout in seconds and the target's and preset's cache keys.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from mitmproxy import ctx, exceptions
from mitmproxy.addonmanager import Loader

from pipeline.errors import WinkError
from pipeline.formats import NAMES
from proxy_addon.cache import default_cache_dir
from proxy_addon.etags import settings_tag
from proxy_addon.rewrite import choose_format
from proxy_addon.shared_cache import parse_cache_url

logger = logging.getLogger(__name__)

FORMAT_CHOICES = ("auto", *NAMES)


def parse_timeout(text: str) -> float:
    """Seconds above 0 and up to 120 (a str option: mitmproxy's --set parses no floats)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 120:
        raise ValueError(f"wink_timeout must be seconds above 0 and up to 120, not {text!r}.")
    return value


def default_workers() -> int:
    """One worker per core this process may run on (a container's CPU set, a taskset), not per core
    the machine has: more workers than cores only slow every image down (benchmarks/pageload_bench.py)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on this platform
        return os.cpu_count() or 1


def check_workers(count: int) -> None:
    if not 1 <= count <= 64:
        raise ValueError("wink_workers must be between 1 and 64.")


def check_min_size(pixels: int) -> None:
    if pixels < 0:
        raise ValueError("wink_min_size must not be negative.")


def check_cache_size(megabytes: int) -> None:
    if megabytes < 0:
        raise ValueError("wink_cache_size must not be negative (0 turns the cache off).")


def check_cache_ttl(hours: int) -> None:
    if hours < 1:
        raise ValueError("wink_cache_ttl must be at least 1 hour.")


def check_max_body(megabytes: int) -> None:
    if not 1 <= megabytes <= 1024:
        raise ValueError("wink_max_body must be between 1 and 1024 MB.")


def check_worker_memory(megabytes: int) -> None:
    if megabytes != 0 and megabytes < 1024:
        raise ValueError("wink_worker_memory must be 0 (no limit) or at least 1024 MB (the models need it).")


def check_format(name: str) -> None:
    if name not in FORMAT_CHOICES:
        raise ValueError(f"wink_format must be one of {', '.join(FORMAT_CHOICES)}.")


def check_preset(spec: str) -> None:
    """Raises UsageError unless the preset loads."""
    from pipeline.presets import load_preset

    load_preset(spec)


def check_target(spec: str) -> None:
    """Cheap start-up check; a photo or folder is only checked to exist (encoding it needs the models)."""
    from pipeline.targets import load_target

    path = Path(spec).expanduser()
    if spec != "any" and path.suffix.lower() != ".json" and path.exists():
        return
    load_target(spec)


def spec_key(spec: str) -> str:
    """A target or preset as part of a cache key: a name as is, a file or folder with its mtime."""
    path = Path(spec).expanduser()
    if "/" in spec or path.suffix:
        try:
            return f"{path.resolve()}@{path.stat().st_mtime_ns}"
        except OSError:
            pass
    return spec


@dataclass(frozen=True)
class Choice:
    """The format a request gets and the settings tag of that animation (ETag and cache key)."""

    fmt: str
    tag: str


class WinkOptions:
    """Declares and checks every wink_* option; holds what the other add-ons derive from them."""

    def __init__(self) -> None:
        self.timeout = 3.0
        self.target_key = self.preset_key = ""

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "wink_target",
            str,
            "zeman",
            "Whose face to animate: an enrolled name, a photo, a folder of photos, or 'any'.",
        )
        loader.add_option("wink_preset", str, "wink", "Motion preset: a name (see http://wink.proxy/) or a .npz path.")
        loader.add_option("wink_enabled", bool, True, "Animate images (false: pass everything through).")
        loader.add_option(
            "wink_cache_dir", str, default_cache_dir(), "Directory of the result cache (kept across restarts)."
        )
        loader.add_option("wink_cache_size", int, 512, "Cache size limit in MB (0 turns the cache off).")
        loader.add_option(
            "wink_cache_url",
            str,
            "",
            "A Redis (or Valkey) the proxies share as their cache instead of wink_cache_dir: "
            "redis://[:PASSWORD@]HOST[:PORT][/DB], rediss:// for TLS. Its size is Redis's maxmemory.",
        )
        loader.add_option("wink_cache_ttl", int, 168, "Hours an entry of the shared cache (wink_cache_url) is kept.")
        loader.add_option(
            "wink_timeout",
            str,
            "3",  # str: mitmproxy's --set parses no floats
            "Seconds (e.g. 3 or 0.5) an image response may be held; past it the original "
            "goes out and the animation is finished into the cache for next time.",
        )
        loader.add_option(
            "wink_workers", int, default_workers(), "Worker processes doing image work (default: the usable cores)."
        )
        loader.add_option(
            "wink_max_body",
            int,
            16,
            "MB: a larger image body streams through unread (the proxy never holds it).",
        )
        loader.add_option(
            "wink_worker_memory",
            int,
            4096,
            "MB of address space each worker process may use (RLIMIT_AS); 0: no limit.",
        )
        loader.add_option("wink_min_size", int, 64, "Images smaller than this many pixels on a side pass untouched.")
        loader.add_option(
            "wink_format",
            str,
            "auto",
            "Output format: auto (by Accept: AVIF for a photo served as AVIF, else WebP, else APNG, else GIF), "
            "webp, apng, gif or avif.",
            choices=FORMAT_CHOICES,
        )

    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        try:
            if "wink_timeout" in updated:
                self.timeout = parse_timeout(opts.wink_timeout)
            if "wink_workers" in updated:
                check_workers(opts.wink_workers)
            if "wink_min_size" in updated:
                check_min_size(opts.wink_min_size)
            if "wink_format" in updated:
                check_format(opts.wink_format)
            if "wink_max_body" in updated:
                check_max_body(opts.wink_max_body)
            if "wink_worker_memory" in updated:
                check_worker_memory(opts.wink_worker_memory)
            if "wink_cache_size" in updated:
                check_cache_size(opts.wink_cache_size)
            if "wink_cache_url" in updated:
                parse_cache_url(opts.wink_cache_url)
            if "wink_cache_ttl" in updated:
                check_cache_ttl(opts.wink_cache_ttl)
            if "wink_preset" in updated:
                check_preset(opts.wink_preset)
                self.preset_key = spec_key(opts.wink_preset)
            if "wink_target" in updated:
                check_target(opts.wink_target)
                self.target_key = spec_key(opts.wink_target)
        except (ValueError, WinkError) as error:
            raise exceptions.OptionsError(str(error)) from error

    def running(self) -> None:
        opts = ctx.options
        logger.info(
            f"wink: animating {opts.wink_target} with preset {opts.wink_preset} "
            f"({'on' if opts.wink_enabled else 'off'}); status at http://wink.proxy/ through the proxy."
        )
        if Path(opts.confdir).expanduser().resolve() == Path("~/.mitmproxy").expanduser().resolve():
            logger.info(
                "wink: using mitmproxy's default CA in ~/.mitmproxy; the project's own lives in "
                "certs/confdir (--set confdir=certs/confdir, see proxy_addon/README.md)."
            )

    def choose(self, accept: str, served: str | None = None) -> Choice:
        """The format for a request's Accept header (or the forced one) and the kind of image the site
        `served` ("avif", "jpeg", ...; None when unknown), and its settings tag."""
        fmt = choose_format(accept, ctx.options.wink_format, served)
        return Choice(fmt, settings_tag(self.target_key, self.preset_key, fmt))

    def choices(self, accept: str) -> list[Choice]:
        """Every Choice a response to this Accept header may get, whatever the site serves (the
        revalidation of an animation comes before the image, so its kind is not known yet)."""
        usual, for_avif = self.choose(accept), self.choose(accept, "avif")
        return [usual] if for_avif == usual else [usual, for_avif]
