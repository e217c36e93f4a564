"""What Redis's eviction policies do to the shared cache (wink_cache_url) once its memory budget is full.

    uv run python benchmarks/redis_eviction.py [--samples 5]

For each policy, a fresh local redis-server with an 8 MB budget holds one key without an expiry
(another application's, as in a Redis the site already runs); then 200 results of 100 kB are stored
through the add-on's own SharedResultCache, the first one read again every ten writes (a front-page
photo). Printed per policy: how many results are kept, whether the first and the newest are, whether
the other application's key survived, and the memory Redis uses (docs/decisions.md, docs/deploy.md).
"""

from __future__ import annotations

import argparse
import os
import sys

from proxy_addon.shared_cache import PREFIX, SharedResultCache
from testkit.harness import RedisServer, temp_workdir

POLICIES = ("volatile-lru", "allkeys-lru", "noeviction")
BUDGET = "8mb"
RESULTS = 200
RESULT_BYTES = 100_000
READ_EVERY = 10
OTHER_KEY = "other-app:session"


def run(policy: str, samples: int) -> str:
    server = RedisServer(temp_workdir("wink-evict-"))
    client = server.client()
    store = SharedResultCache(server.url, ttl_hours=168)
    try:
        client.config_set("maxmemory", BUDGET)
        client.config_set("maxmemory-policy", policy)
        client.config_set("maxmemory-samples", samples)
        client.set(OTHER_KEY, b"x" * 1000)
        for index in range(RESULTS):
            store.put(f"photo{index}:tag:site", os.urandom(RESULT_BYTES))
            if index % READ_EVERY == 0:
                store.get("photo0:tag:site")
        kept = {index for index in range(RESULTS) if client.exists(f"{PREFIX}photo{index}:tag:site")}
        used = client.info("memory")["used_memory"] / 1e6
        return (
            f"{policy:<14} kept {len(kept):>3} of {RESULTS}; first kept: {0 in kept}; newest kept: "
            f"{RESULTS - 1 in kept}; other application's key kept: {bool(client.exists(OTHER_KEY))}; "
            f"used {used:.1f} MB of {BUDGET}"
        )
    finally:
        store.close()
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5, help="Redis's maxmemory-samples")
    args = parser.parse_args()
    for policy in POLICIES:
        print(run(policy, args.samples), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
