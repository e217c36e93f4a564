"""The page-load tax: a page of photos in real Chromium, through a bare mitmdump and through the add-on.

    uv run python benchmarks/pageload_bench.py [--rounds 5] [--http2] [--served-as webp] [--set wink_workers=3]
                                               [--json out.json]

Everything runs on 127.0.0.1: an HTTPS origin (HTTP/1.1, or HTTP/2 with --http2), `mitmdump` (baseline) and `mitmdump -s
proxy_addon/wink.py` (fresh cache and confdir, default options plus any `--set`), and Debian's
Chromium through Playwright, one browser per proxy and a fresh context (empty HTTP cache) per load.

The page holds at least 40 photos, 320-800 px on their long side:
  scenery   30 without faces: crops of scikit-image's pictures (coffee, chelsea the cat, rocket, ...);
  people    12 of other people: the fixtures' photos of everyone but the target;
  target     3 Zeman photos, in the "with target" variant only.
Every round serves new bytes for every photo (the add-on's cache never answers), and the two proxies
take turns going first. Reported, against the issue's bars:
  - load time (loadEventEnd) through the add-on / through the bare proxy, median over rounds;
  - each image's added delay: its Resource Timing responseEnd through the add-on minus through the
    bare proxy, same image, same round; the median and p90 over all images;
  - whether every target photo came back animated on the first load (the X-Wink header);
  - CPU ms per image of each kind, in the proxy process and in the workers, from pages holding one kind;
  - peak memory (VmHWM) of the proxy and of each worker.
Speed is measured here, never in tests. Other processes on this 2-core box show up in the numbers.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from testkit.harness import H2Origin, Mitmdump, Origin, Route, temp_workdir
from testkit.paint import CHROMIUM_ARGS as PAINT_CHROMIUM_ARGS

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("WINK_FIXTURES", REPO.parent / "shared" / "fixtures"))
CHROMIUM = Path(os.environ.get("WINK_CHROMIUM", "/usr/bin/chromium"))
#: The browser tests' Chromium flags, and both proxies show their own CA's certificates.
CHROMIUM_ARGS = [*PAINT_CHROMIUM_ARGS, "--ignore-certificate-errors"]
TIMELINE_SCRIPT = REPO / "benchmarks" / "timeline_addon.py"
BARS = {"ratio_no_target": 2.2, "ratio_with_target": 3.0, "median_added_ms": 150.0, "cpu_per_other_face_ms": 100.0}
SCENERY_SOURCES = (
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "retina",
    "coins",
    "moon",
    "grass",
    "gravel",
    "brick",
    "page",
    "clock",
    "microaneurysms",
    "colorwheel",
)
PEOPLE = (
    "faces/obama/obama_1.jpg",
    "faces/obama/obama_2.jpg",
    "faces/obama/obama_4.jpg",
    "faces/biden/biden_1.jpg",
    "faces/biden/biden_2.jpg",
    "faces/kit_harington/kit_1.jpg",
    "faces/kit_harington/kit_2.jpg",
    "faces/rose_leslie/rose_1.jpg",
    "faces/alex_lacamoire/alex_1.jpg",
    "faces/alex_lacamoire/alex_3.png",
    "faces/lin_manuel_miranda/lin_1.png",
    "scenes/two_people.jpg",
)
TARGETS = ("faces/zeman/zeman_1.jpg", "faces/zeman/zeman_2.jpg", "faces/zeman/zeman_1.jpg")


@dataclass(frozen=True)
class Photo:
    name: str
    kind: str  # scenery, people or target
    image: Image.Image


def _fit(image: Image.Image, long_side: int) -> Image.Image:
    factor = long_side / max(image.size)
    return image.resize((max(1, round(image.width * factor)), max(1, round(image.height * factor))), Image.LANCZOS)


def scenery() -> list[Photo]:
    """30 face-free pictures: two crops (one mirrored) of each of 15 scikit-image pictures."""
    import skimage.data

    photos = []
    for index, name in enumerate(SCENERY_SOURCES):
        array = getattr(skimage.data, name)()
        if array.dtype != np.uint8:
            array = (255 * (array.astype(np.float64) / max(1.0, float(array.max())))).astype(np.uint8)
        image = Image.fromarray(array).convert("RGB")
        w, h = image.size
        whole = _fit(image, 320 + (index * 37) % 480)
        crop = _fit(ImageOps.mirror(image.crop((w // 8, h // 8, w - w // 10, h - h // 12))), 800 - (index * 53) % 480)
        photos += [Photo(f"scenery_{index}a", "scenery", whole), Photo(f"scenery_{index}b", "scenery", crop)]
    return photos


def fixture_photos(paths: tuple[str, ...], kind: str) -> list[Photo]:
    photos = []
    for index, path in enumerate(paths):
        file = FIXTURES / path
        if not file.is_file():
            raise SystemExit(f"The fixture {file} is missing; set WINK_FIXTURES to the fixtures folder.")
        image = ImageOps.exif_transpose(Image.open(file)).convert("RGB")
        long_side = 480 + (index * 61) % 320 if kind == "people" else 640 + 80 * index
        if index == 2 and kind == "target":  # a second photo of zeman_1: cropped to the face and shoulders
            w, h = image.size
            image = image.crop((w // 10, 0, w - w // 10, h * 4 // 5))
        photos.append(Photo(f"{kind}_{index}", kind, _fit(image, min(long_side, 800))))
    return photos


#: How the site serves its photos (--served-as): the format, its media type, and its file extension.
SERVED_AS = {"jpeg": ("JPEG", "image/jpeg", "jpg"), "webp": ("WEBP", "image/webp", "webp")}


def fresh_bytes(photo: Photo, page: str, round_index: int, proxy: str, served_as: str = "jpeg") -> bytes:
    """New bytes for every page, round and proxy: a different quality and a few pixels stamped."""
    image = photo.image.copy()
    stamp = zlib.crc32(f"{page}/{round_index}/{proxy}".encode())
    for i in range(4):
        image.putpixel((i, 0), ((stamp >> (8 * i)) & 255, 0, 0))
    out = io.BytesIO()
    image.save(out, SERVED_AS[served_as][0], quality=80 + round_index % 8)
    return out.getvalue()


def page_html(paths: list[tuple[str, Photo]]) -> bytes:
    tags = "\n".join(
        f'<img src="{path}" width="{p.image.width}" height="{p.image.height}" alt="">' for path, p in paths
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>photos</title>"
        "<style>body{margin:0;display:flex;flex-wrap:wrap;gap:4px}</style></head>"
        f"<body>{tags}</body></html>"
    ).encode()


class Site:
    """The origin's pages and photos, made for each round and proxy before they are loaded."""

    def __init__(self, origin: Origin | H2Origin, served_as: str = "jpeg") -> None:
        self.origin = origin
        self.served_as = served_as

    def page(self, name: str, photos: list[Photo], round_index: int, proxy: str) -> str:
        prefix = f"/{proxy}/r{round_index}/{name}"
        paths = []
        _, media_type, extension = SERVED_AS[self.served_as]
        for photo in photos:
            path = f"{prefix}/{photo.name}.{extension}"
            data = fresh_bytes(photo, name, round_index, proxy, self.served_as)
            self.origin.routes[path] = Route(data, media_type)
            paths.append((path, photo))
        self.origin.routes[f"{prefix}/index.html"] = Route(page_html(paths), "text/html; charset=utf-8")
        return self.origin.url(f"{prefix}/index.html")


