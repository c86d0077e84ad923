"""The example database on a real redis-server: failures saved there and replayed first.

The test starts its own redis-server on a free loopback port in a temporary folder and
stops it afterwards; it is skipped (with the reason) when the binary is missing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from authspec.harness.options import CheckOptions
from authspec.harness.run import check, open_database

HERE = Path(__file__).parent
TINY = str(HERE / "harness_specs" / "tiny")
ADAPTERS = str(HERE / "harness_specs" / "adapters.py")
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"

pytestmark = pytest.mark.redis


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    if not Path(REDIS).exists():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    redis = pytest.importorskip("redis")
    port = _free_port()
    server = subprocess.Popen(
        [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.fail("redis-server did not start")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_failures_are_shared_through_redis(redis_url):
    import redis

    options = CheckOptions(backend=f"{ADAPTERS}:make_weak_pin", specs=TINY, seed=1,
                           database=redis_url, out=None, examples=10, max_seconds=10)
    first = check(options)
    assert first.status == "fail"
    client = redis.Redis.from_url(redis_url)
    keys = client.keys(b"authspec:*")
    assert keys, "nothing was saved in Redis"
    # A second worker with the same database finds it again at once (replayed first).
    second = check(options)
    assert second.status == "fail" and second.steps <= 3
    assert second.failure.last.event == "issue"


def test_a_passing_run_uses_redis_too(redis_url):
    result = check(CheckOptions(backend=f"{ADAPTERS}:make_tiny", specs=TINY, seed=1,
                                database=redis_url, out=None, examples=5, steps=10,
                                max_seconds=8))
    assert result.status == "pass"
    assert open_database(redis_url) is not None
