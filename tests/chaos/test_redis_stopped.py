"""Redis stopped, or paused, while rate limits use it.

Limits fail open to each worker's own count: every request is still answered, at
once, and a budget still holds within the worker. The outage is logged once when it
starts and once when it ends, however many requests meet it, and the shared budget
is back as soon as Redis is. Each test has a Redis of its own on a free loopback
port, never the machine's shared one.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.ratelimit.service import RETRY_SECONDS
from tests.live_server import LiveServer, free_port, live_server

SIGN_INS = 3  # the sign-in budget per client address, small for the test
# How long Redis may take to start, or the server to try it again once it is back.
DEADLINE_SECONDS = 15
UNAVAILABLE = "rate limit storage unavailable"
BACK = "rate limit storage available again"


class PrivateRedis:
    """A `redis-server` of the test's own, stopped and started again on one port."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - redis-server, fixed arguments
                command, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + DEADLINE_SECONDS
        while self.command(b"PING") != b"+PONG":
            assert self.process.poll() is None, (self.directory / "redis.log").read_text()
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        """Terminate it, as an outage or a restart does: connections are then refused."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGCONT)  # a paused process cannot act on SIGTERM
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None

    def pause(self) -> None:
        """Stop it answering while its port still accepts connections, as a hung host does."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def command(self, name: bytes) -> bytes | None:
        """One inline command's reply line, or None if Redis does not answer."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(name + b"\r\n")
                return sock.recv(64).split(b"\r\n")[0]
        except OSError:
            return None

    def keys(self) -> int:
        reply = self.command(b"DBSIZE")
        assert reply is not None and reply.startswith(b":"), reply
        return int(reply[1:])


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail("REQUIRE_REDIS=1 but redis-server is not installed")
        pytest.skip("needs redis-server")
    private = PrivateRedis(tmp_path)
    private.start()
    try:
        yield private
    finally:
        private.stop()


@contextmanager
def server_on(redis: PrivateRedis, directory: Path) -> Iterator[LiveServer]:
    env = {
        "RATE_LIMIT_STORAGE_URL": redis.url,
        "RATE_LIMIT_NAMESPACE": uuid.uuid4().hex,
        "RATE_LIMIT_SIGN_IN": f"{SIGN_INS}/minute",
        "WEB_CONCURRENCY": "1",  # one worker: one line per outage
        "LOG_LEVEL": "INFO",  # the line saying Redis is back is information, not a warning
    }
    with live_server(directory, env=env) as server:
        yield server


def sign_ins(server: LiveServer, source: str, count: int) -> list[int]:
    """Statuses of `count` failed sign-ins from `source`; each spends the address's budget.

    The client's timeout is the bound on a request that waits for a dead counter.
    """
    with server.client(source=source) as client:
        return [
            client.post("/v1/auth/session", json={"code": "bad"}).status_code for _ in range(count)
        ]


def assert_budget_holds(statuses: list[int]) -> None:
    """`SIGN_INS` answered (and not as a server fault), then the budget refuses."""
    assert all(status < 500 for status in statuses), statuses
    assert 429 not in statuses[:SIGN_INS], statuses
    assert set(statuses[SIGN_INS:]) == {429}, statuses


def lines(server: LiveServer, text: str) -> int:
    return sum(text in line for line in server.log.read_text().splitlines())


def readiness(server: LiveServer) -> tuple[int, str]:
    with server.client() as client:
        response = client.get("/readyz")
    return response.status_code, response.json()["checks"]["redis"]


def test_redis_stopped_limits_fall_back_per_worker_and_are_shared_when_it_is_back(
    redis: PrivateRedis, tmp_path: Path
) -> None:
    with server_on(redis, tmp_path / "server") as server:
        # Up: one shared budget, counted in Redis.
        assert_budget_holds(sign_ins(server, "127.0.0.2", SIGN_INS + 2))
        assert redis.keys() > 0

        redis.stop()
        # Stopped: the worker counts alone, so a budget still holds; everyone is answered.
        assert_budget_holds(sign_ins(server, "127.0.0.3", SIGN_INS + 2))
        # The outage lasts several of the server's retries, with requests all along.
        outage_ends = time.monotonic() + RETRY_SECONDS * 3
        statuses: list[int] = []
        while time.monotonic() < outage_ends:
            statuses += sign_ins(server, f"127.0.0.{10 + len(statuses) % 200}", 1)
            time.sleep(0.02)
        assert all(status < 500 for status in statuses), statuses
        # Still ready: Redis is reported, never a reason to take the instance out.
        assert readiness(server) == (200, "unavailable")
        assert lines(server, UNAVAILABLE) == 1

        redis.start()  # empty: a restart without persistence forgets every count
        # 127.0.0.3 spent its budget in the worker's count; once the server uses Redis
        # again it meets the shared budget instead, fresh after the restart.
        deadline = time.monotonic() + DEADLINE_SECONDS
        while (first := sign_ins(server, "127.0.0.3", 1)) == [429]:
            assert time.monotonic() < deadline, "the shared budget did not come back"
            time.sleep(0.1)
        assert_budget_holds(first + sign_ins(server, "127.0.0.3", SIGN_INS))
        assert redis.keys() > 0
        assert readiness(server) == (200, "ok")
        assert lines(server, UNAVAILABLE) == 1
        assert lines(server, BACK) == 1


def test_redis_paused_holds_no_request(redis: PrivateRedis, tmp_path: Path) -> None:
    with server_on(redis, tmp_path / "server") as server:
        assert_budget_holds(sign_ins(server, "127.0.0.2", SIGN_INS + 1))

        redis.pause()
        # Redis accepts connections but never answers: each request is answered anyway
        # (within the client's timeout), and the budget holds in the worker.
        assert_budget_holds(sign_ins(server, "127.0.0.3", SIGN_INS + 2))
        assert readiness(server) == (200, "unavailable")
        assert lines(server, UNAVAILABLE) == 1

        redis.resume()
        deadline = time.monotonic() + DEADLINE_SECONDS
        while lines(server, BACK) == 0:
            assert time.monotonic() < deadline, "the server did not see Redis back"
            sign_ins(server, "127.0.0.4", 1)
            time.sleep(0.1)
        assert lines(server, UNAVAILABLE) == 1
