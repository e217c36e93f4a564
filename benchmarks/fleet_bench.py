"""Several proxies, one Redis: a fleet's throughput and added latency, and animations made vs served.

    uv run python benchmarks/fleet_bench.py [--instances 2] [--clients 8] [--pages 3] [--per-page 6]
                                            [--targets 3] [--workers 1] [--json out.json]

Everything runs on 127.0.0.1: a plain HTTP origin, a bare `mitmdump` (the baseline), and the add-on in
three set-ups, one after the other, each with fresh caches:
  single   one mitmdump, its cache on disk (no wink_cache_url): today's default set-up;
  separate --instances mitmdumps, each with its own cache on disk: what sharing saves;
  fleet    --instances mitmdumps sharing one redis-server (wink_cache_url), as docs/deploy.md describes.
Every instance has --workers worker processes. --clients clients (threads, each with its own
connections, as browsers) are spread over the instances round-robin, as a PAC file would, and each
replays --pages pages of --per-page photos: one of --targets target photos that recur across pages
and clients, one photo of other people, and scenery; all but the target get new bytes on every page.
Every client says it is on the same news site (Referer), as a newsroom's browsers would be.

The same replay runs first through the bare mitmdump. Reported per set-up: throughput (images per
second of wall time), p50 and p95 of the added latency (an image's time through the add-on minus the
same image's time through the bare proxy, same client), how many animations the workers made (the
status API's counts.animations_made, summed) against how many responses came back animated, and
failures. The machine's other processes show up in every figure: rerun when it is idle.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.pageload_bench import PEOPLE, TARGETS, Photo, fixture_photos, fresh_bytes, scenery
from testkit.harness import WEBP_ACCEPT, Client, Mitmdump, Origin, RedisServer, Route, temp_workdir

#: The page every client says it is on: one site, so the cache partition is the same for all.
REFERER = "https://news.example.org/front-page"
SETUPS = ("single", "separate", "fleet")
#: Seconds an image response may be held (the add-on's default).
TIMEOUT = 3


def build_routes(args: argparse.Namespace) -> tuple[dict[str, Route], list[list[str]]]:
    """The origin's photos, and each client's sequence of paths."""
    targets = fixture_photos(TARGETS, "target")[: args.targets]
    people, views = fixture_photos(PEOPLE, "people"), scenery()
    routes = {
        f"/target_{k}.jpg": Route(fresh_bytes(photo, "t", 0, "fleet"), "image/jpeg") for k, photo in enumerate(targets)
    }
    sequences: list[list[str]] = []
    for client in range(args.clients):
        paths = []
        for page in range(args.pages):
            where = f"c{client}p{page}"
            photos: list[Photo] = [people[(client + page) % len(people)]]
            photos += [views[(client * 7 + page * 3 + i) % len(views)] for i in range(args.per_page - 2)]
            for index, photo in enumerate(photos):
                routes[f"/{where}_{index}.jpg"] = Route(fresh_bytes(photo, where, index, "fleet"), "image/jpeg")
            page_paths = [f"/{where}_{index}.jpg" for index in range(len(photos))]
            page_paths.insert(page % len(page_paths), f"/target_{(client + page) % len(targets)}.jpg")
            paths += page_paths
        sequences.append(paths)
    return routes, sequences


def replay(proxies: list[Mitmdump], origin: Origin, sequences: list[list[str]]) -> dict[str, Any]:
    """Every client's sequence at once, client i through proxy i % len(proxies); per client the
    (path, ms, animated, ok) of each image, and the wall time."""
    results: list[list[tuple[str, float, bool, bool]]] = [[] for _ in sequences]

    def client_run(index: int) -> None:
        proxy = proxies[index % len(proxies)]
        client = Client(proxy.port, proxy.ca)
        for path in sequences[index]:
            try:
                reply = client.get(origin.url(path), accept=WEBP_ACCEPT, referer=REFERER)
                ok = reply.status == 200 and len(reply.body) > 0
                results[index].append((path, reply.ms, "x-wink" in reply.headers, ok))
            except Exception:
                results[index].append((path, float("nan"), False, False))
        client.close()

    threads = [threading.Thread(target=client_run, args=(index,)) for index in range(len(sequences))]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"per_client": results, "seconds": time.perf_counter() - started}


def quantile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))], 1) if ordered else float("nan")


def summarize(run: dict[str, Any], base: dict[str, Any], proxies: list[Mitmdump]) -> dict[str, Any]:
    added, failures, served, images = [], 0, 0, 0
    for mine, theirs in zip(run["per_client"], base["per_client"], strict=True):
        for (_, ms, animated, ok), (_, base_ms, _, _) in zip(mine, theirs, strict=True):
            images += 1
            failures += not ok
            served += animated
            if ok:
                added.append(ms - base_ms)
    made = sum(proxy.status()["counts"]["animations_made"] for proxy in proxies)
    return {
        "images": images,
        "seconds": round(run["seconds"], 1),
        "images_per_s": round(images / run["seconds"], 2),
        "added_p50_ms": quantile(added, 0.5),
        "added_p95_ms": quantile(added, 0.95),
        "animations_made": made,
        "animations_served": served,
        "failures": failures,
    }


def start(count: int, workdir: Path, workers: int, **options: Any) -> list[Mitmdump]:
    proxies = [
        Mitmdump(workdir / f"wink-{index}", wink_workers=workers, wink_timeout=TIMEOUT, **options)
        for index in range(count)
    ]
    for proxy in proxies:
        proxy.wait_ready()
    return proxies


def stop(proxies: list[Mitmdump]) -> None:
    for proxy in proxies:
        proxy.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2, help="mitmdumps sharing Redis (2 or 3)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (8-16)")
    parser.add_argument("--pages", type=int, default=3, help="pages each client loads")
    parser.add_argument("--per-page", type=int, default=6, help="photos on a page (one is a target)")
    parser.add_argument("--targets", type=int, default=3, help="distinct target photos recurring across pages")
    parser.add_argument("--workers", type=int, default=1, help="worker processes per instance")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    print("making the photos ...", flush=True)
    routes, sequences = build_routes(args)
    origin = Origin(routes)
    workdir = temp_workdir("wink-fleet-bench-")
    redis = RedisServer(workdir / "redis")
    results: dict[str, Any] = {"settings": {k: v for k, v in vars(args).items() if k != "json"}}
    try:
        bare = Mitmdump(workdir / "bare", addon=False)
        try:
            bare.wait_ready()
            print("baseline: the bare proxy ...", flush=True)
            base = replay([bare], origin, sequences)
        finally:
            bare.stop()
        setups = [
            ("single", 1, {}),
            ("separate", args.instances, {}),
            ("fleet", args.instances, {"wink_cache_url": redis.url}),
        ]
        for name, count, options in setups:
            print(f"{name}: {count} instance(s) ...", flush=True)
            proxies = start(count, workdir / name, args.workers, **options)
            try:
                results[name] = summarize(replay(proxies, origin, sequences), base, proxies)
            finally:
                stop(proxies)
    finally:
        redis.stop()
        origin.close()
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


def report(results: dict[str, Any]) -> None:
    settings = results["settings"]
    print(
        f"\n{settings['clients']} clients x {settings['pages']} pages x {settings['per_page']} photos, "
        f"{settings['targets']} recurring target photos, {settings['workers']} worker(s) per instance"
    )
    print(f"{'set-up':<10}{'images/s':>10}{'p50 +ms':>10}{'p95 +ms':>10}{'made':>7}{'served':>8}{'failed':>8}")
    for name in SETUPS:
        row = results[name]
        print(
            f"{name:<10}{row['images_per_s']:>10}{row['added_p50_ms']:>10}{row['added_p95_ms']:>10}"
            f"{row['animations_made']:>7}{row['animations_served']:>8}{row['failures']:>8}"
        )
    print(json.dumps({name: results[name] for name in SETUPS}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
