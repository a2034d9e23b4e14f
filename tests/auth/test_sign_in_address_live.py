"""`python -m app` listening on every address (HOST=0.0.0.0: a VM, a container, a remote
box) with no PUBLIC_BASE_URL: it names an address where web sign-in works, and a
browser that uses it signs in through the development NHS login stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from app.adapters.sandbox.personas import find_persona
from tests.frozen import SUITE_TODAY
from tests.live_server import LiveServer, live_server
from tests.sign_in_address import browser_like_client, printed_docs_address, web_sign_in


@pytest.fixture(scope="module")
def wildcard_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("wildcard")
    env = {
        "APP_ENV": "dev",
        "HOST": "0.0.0.0",  # noqa: S104
        "PUBLIC_BASE_URL": None,
        "NHS_LOGIN_PRIVATE_KEY_FILE": str(directory / "client-key.pem"),
        "LOG_LEVEL": "INFO",
    }
    with live_server(directory, env=env) as running:
        yield running


def persona_sub() -> str:
    return find_persona(SUITE_TODAY, "adult-full").nhs_login_claims["sub"]


def test_the_banner_names_loopback_at_the_port_served_never_the_wildcard(
    wildcard_server: LiveServer,
) -> None:
    docs = printed_docs_address(wildcard_server)
    port = wildcard_server.port
    assert docs == f"http://127.0.0.1:{port}/docs"
    log = wildcard_server.log.read_text()
    assert f"0.0.0.0:{port}/" not in log
    assert "Listening on every address (HOST=0.0.0.0)" in log
    assert f"ssh -N -L {port}:127.0.0.1:{port}" in log


def test_a_web_sign_in_at_the_address_the_service_names_completes(
    wildcard_server: LiveServer,
) -> None:
    docs = printed_docs_address(wildcard_server)
    base = docs.removesuffix("/docs")
    with browser_like_client() as browser:
        done = web_sign_in(browser, f"{base}/v1/auth/login?return_to=/docs", persona_sub())
        assert done.status_code == 200, done.text
        assert str(done.url) == docs
        me = browser.get(f"{base}/v1/me")
    assert me.status_code == 200, me.text


@pytest.mark.parametrize("name", ["localhost", "0.0.0.0"])  # noqa: S104
def test_a_web_sign_in_started_at_another_name_for_this_server_completes_at_the_named_one(
    wildcard_server: LiveServer, name: str
) -> None:
    docs = printed_docs_address(wildcard_server)
    elsewhere = f"http://{name}:{wildcard_server.port}"
    with browser_like_client() as browser:
        done = web_sign_in(browser, f"{elsewhere}/v1/auth/login?return_to=/docs", persona_sub())
        assert done.status_code == 200, done.text
        assert str(done.url) == docs
        me = browser.get(f"{docs.removesuffix('/docs')}/v1/me")
    assert me.status_code == 200, me.text
    assert urlsplit(str(done.url)).hostname == "127.0.0.1"
