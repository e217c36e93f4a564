"""A real Redis for the shared-cache tests: one redis-server for the session, on a free loopback port."""

from __future__ import annotations

import os
import shutil

import pytest

from testkit.harness import RedisServer, temp_workdir


@pytest.fixture(scope="session")
def redis_server():
    """Missing redis-server fails in CI (.ci/run installs it) and skips on a developer's machine."""
    if shutil.which("redis-server") is None:
        message = "redis-server not found (Debian: apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = RedisServer(temp_workdir("wink-redis-"))
    try:
        yield server
    finally:
        server.stop()
