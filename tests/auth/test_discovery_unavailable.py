"""NHS login's discovery document out of reach: the log names where and why, readiness
says `unavailable` with the same reason, and the service keeps trying until it is read."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.oidc import RelyingParty
from app.config import Settings
from app.main import create_app
from tests.auth.conftest import ISSUER, MockOP, _serve
from tests.auth.test_oidc_relying_party import config
from tests.conftest import FakeClock

DISCOVERY = f"{ISSUER}/.well-known/openid-configuration"
REFUSED = httpx.ConnectError("[Errno 111] Connection refused")


@pytest.fixture
async def discovery() -> AsyncIterator[respx.Route]:
    with respx.mock(assert_all_called=False) as router:
        yield router.get(DISCOVERY)


@pytest.fixture
async def relying_party(clock: FakeClock) -> AsyncIterator[RelyingParty]:
    async with httpx.AsyncClient() as http:
        yield RelyingParty(config(timeout_seconds=3.5), http, clock)


async def test_an_unreachable_issuer_is_logged_with_its_address_and_reason(
    relying_party: RelyingParty, discovery: respx.Route, caplog: pytest.LogCaptureFixture
) -> None:
    discovery.side_effect = REFUSED
    await relying_party.check_provider()
    assert relying_party.provider_problems is None
    failure = relying_party.discovery_failure
    assert failure == f"{DISCOVERY} cannot be connected to: [Errno 111] Connection refused " + (
        "(ConnectError)"
    )
    assert f"NHS login unreachable: {failure}" in caplog.text


async def test_an_issuer_that_does_not_answer_in_time_says_so(
    relying_party: RelyingParty, discovery: respx.Route
) -> None:
    discovery.side_effect = httpx.ReadTimeout("timed out")
    await relying_party.check_provider()
    assert relying_party.discovery_failure == (
        f"{DISCOVERY} did not answer within 3.5 s (ReadTimeout)"
    )


async def test_an_issuer_answering_an_error_says_which(
    relying_party: RelyingParty, discovery: respx.Route
) -> None:
    discovery.return_value = httpx.Response(404)
    await relying_party.check_provider()
    assert relying_party.discovery_failure == f"{DISCOVERY} answered HTTP 404"


async def test_discovery_is_tried_again_until_it_is_read(
    relying_party: RelyingParty, discovery: respx.Route, clock: FakeClock
) -> None:
    discovery.side_effect = [REFUSED, REFUSED, httpx.Response(200, json=MockOP(clock).discovery())]
    async with asyncio.timeout(30):
        await relying_party.keep_checking_provider(every=0)
    assert discovery.call_count == 3
    assert relying_party.provider_problems == []
    assert relying_party.discovery_failure is None


async def test_readyz_says_why_nhs_login_is_unavailable_and_when_it_is_tried_again(
    mock_settings: Settings,
    engine: AsyncEngine,
    clock: FakeClock,
    discovery: respx.Route,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="app.auth.oidc")
    discovery.side_effect = REFUSED
    app = create_app(mock_settings, clock=clock)
    async for client in _serve(app):
        state = "unchecked"
        async with asyncio.timeout(30):  # the start-up check runs in the background
            while state == "unchecked":
                await asyncio.sleep(0.01)
                readiness = await client.get("/readyz")
                state = readiness.json()["checks"]["nhs_login"]
        assert readiness.status_code == 200  # the rest of the service still serves
        assert state == (
            f"unavailable: {DISCOVERY} cannot be connected to: [Errno 111] Connection "
            "refused (ConnectError); tried again every 60 s and at each sign-in"
        )
