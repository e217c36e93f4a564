"""A real Redis for the shared-cache tests: one redis-server for the session, on a free loopback port."""

from __future__ import annotations

import pytest

from tests.harness import RedisServer, temp_workdir


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer(temp_workdir("wink-redis-"))
    try:
        yield server
    finally:
        server.stop()
