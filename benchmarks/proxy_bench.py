"""Added latency of the wink add-on over the same mitmdump without it, plus a load test.

    uv run python benchmarks/proxy_bench.py [--rounds 30] [--json out.json]

Starts, on 127.0.0.1 only: a local origin server, `mitmdump` (baseline) and `mitmdump -s proxy_addon/wink.py`
(default options, fresh temporary cache and confdir), then measures each case as the median over rounds of
(time through the add-on proxy) - (time through the baseline proxy) for the same kind of response:

  bar                                                   limit
  image without faces (cache miss, ~1 MP JPEG)          <= 40 ms
  cached image (the same target photo again)            <=  5 ms
  target photo, cache miss (~1 MP)                      <= 500 ms
  non-image response, idle                              <=  2 ms
  non-image response while image work runs in parallel <=  2 ms
  load: a few hundred mixed requests, 20 in flight      0 failures, 0 corrupted bodies; memory peak

Machine noise (other processes on a 2-core box) shows up directly in these numbers: rerun when idle.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from tests.harness import WEBP_ACCEPT, Client, Mitmdump, Origin, Route, fetch_all, temp_workdir

REPO = Path(__file__).resolve().parent.parent

FIXTURES = Path(os.environ.get("WINK_FIXTURES", REPO.parent / "shared" / "fixtures"))
BARS = {"no_face_ms": 40.0, "cached_ms": 5.0, "target_miss_ms": 500.0, "non_image_ms": 2.0, "non_image_busy_ms": 2.0}


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def no_face_photo(seed: int, size: tuple[int, int] = (1200, 850)) -> bytes:
    """A ~1 MP photo-like picture (smooth colour fields plus grain) without any face."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (9, 12, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(small).resize(size, Image.BICUBIC), dtype=np.int16)
    grain = rng.integers(-12, 12, base.shape, dtype=np.int16)
    return jpeg(Image.fromarray(np.clip(base + grain, 0, 255).astype(np.uint8)))


def target_variants(count: int) -> list[bytes]:
    """Distinct bytes of the ~1 MP target photo (each one a cache miss)."""
    source = Image.open(FIXTURES / "faces" / "zeman" / "zeman_1.jpg").convert("RGB")
    return [jpeg(source, quality=95 - (i % 30)) if i < 30 else jpeg(source.rotate(0.01 * i), 90) for i in range(count)]


def build_routes(rounds: int) -> dict[str, Route]:
    routes = {
        "/page.html": Route(b"<!doctype html><title>bench</title>" + b"<p>lorem</p>" * 800, "text/html"),
        "/cached.jpg": Route(target_variants(1)[0], "image/jpeg"),
    }
    for i in range(rounds * 2 + 10):
        routes[f"/noface_{i}.jpg"] = Route(no_face_photo(i), "image/jpeg")
    for i, data in enumerate(target_variants(rounds * 2 + 4)):
        routes[f"/target_{i}.jpg"] = Route(data, "image/jpeg")
    return routes


def timed(client: Client, url: str) -> float:
    reply = client.get(url, accept=WEBP_ACCEPT)
    if reply.status != 200:
        raise RuntimeError(f"{url}: HTTP {reply.status}")
    return reply.ms


def paired(base: Client, wink: Client, urls_base: list[str], urls_wink: list[str]) -> dict[str, float]:
    """Medians through each proxy, alternating requests so drift in machine load hits both alike."""
    through_base, through_wink = [], []
    for ub, uw in zip(urls_base, urls_wink, strict=True):
        through_base.append(timed(base, ub))
        through_wink.append(timed(wink, uw))
    b, w = statistics.median(through_base), statistics.median(through_wink)
    return {
        "baseline_ms": round(b, 2),
        "wink_ms": round(w, 2),
        "added_ms": round(w - b, 2),
        "wink_p95_ms": round(sorted(through_wink)[int(0.95 * (len(through_wink) - 1))], 2),
    }


def busy(proxy_port: int, ca: Path, urls: list[str], stop: threading.Event) -> None:
    """Keep image work going (cache misses) until told to stop."""
    client = Client(proxy_port, ca)
    index = 0
    while not stop.is_set():
        client.get(urls[index % len(urls)], accept=WEBP_ACCEPT)
        index += 1
    client.close()


