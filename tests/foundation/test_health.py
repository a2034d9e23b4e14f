from __future__ import annotations

from collections.abc import Callable

import httpx
from asgi_lifespan import LifespanManager

from app.config import Settings
from app.main import create_app
from tests.conftest import LIFESPAN_TIMEOUT, FakeClock


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


async def test_readyz_is_503_when_the_database_is_unreachable(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(database_url="postgresql+asyncpg://nobody@127.0.0.1:9/none")
    app = create_app(settings, clock=FakeClock())
    async with (
        LifespanManager(app, startup_timeout=LIFESPAN_TIMEOUT),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "unavailable"
