"""What a site switched off ("not on this site") costs, next to the proxy switched off.

    uv run python benchmarks/site_off_bench.py [--rounds 20] [--per-round 10]

Starts, on 127.0.0.1 only, a local origin serving the target person's photos (each request new
bytes, so nothing comes from a cache) and two `mitmdump -s proxy_addon/wink.py` (fresh caches and
confdirs): one on (one worker) with the origin's site put on the list through the control API, one
started with `wink_enabled=false`. It alternates, round by round (which goes first alternating too),
`per-round` photo requests from a page of that site through each. It reports, per proxy: the median
time of a photo through it, its CPU per photo (its own process, /proc), its workers' CPU, and the
images the add-on saw (status counts); then the same workers' CPU over as long a time with no
request at all (their heartbeat). The bar: a listed site's photos cost no more than the proxy off,
and no work.

Machine noise (other processes on a 2-core box) shows up directly in these numbers.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

from PIL import Image

from testkit.harness import WEBP_ACCEPT, Client, Mitmdump, Origin, Route, temp_workdir

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("WINK_FIXTURES", REPO.parent / "shared" / "fixtures"))
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid: int) -> float:
    """User + system CPU time of a process so far, in ms."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / TICKS


def variants(photo: bytes, count: int) -> list[bytes]:
    """The photo re-encoded `count` times, each with a different quality, so every request is new bytes."""
    with Image.open(io.BytesIO(photo)) as image:
        image.load()
        out = []
        for index in range(count):
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=70 + index % 25, comment=str(index).encode())
            out.append(buffer.getvalue())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=10)
    args = parser.parse_args()
    photo = (FIXTURES / "faces" / "zeman" / "zeman_1.jpg").read_bytes()
    count = (args.rounds + 1) * args.per_round * 2
    routes = {f"/photo_{i}.jpg": Route(body, "image/jpeg") for i, body in enumerate(variants(photo, count))}
    origin = Origin(routes)
    proxies = {
        "site off": Mitmdump(temp_workdir("wink-site-off-"), wink_workers=1),
        "proxy off": Mitmdump(temp_workdir("wink-proxy-off-"), wink_workers=1, wink_enabled="false"),
    }
    results: dict[str, dict[str, list[float]]] = {
        mode: {"ms": [], "proxy_cpu_ms": [], "worker_cpu_ms": [], "seen": [], "wall_s": []} for mode in proxies
    }
    try:
        proxies["site off"].wait_ready(timeout=180)
        proxies["proxy off"].wait_ready(timeout=180, warm=False)
        proxy = proxies["site off"]
        page = origin.url("/page.html")
        proxy.client.request(
            "POST",
            "http://wink.proxy/api/sites",
            json.dumps({"host": "127.0.0.1", "off": True}).encode(),
            {"content-type": "application/json", "x-wink-secret": proxy.secret()},
        )
        clients = {mode: Client(each.port, each.ca) for mode, each in proxies.items()}
        paths = iter(routes)
        modes = list(proxies)
        for round_ in range(-1, args.rounds):
            for mode in modes if round_ % 2 == 0 else modes[::-1]:  # neither always goes first
                proxy, client = proxies[mode], clients[mode]
                workers = proxy.worker_pids()
                seen = proxy.status()["counts"]["seen"]
                proxy_cpu, worker_cpu = cpu_ms(proxy.process.pid), sum(cpu_ms(pid) for pid in workers)
                started = time.monotonic()
                for _ in range(args.per_round):
                    path = next(paths)
                    reply = client.get(origin.url(path), referer=page, accept=WEBP_ACCEPT)
                    assert reply.body == routes[path].body, "a photo on a listed site was changed"
                    results[mode]["ms"].append(reply.ms)
                if round_ < 0:  # the first round is not counted: the workers finish warming up in it
                    results[mode]["ms"].clear()
                    continue
                row = results[mode]
                row["proxy_cpu_ms"].append((cpu_ms(proxy.process.pid) - proxy_cpu) / args.per_round)
                row["worker_cpu_ms"].append(sum(cpu_ms(pid) for pid in workers) - worker_cpu)
                row["seen"].append(proxy.status()["counts"]["seen"] - seen)
                row["wall_s"].append(time.monotonic() - started)
        workers = proxies["site off"].worker_pids()
        idle_cpu = sum(cpu_ms(pid) for pid in workers)
        time.sleep(sum(results["site off"]["wall_s"]))  # a benchmark, not a test: the idle baseline
        idle_cpu = sum(cpu_ms(pid) for pid in workers) - idle_cpu
    finally:
        for each in proxies.values():
            each.stop()
        origin.close()
    for mode, row in results.items():
        print(
            f"{mode:10s}: median {statistics.median(row['ms']):.2f} ms a photo "
            f"(p90 {statistics.quantiles(row['ms'], n=10)[-1]:.2f}), "
            f"proxy CPU {statistics.median(row['proxy_cpu_ms']):.2f} ms a photo, "
            f"workers' CPU {sum(row['worker_cpu_ms']):.0f} ms in all, images seen {sum(row['seen']):.0f} "
            f"({len(row['ms'])} photos of {len(photo) // 1000} kB in {sum(row['wall_s']):.1f} s)"
        )
    print(f"site off, idle: workers' CPU {idle_cpu:.0f} ms over as long with no request (heartbeats)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
