"""The public address follows how the service was started, and is one a browser can use."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import pytest
import uvicorn
from pydantic import ValidationError

import app.__main__ as entry
from app.__main__ import start_here
from app.auth.problems import LoginCookieMissing
from app.config import Settings
from app.public_address import (
    keeps_sign_in_cookie,
    same_server_at_public_address,
    served_base_url,
)


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("0.0.0.0", 9000, "http://127.0.0.1:9000"),  # noqa: S104
        ("::", 9000, "http://[::1]:9000"),
        ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
        ("localhost", 8001, "http://localhost:8001"),
        ("::1", 8002, "http://[::1]:8002"),
        ("192.0.2.7", 8000, "http://192.0.2.7:8000"),
        ("0.0.0.0", 80, "http://127.0.0.1"),  # noqa: S104
    ],
)
def test_the_served_address_is_one_a_browser_on_this_machine_opens(
    host: str, port: int, expected: str
) -> None:
    assert served_base_url(host, port) == expected


def test_outside_prod_an_unset_public_base_url_follows_the_bound_address(
    make_settings: Callable[..., Settings],
) -> None:
    for env in ("dev", "test"):
        settings = make_settings(app_env=env)
        assert settings.served_at("0.0.0.0", 9123).public_base_url == "http://127.0.0.1:9123"  # noqa: S104
        assert settings.served_at("127.0.0.1", 9124).public_base_url == "http://127.0.0.1:9124"


def test_a_public_base_url_given_is_kept_and_prod_never_derives_one(
    make_settings: Callable[..., Settings],
) -> None:
    given = make_settings(app_env="dev", public_base_url="https://gp.example")
    assert given.served_at("0.0.0.0", 9123).public_base_url == "https://gp.example"  # noqa: S104
    prod = make_settings(app_env="prod")
    served = prod.served_at("0.0.0.0", 9123)  # noqa: S104
    assert served.public_base_url == "http://127.0.0.1:8000"
    assert "PUBLIC_BASE_URL must be an https:// URL" in served.unsafe_for_production()


@pytest.mark.parametrize("url", ["http://0.0.0.0:8000", "http://[::]:8000", "https://0.0.0.0"])
def test_a_wildcard_public_base_url_is_refused_with_what_to_use(
    make_settings: Callable[..., Settings], url: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        make_settings(app_env="dev", public_base_url=url)
    assert "http://127.0.0.1:8000" in str(refused.value)
    assert "leave it unset" in str(refused.value)


def test_python_m_app_serves_sign_in_at_the_port_it_was_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`python -m app --host 0.0.0.0 --port N` (a container's command): workers read
    PUBLIC_BASE_URL from the environment, so it must name port N at loopback."""
    monkeypatch.setenv("PUBLIC_BASE_URL", "unset below")
    monkeypatch.delenv("PUBLIC_BASE_URL")
    monkeypatch.setenv("APP_ENV", "dev")
    monkeypatch.setenv("PORT", "8000")
    monkeypatch.setattr(sys, "argv", ["python -m app", "--host", "0.0.0.0", "--port", "9123"])  # noqa: S104
    started: dict[str, Any] = {}
    monkeypatch.setattr(entry, "prepare_metrics", lambda *args, **kwargs: None)
    monkeypatch.setattr(
        entry, "announce_when_serving", lambda settings, host, port: started.update(banner=settings)
    )
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.update(kwargs))
    entry.main()
    assert started["host"] == "0.0.0.0"  # noqa: S104
    assert started["port"] == 9123
    assert os.environ["PUBLIC_BASE_URL"] == "http://127.0.0.1:9123"
    assert started["banner"].public_base_url == "http://127.0.0.1:9123"


def test_the_banner_for_every_address_names_loopback_and_how_to_reach_it_from_elsewhere(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(entry, "machine_addresses", lambda: ["devbox", "192.0.2.7"])
    settings = make_settings(app_env="dev").served_at("0.0.0.0", 9000)  # noqa: S104
    text = start_here(settings, "0.0.0.0", 9000)  # noqa: S104
    assert "Swagger UI   http://127.0.0.1:9000/docs" in text
    assert "http://127.0.0.1:9000/v1/auth/login?return_to=/docs" in text
    assert "0.0.0.0:9000" not in text  # listened on, never to be opened
    assert "http://192.0.2.7:9000" in text
    assert "ssh -N -L 9000:127.0.0.1:9000 192.0.2.7" in text
    assert "docker run -p 9000:9000" in text


def test_the_banner_warns_when_browsers_cannot_keep_the_cookie_at_the_public_address(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(app_env="dev", public_base_url="http://192.0.2.7:9000")
    text = start_here(settings, "0.0.0.0", 9000)  # noqa: S104
    assert "Web sign-in cannot work at http://192.0.2.7:9000" in text
    assert "https" in text
    quiet = start_here(make_settings(app_env="dev").served_at("127.0.0.1", 9000), "127.0.0.1", 9000)
    assert "cannot work" not in quiet
    assert "every address" not in quiet


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://gp.example", True),
        ("http://127.0.0.1:8000", True),
        ("http://localhost:8000", True),
        ("http://[::1]:8000", True),
        ("http://192.0.2.7:8000", False),
        ("http://devbox:8000", False),
        ("http://0.0.0.0:8000", False),
    ],
)
def test_where_browsers_keep_the_secure_sign_in_cookie(url: str, kept: bool) -> None:
    assert keeps_sign_in_cookie(url) is kept


@pytest.mark.parametrize(
    ("request_url", "expected"),
    [
        ("http://localhost:8000/docs", "http://127.0.0.1:8000/docs"),
        ("http://0.0.0.0:8000/docs", "http://127.0.0.1:8000/docs"),
        (
            "http://[::1]:8000/v1/auth/login?return_to=/docs",
            "http://127.0.0.1:8000/v1/auth/login?return_to=/docs",
        ),
        ("http://127.0.0.1:8000/docs", None),  # already there
        ("http://localhost:8080/docs", None),  # another port: perhaps a forwarded one
        ("http://192.0.2.7:8000/docs", None),  # another computer may not reach loopback
        ("https://localhost:8000/docs", None),
    ],
)
def test_only_another_local_name_for_the_same_server_goes_to_the_public_address(
    request_url: str, expected: str | None
) -> None:
    assert same_server_at_public_address(request_url, "http://127.0.0.1:8000") == expected


def test_behind_https_no_request_is_sent_elsewhere() -> None:
    assert same_server_at_public_address("http://localhost:8000/docs", "https://gp.example") is None


def test_the_missing_cookie_advice_names_the_public_address_where_browsers_keep_it() -> None:
    problem = LoginCookieMissing("http://127.0.0.1:8000")
    assert "Open the site at http://127.0.0.1:8000 (not another name for it)" in problem.detail


def test_the_missing_cookie_advice_at_a_plain_http_address_says_why_it_cannot_work() -> None:
    """Not "open the site at <the address already in use>": what would make it work."""
    problem = LoginCookieMissing("http://192.0.2.7:8000")
    assert "Open the site at" not in problem.detail
    assert "cannot keep the sign-in cookie at http://192.0.2.7:8000" in problem.detail
    assert "https" in problem.detail
    assert "http://127.0.0.1" in problem.detail