def load_test(proxy: Mitmdump, origin: Origin, requests: int = 300) -> dict[str, object]:
    paths = [p for p in origin.routes if p.startswith(("/noface_", "/target_"))][:24]
    paths += ["/page.html", "/cached.jpg"]
    jobs = [paths[(i * 7) % len(paths)] for i in range(requests)]
    started = time.monotonic()
    replies = fetch_all(proxy.port, proxy.ca, [origin.url(path) for path in jobs])
    failures = sum(1 for reply in replies if reply is None or reply.status != 200)
    corrupted = animated = 0
    for path, reply in zip(jobs, replies, strict=True):
        if reply is None or reply.status != 200 or reply.body == origin.routes[path].body:
            continue
        try:
            image = Image.open(io.BytesIO(reply.body))
            ok = image.format == "WEBP" and image.n_frames > 1 and path.startswith(("/target_", "/cached"))
            image.seek(image.n_frames - 1)
            image.load()
        except Exception:
            ok = False
        animated += ok
        corrupted += not ok
    return {
        "requests": requests,
        "in_flight": 20,
        "seconds": round(time.monotonic() - started, 1),
        "failures": failures,
        "corrupted": corrupted,
        "animated": animated,
        "memory_peak_kb": proxy.memory_peak_kb(),
    }


def pipeline_alone(origin: Origin, count: int = 5) -> float:
    """Median of Animator.animate on target photos in this process: what the proxy cannot go below."""
    from pipeline.api import Animator

    animator = Animator("zeman", "wink")
    images = [origin.routes[f"/target_{i}.jpg"].body for i in range(count + 1)]
    animator.animate(images[0])
    times = []
    for data in images[1:]:
        started = time.perf_counter()
        animator.animate(data)
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="requests per measured case")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    rounds = args.rounds

    print("generating test images ...", flush=True)
    origin = Origin(build_routes(rounds))
    workdir = temp_workdir("wink-bench-")
    base = Mitmdump(workdir / "base", addon=False)
    wink = Mitmdump(workdir / "wink")  # the add-on with its defaults (timeout 3 s, workers = cores)
    results: dict[str, object] = {}
    try:
        base.wait_ready()
        wink.wait_ready()
        cb, cw = Client(base.port, base.ca), Client(wink.port, wink.ca)
        url = origin.url
        for client in (cb, cw):  # connections up, caches warm for the page
            for _ in range(5):
                timed(client, url("/page.html"))
        timed(cw, url("/cached.jpg"))  # into the cache

        print("measuring ...", flush=True)
        page = [url("/page.html")] * rounds * 3
        results["non_image_ms"] = paired(cb, cw, page, page)
        results["no_face_ms"] = paired(
            cb,
            cw,
            [url(f"/noface_{i}.jpg") for i in range(rounds)],
            [url(f"/noface_{i}.jpg") for i in range(rounds, 2 * rounds)],
        )
        results["cached_ms"] = paired(cb, cw, [url("/cached.jpg")] * rounds, [url("/cached.jpg")] * rounds)
        results["target_miss_ms"] = paired(
            cb,
            cw,
            [url(f"/target_{i}.jpg") for i in range(rounds)],
            [url(f"/target_{i}.jpg") for i in range(rounds, 2 * rounds)],
        )

        stop = threading.Event()
        busy_urls = [url(f"/noface_{i}.jpg") for i in range(2 * rounds, 2 * rounds + 10)]
        busy_urls += [url(f"/target_{i}.jpg") for i in range(2 * rounds, 2 * rounds + 4)]
        workers = [
            threading.Thread(target=busy, args=(p.port, p.ca, busy_urls, stop), daemon=True) for p in (base, wink)
        ]
        for thread in workers:
            thread.start()
        time.sleep(0.5)
        results["non_image_busy_ms"] = paired(cb, cw, page, page)
        stop.set()
        for thread in workers:
            thread.join()
        results["load"] = load_test(wink, origin)
        results["status"] = wink.status()
    finally:
        base.stop()
        wink.stop()
        origin.close()

    results["pipeline_alone_ms"] = pipeline_alone(origin)
    print(f"\n{'case':<34}{'baseline':>10}{'wink':>10}{'added':>10}{'bar':>8}  ok")
    for key, bar in BARS.items():
        row = results[key]
        ok = "yes" if row["added_ms"] <= bar else "NO"
        print(f"{key:<34}{row['baseline_ms']:>10.1f}{row['wink_ms']:>10.1f}{row['added_ms']:>10.1f}{bar:>8.0f}  {ok}")
    print(f"(the pipeline alone, in this process, warm: {results['pipeline_alone_ms']} ms median per target)")
    load = results["load"]
    print(
        f"\nload: {load['requests']} requests, 20 in flight, {load['seconds']} s: "
        f"{load['failures']} failures, {load['corrupted']} corrupted, {load['animated']} animated"
    )
    print(f"memory peak (VmHWM, kB): {load['memory_peak_kb']}")
    print(json.dumps(results, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