def cpu_ms(pids: list[int]) -> float:
    """User + system CPU time of the processes, in ms."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return 1000.0 * total / ticks


def settle(proxy: Mitmdump, quiet_ms: float = 15.0, limit: float = 30.0) -> None:
    """Until the proxy and its workers are idle (jobs run on after their responses left)."""
    pids = [proxy.process.pid, *(proxy.worker_pids() if proxy.addon else [])]
    deadline = time.monotonic() + limit
    before = cpu_ms(pids)
    while time.monotonic() < deadline:
        time.sleep(0.4)
        now = cpu_ms(pids)
        if now - before < quiet_ms:
            return
        before = now


TIMING_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const images = performance.getEntriesByType('resource')
    .filter(e => e.initiatorType === 'img')
    .map(e => [new URL(e.name).pathname, e.responseEnd, e.nextHopProtocol]);
  const complete = Array.from(document.images).every(i => i.complete && i.naturalWidth > 0);
  return {load: nav.loadEventEnd, images, complete};
}"""


@dataclass
class Load:
    load_ms: float
    response_end: dict[str, float]  # image name -> ms
    animated: set[str]  # image names answered with an animation
    protocols: set[str]  # what the browser spoke to the proxy for the images: "http/1.1", "h2"
    proxy_cpu_ms: float
    worker_cpu_ms: float


