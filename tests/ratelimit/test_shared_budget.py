"""Two server processes: with Redis they spend one budget, in memory each has its own."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.live_server import LiveServer, live_server
from tests.ratelimit.conftest import redis_url

SIGN_INS = 4


def sign_in_statuses(server: LiveServer, count: int) -> list[int]:
    with server.client() as client:
        return [
            client.post("/v1/auth/session", json={"code": "bad"}).status_code for _ in range(count)
        ]


def two_servers_spend(tmp_path: Path, storage_url: str | None) -> list[int]:
    env = {"RATE_LIMIT_SIGN_IN": f"{SIGN_INS}/minute", "RATE_LIMIT_NAMESPACE": uuid.uuid4().hex}
    if storage_url:
        env["RATE_LIMIT_STORAGE_URL"] = storage_url
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    with (
        live_server(tmp_path / "a", env=env, database_url=database_url) as first,
        live_server(tmp_path / "b", env=env, database_url=database_url) as second,
    ):
        half = SIGN_INS // 2
        return sign_in_statuses(first, half) + sign_in_statuses(second, half + 1)


def test_instances_sharing_redis_share_one_budget(tmp_path: Path) -> None:
    url = redis_url()
    if not url:
        pytest.skip("needs TEST_REDIS_URL")
    statuses = two_servers_spend(tmp_path, url)
    assert 429 not in statuses[:SIGN_INS]
    assert statuses[SIGN_INS] == 429


def test_in_memory_each_instance_counts_alone(tmp_path: Path) -> None:
    statuses = two_servers_spend(tmp_path, None)
    assert 429 not in statuses
