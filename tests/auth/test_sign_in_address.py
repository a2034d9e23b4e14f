"""In dev, a sign-in opened at another name for the server starts at the public address,
and `/docs` opened elsewhere says where signing in works before anyone tries."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sandbox.personas import Persona
from app.config import Settings
from app.main import create_app
from tests.auth.conftest import hidden_fields
from tests.conftest import LIFESPAN_TIMEOUT, FakeClock
from tests.sign_in_address import BrowserCookies

PUBLIC = "http://127.0.0.1:8000"


def app_at(
    make_settings: Callable[..., Settings], key: Path, clock: FakeClock, env: str = "dev"
) -> FastAPI:
    settings = make_settings(app_env=env, public_base_url=PUBLIC, nhs_login_private_key_file=key)
    return create_app(settings, clock=clock)


@pytest.fixture
async def dev_app(
    make_settings: Callable[..., Settings],
    client_key_file: Path,
    clock: FakeClock,
    engine: AsyncEngine,
) -> AsyncIterator[FastAPI]:
    app = app_at(make_settings, client_key_file, clock)
    async with LifespanManager(app, startup_timeout=LIFESPAN_TIMEOUT) as manager:
        yield manager.app  # type: ignore[misc]


def browser(app: FastAPI, base_url: str) -> httpx.AsyncClient:
    """A client at `base_url` that keeps `Secure` cookies where a browser would."""
    transport = BrowserCookies(httpx.ASGITransport(app=app, raise_app_exceptions=False))
    return httpx.AsyncClient(transport=transport, base_url=base_url)


def docs_config(page: str) -> dict[str, Any]:
    found = re.search(r'data-config="([^"]*)"', page)
    assert found, page
    config: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return config


@pytest.mark.parametrize("other", ["http://localhost:8000", "http://0.0.0.0:8000"])
async def test_docs_and_sign_in_opened_by_another_local_name_go_to_the_public_address(
    dev_app: FastAPI, other: str
) -> None:
    async with browser(dev_app, other) as client:
        docs = await client.get("/docs")
        login = await client.get("/v1/auth/login?return_to=/docs")
    assert docs.status_code == 307
    assert docs.headers["location"] == f"{PUBLIC}/docs"
    assert login.status_code == 302
    assert login.headers["location"] == f"{PUBLIC}/v1/auth/login?return_to=/docs"


async def test_a_sign_in_started_at_localhost_completes_at_the_public_address(
    dev_app: FastAPI, persona: Callable[[str], Persona]
) -> None:
    async with browser(dev_app, "http://localhost:8000") as client:
        picker = await client.get("/v1/auth/login?return_to=/docs", follow_redirects=True)
        assert picker.status_code == 200, picker.text
        form = {
            **hidden_fields(picker.text),
            "persona": persona("adult-full").nhs_login_claims["sub"],
        }
        action = re.search(r'<form method="post" action="([^"]*)"', picker.text)
        assert action
        done = await client.post(html.unescape(action.group(1)), data=form, follow_redirects=True)
        assert done.status_code == 200, done.text
        assert str(done.url) == f"{PUBLIC}/docs"
        me = await client.get(f"{PUBLIC}/v1/me")
    assert me.status_code == 200, me.text


async def test_docs_at_another_computers_address_names_where_signing_in_works(
    dev_app: FastAPI,
) -> None:
    async with browser(dev_app, "http://192.0.2.7:8000") as client:
        page = await client.get("/docs")
    assert page.status_code == 200  # no redirect: loopback there is another computer
    assert 'id="gp-address"' in page.text
    config = docs_config(page.text)
    assert config["publicBaseUrl"] == PUBLIC
    assert config["publicKeepsCookie"] is True


async def test_outside_dev_nothing_is_redirected_and_the_address_is_not_shown(
    make_settings: Callable[..., Settings],
    client_key_file: Path,
    clock: FakeClock,
    engine: AsyncEngine,
) -> None:
    app = app_at(make_settings, client_key_file, clock, env="test")
    async with (
        LifespanManager(app, startup_timeout=LIFESPAN_TIMEOUT) as manager,
        browser(manager.app, "http://localhost:8000") as client,  # type: ignore[arg-type]
    ):
        page = await client.get("/docs")
    assert page.status_code == 200
    assert docs_config(page.text)["publicBaseUrl"] is None