class Browser:
    """One Chromium whose every context goes through one proxy."""

    def __init__(self, playwright: Any, proxy: Mitmdump) -> None:
        self.proxy = proxy
        args = [*CHROMIUM_ARGS, f"--proxy-server=http://127.0.0.1:{proxy.port}", "--proxy-bypass-list=<-loopback>"]
        self.browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)

    def load(self, url: str) -> Load:
        settle(self.proxy)
        proxy_pids = [self.proxy.process.pid]
        worker_pids = self.proxy.worker_pids() if self.proxy.addon else []
        proxy_before, workers_before = cpu_ms(proxy_pids), cpu_ms(worker_pids)
        context = self.browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 900})
        animated: set[str] = set()

        def seen(response: Any) -> None:
            if "animated" in (response.headers.get("x-wink") or ""):
                animated.add(Path(response.url).stem)

        page = context.new_page()
        page.on("response", seen)
        page.goto(url, wait_until="load", timeout=120_000)
        timing = page.evaluate(TIMING_JS)
        if not timing["complete"]:
            raise RuntimeError("an image did not load")
        context.close()
        settle(self.proxy)  # the CPU of work finishing after its response left counts too
        return Load(
            timing["load"],
            {Path(path).stem: end for path, end, _ in timing["images"]},
            animated,
            {protocol for _, _, protocol in timing["images"]},
            cpu_ms(proxy_pids) - proxy_before,
            cpu_ms(worker_pids) - workers_before,
        )

    def close(self) -> None:
        self.browser.close()


def quantile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@contextmanager
def proxies(
    options: dict[str, str], timeline: Path | None = None, http2: bool = False
) -> Iterator[tuple[Origin | H2Origin, Mitmdump, Mitmdump]]:
    """The origin and both proxies; with `timeline` (a folder), each proxy also runs TIMELINE_SCRIPT.
    `http2`: the origin speaks HTTP/2, and so both proxies to the browser (mitmproxy mirrors the site)."""
    workdir = temp_workdir("wink-pageload-")
    (workdir / "tls").mkdir()
    origin = H2Origin({}, workdir / "tls") if http2 else Origin({}, tls_dir=workdir / "tls")
    scripts: tuple[Path, ...] = ()
    if timeline is not None:
        os.environ["WINK_TIMELINE_DIR"] = str(timeline)
        scripts = (TIMELINE_SCRIPT,)
    base = Mitmdump(workdir / "base", addon=False, scripts=scripts)
    wink = Mitmdump(workdir / "wink", scripts=scripts, **options)
    try:
        base.wait_ready()
        wink.wait_ready()
        yield origin, base, wink
    finally:
        base.stop()
        wink.stop()
        origin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="loads of each page through each proxy")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="an add-on option")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="also time each image inside both proxies: the site's answer, then the hold (timeline_addon.py)",
    )
    parser.add_argument(
        "--http2",
        action="store_true",
        help="the site speaks HTTP/2, as most image hosts and CDNs do (default: an HTTP/1.1 site, six connections)",
    )
    parser.add_argument(
        "--served-as",
        choices=sorted(SERVED_AS),
        default="jpeg",
        help="the photos' format (default: jpeg; webp is what image CDNs send Chromium)",
    )
    args = parser.parse_args()
    options = dict(item.split("=", 1) for item in args.set)

    from playwright.sync_api import sync_playwright

    print("making the photos ...", flush=True)
    sceneries, people, targets = scenery(), fixture_photos(PEOPLE, "people"), fixture_photos(TARGETS, "target")
    variants = {"no_target": sceneries + people, "with_target": sceneries + people + targets}
    variants["with_target"] = interleave(variants["with_target"])
    variants["no_target"] = interleave(variants["no_target"])
    kinds = {"scenery": sceneries, "people": people, "target": targets}
    loads: dict[str, dict[str, list[Load]]] = {name: {"base": [], "wink": []} for name in [*variants, *kinds]}
    timeline = temp_workdir("wink-timeline-") if args.timeline else None
    with proxies(options, timeline, args.http2) as (origin, base, wink), sync_playwright() as playwright:
        site = Site(origin, args.served_as)
        browsers = {"base": Browser(playwright, base), "wink": Browser(playwright, wink)}
        try:
            for name in ("base", "wink"):  # connections, TLS and the browser warm
                browsers[name].load(site.page("warm", sceneries[:4], 99, name))
            for round_index in range(args.rounds):
                order = ("base", "wink") if round_index % 2 == 0 else ("wink", "base")
                for variant, photos in variants.items():
                    for name in order:
                        loads[variant][name].append(browsers[name].load(site.page(variant, photos, round_index, name)))
                        print(f"round {round_index} {variant:<12} {name:<5} {loads[variant][name][-1].load_ms:7.0f} ms")
                if round_index < 2:  # CPU per kind: pages of one kind each
                    for kind, photos in kinds.items():
                        for name in order:
                            loads[kind][name].append(browsers[name].load(site.page(kind, photos, round_index, name)))
            status = wink.status()
            memory = wink.memory_peak_kb()
        finally:
            for browser in browsers.values():
                browser.close()
    results = summarize(loads, variants, kinds, status, memory)
    results["served_as"] = args.served_as
    if timeline is not None:
        results["timeline"] = {
            name: inside_the_proxy(timeline / f"timeline-{proxy.port}.jsonl", variants)
            for name, proxy in (("base", base), ("wink", wink))
        }
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


