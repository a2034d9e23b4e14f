"""What an app developer meets first: the default dev redirect URI and clear sign-in failures."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest

from app.adapters.sandbox.personas import Persona
from app.auth.cookies import LOGIN_COOKIE
from app.config import DEV_APP_REDIRECT_URI, Settings
from tests.auth.conftest import BASE_URL, pick_persona


def test_dev_accepts_the_loopback_app_redirect_uri_by_default(
    make_settings: Callable[..., Settings],
) -> None:
    dev = make_settings(app_env="dev", nhs_login_app_redirect_uris="")
    assert dev.app_redirect_uris == {DEV_APP_REDIRECT_URI}
    configured = make_settings(app_env="dev", nhs_login_app_redirect_uris="gponline://auth")
    assert configured.app_redirect_uris == {DEV_APP_REDIRECT_URI, "gponline://auth"}


@pytest.mark.parametrize("env", ["test", "prod"])
def test_only_dev_adds_the_loopback_app_redirect_uri(
    make_settings: Callable[..., Settings], env: str
) -> None:
    settings = make_settings(app_env=env, nhs_login_app_redirect_uris="gponline://auth")
    assert settings.app_redirect_uris == {"gponline://auth"}


async def test_a_callback_without_the_login_cookie_says_why_and_logs_the_reason(
    web: httpx.AsyncClient,
    persona: Callable[[str], Persona],
    caplog: pytest.LogCaptureFixture,
) -> None:
    start = await web.get("/v1/auth/login")
    login_cookie = web.cookies[LOGIN_COOKIE]
    back = await pick_persona(web, start.headers["location"], persona("adult-full"))
    # As a browser that opened the site at another address: the cookie never comes back.
    web.cookies.clear()
    with caplog.at_level(logging.INFO, logger="app.auth.router"):
        callback = await web.get(back.headers["location"])
    assert callback.status_code == 401
    problem = callback.json()
    assert problem["code"] == "login_cookie_missing"
    assert BASE_URL in problem["detail"]
    assert problem["public_base_url"] == BASE_URL
    assert "sign-in failed: login_cookie_missing" in caplog.text
    assert login_cookie not in caplog.text


async def test_a_callback_with_a_spoiled_login_cookie_logs_its_reason(
    web: httpx.AsyncClient,
    persona: Callable[[str], Persona],
    caplog: pytest.LogCaptureFixture,
) -> None:
    start = await web.get("/v1/auth/login")
    back = await pick_persona(web, start.headers["location"], persona("adult-full"))
    web.cookies.clear()
    web.cookies.set(LOGIN_COOKIE, "not-a-sealed-value")
    with caplog.at_level(logging.INFO, logger="app.auth.router"):
        callback = await web.get(back.headers["location"])
    assert callback.status_code == 401
    assert callback.json()["code"] == "login_failed"
    assert "sign-in failed: login_cookie_invalid_or_expired" in caplog.text
    assert "not-a-sealed-value" not in caplog.text
