"""Rate limit tests run on both storages: memory, and Redis (`TEST_REDIS_URL`).

Without `TEST_REDIS_URL` the Redis runs are skipped, unless `REQUIRE_REDIS=1`.
Each test has a namespace of its own, so runs sharing one Redis never meet.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

import pytest

from app.config import Settings

BOOKINGS = 2
ACCOUNT_CEILING = 8
SIGN_INS = 3
MAX_SESSIONS = 3


def redis_url() -> str | None:
    url = os.environ.get("TEST_REDIS_URL")
    if not url and os.environ.get("REQUIRE_REDIS") == "1":
        pytest.fail("REQUIRE_REDIS=1 but TEST_REDIS_URL is not set")
    return url


@pytest.fixture(params=["memory", "redis"])
def rate_limit_storage_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "memory":
        return None
    url = redis_url()
    if not url:
        pytest.skip("Redis runs need TEST_REDIS_URL")
    return url


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings],
    sandbox_database_url: str,
    rate_limit_storage_url: str | None,
) -> Settings:
    return make_settings(
        sandbox_database_url=sandbox_database_url,
        rate_limit_storage_url=rate_limit_storage_url,
        rate_limit_namespace=f"test-{uuid.uuid4().hex}",
        rate_limit_booking=f"{BOOKINGS}/hour",
        rate_limit_account=f"{ACCOUNT_CEILING}/minute",
        rate_limit_sign_in=f"{SIGN_INS}/minute",
        max_sessions_per_account=MAX_SESSIONS,
    )