def interleave(photos: list[Photo]) -> list[Photo]:
    """Kinds mixed down the page as on a real one (a target photo neither first nor last)."""
    by_kind: dict[str, list[Photo]] = {}
    for photo in photos:
        by_kind.setdefault(photo.kind, []).append(photo)
    total = len(photos)
    placed: list[tuple[float, Photo]] = []
    for group in by_kind.values():
        step = total / len(group)
        placed += [((i + 0.5) * step, photo) for i, photo in enumerate(group)]
    return [photo for _, photo in sorted(placed, key=lambda item: item[0])]


def summarize(
    loads: dict[str, dict[str, list[Load]]],
    variants: dict[str, list[Photo]],
    kinds: dict[str, list[Photo]],
    status: dict[str, Any],
    memory: dict[str, int],
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for variant, photos in variants.items():
        pairs = list(zip(loads[variant]["base"], loads[variant]["wink"], strict=True))
        added = [w.response_end[p.name] - b.response_end[p.name] for b, w in pairs for p in photos]
        targets = [p.name for p in photos if p.kind == "target"]
        by_kind = {
            kind: [w.response_end[p.name] - b.response_end[p.name] for b, w in pairs for p in photos if p.kind == kind]
            for kind in ("scenery", "people", "target")
        }
        results[variant] = {
            "base_load_ms": round(statistics.median(b.load_ms for b, _ in pairs), 1),
            "wink_load_ms": round(statistics.median(w.load_ms for _, w in pairs), 1),
            "ratio": round(statistics.median(w.load_ms / b.load_ms for b, w in pairs), 2),
            "ratios": [round(w.load_ms / b.load_ms, 2) for b, w in pairs],
            "median_added_ms": round(statistics.median(added), 1),
            "p90_added_ms": round(quantile(added, 0.9), 1),
            "median_added_ms_by_kind": {k: round(statistics.median(v), 1) for k, v in by_kind.items() if v},
            "targets_animated_first_load": [len(set(targets) & w.animated) for _, w in pairs],
            "targets": len(targets),
            "others_animated": sum(len(w.animated - set(targets)) for _, w in pairs),
            "protocols": sorted({p for b, w in pairs for p in b.protocols | w.protocols}),
        }
    per_kind = {}
    for kind, photos in kinds.items():
        base, wink = loads[kind]["base"], loads[kind]["wink"]
        count = len(photos) * len(wink)
        per_kind[kind] = {
            "proxy_cpu_ms": round(sum(w.proxy_cpu_ms for w in wink) / count, 1),
            "bare_proxy_cpu_ms": round(sum(b.proxy_cpu_ms for b in base) / count, 1),
            "worker_cpu_ms": round(sum(w.worker_cpu_ms for w in wink) / count, 1),
        }
    results["cpu_per_image"] = per_kind
    results["memory_peak_kb"] = memory
    results["status"] = {
        key: status.get(key) for key in ("counts", "latency_ms", "latency_by_kind", "workers", "queue")
    }
    return results


def inside_the_proxy(path: Path, variants: dict[str, list[Photo]]) -> dict[str, dict[str, float]]:
    """Per page variant and image kind, medians in ms: from the request to the site's last byte
    ("site"), from there to the response leaving the proxy ("hold"); and how long the browser took to
    ask for all of a page's images ("asked_over", the median page)."""
    kinds = {photo.name: photo.kind for photos in variants.values() for photo in photos}
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        parts = row["path"].split("/")  # /<proxy>/r<round>/<page>/<photo>.<jpg or webp>
        if len(parts) == 5 and parts[3] in variants and Path(parts[4]).stem in kinds:
            rows.setdefault((parts[3], parts[2]), []).append(row | {"kind": kinds[Path(parts[4]).stem]})
    out: dict[str, dict[str, float]] = {}
    for variant in variants:
        loads = [images for (page, _), images in rows.items() if page == variant]
        if not loads:
            continue
        images = [image for load in loads for image in load]
        summary = {
            "asked_over": statistics.median(
                1000 * (max(i["requested"] for i in load) - min(i["requested"] for i in load)) for load in loads
            ),
            "http2": float(statistics.mean(i["http2"] for i in images)),
        }
        for kind in ("scenery", "people", "target"):
            of_kind = [i for i in images if i["kind"] == kind]
            if of_kind:
                summary[f"{kind}_site"] = statistics.median(1000 * (i["site_done"] - i["requested"]) for i in of_kind)
                summary[f"{kind}_hold"] = statistics.median(1000 * (i["left"] - i["site_done"]) for i in of_kind)
        out[variant] = {key: round(value, 1) for key, value in summary.items()}
    return out


def report(results: dict[str, Any]) -> None:
    print(f"photos served as {results.get('served_as', 'jpeg')}")
    header = f"{'page':<12}{'bare ms':>9}{'wink ms':>9}{'ratio':>7}{'bar':>5}{'median +ms':>12}{'p90 +ms':>9}"
    print(f"\n{header}  targets animated")
    for variant, bar in (("no_target", BARS["ratio_no_target"]), ("with_target", BARS["ratio_with_target"])):
        row = results[variant]
        animated = f"{min(row['targets_animated_first_load'])}/{row['targets']}" if row["targets"] else "-"
        print(
            f"{variant:<12}{row['base_load_ms']:>9.0f}{row['wink_load_ms']:>9.0f}{row['ratio']:>7.2f}{bar:>5.1f}"
            f"{row['median_added_ms']:>12.0f}{row['p90_added_ms']:>9.0f}  {animated}"
            f"  (others animated: {row['others_animated']})"
        )
        print(f"{'':<12}median +ms by kind: {row['median_added_ms_by_kind']}; images over {row['protocols']}")
    print(f"bars: median image <= {BARS['median_added_ms']:.0f} ms later; CPU per other face <= 100 ms")
    print(f"\n{'CPU ms per image':<18}{'proxy':>8}{'bare proxy':>12}{'workers':>9}")
    for kind, row in results["cpu_per_image"].items():
        print(f"{kind:<18}{row['proxy_cpu_ms']:>8.1f}{row['bare_proxy_cpu_ms']:>12.1f}{row['worker_cpu_ms']:>9.1f}")
    if "timeline" in results:
        print("\ninside the proxies (median ms): site = request to the site's last byte, hold = then to leaving")
        for name, pages in results["timeline"].items():
            for variant, row in pages.items():
                print(f"{name:<5} {variant:<12} {row}")
    print(f"\nmemory peak (VmHWM, kB): {results['memory_peak_kb']}")
    print(json.dumps(results["status"], indent=1))


if __name__ == "__main__":
    sys.exit(main())
