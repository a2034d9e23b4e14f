"""Browser security headers on every response, seen from a real server process."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.config import Settings
from app.main import create_app
from tests.conftest import FakeClock
from tests.live_server import LiveServer, live_server

INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("headers")) as running:
        yield running


def directives(response: httpx.Response) -> dict[str, set[str]]:
    policy = response.headers["content-security-policy"]
    parsed = {}
    for directive in policy.split(";"):
        name, *values = directive.split()
        parsed[name] = set(values)
    return parsed


@pytest.mark.parametrize(
    "path", ["/docs", "/redoc", "/openapi.json", "/v1/auth/session", "/healthz", "/nowhere"]
)
def test_every_answer_forbids_framing_and_referrers(server: LiveServer, path: str) -> None:
    with server.client() as client:
        response = client.get(path)
    csp = directives(response)
    assert csp["frame-ancestors"] == {"'none'"}
    assert csp["default-src"] == {"'none'"}
    assert "'unsafe-inline'" not in csp.get("script-src", set())
    assert "'unsafe-eval'" not in csp.get("script-src", set())
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    # PUBLIC_BASE_URL is http here: no HSTS, which would break plain-http development.
    assert "strict-transport-security" not in response.headers


def test_api_answers_may_load_nothing(server: LiveServer) -> None:
    with server.client() as client:
        csp = directives(client.get("/v1/auth/session"))
    assert set(csp) == {"default-src", "frame-ancestors", "base-uri", "form-action", "sandbox"}
    assert csp["sandbox"] == set()  # no allowances: no script, forms or origin of ours


def test_swagger_ui_runs_only_scripts_from_this_site(server: LiveServer) -> None:
    with server.client() as client:
        response = client.get("/docs")
    # Its set-up (and the CSRF interceptor) is an external script: nothing inline to hash.
    assert INLINE_SCRIPT.findall(response.text) == []
    csp = directives(response)
    assert csp["script-src"] == {"'self'"}
    assert csp["connect-src"] == {"'self'"}  # "Try it out" calls this service only


def test_swagger_ui_oauth2_redirect_runs_only_its_own_inline_script(server: LiveServer) -> None:
    with server.client() as client:
        response = client.get("/docs/oauth2-redirect")
    scripts = INLINE_SCRIPT.findall(response.text)
    assert scripts
    hashes = {
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in scripts
    }
    assert directives(response)["script-src"] == {"'self'", *hashes}


def test_redoc_can_fetch_nothing_from_another_host(server: LiveServer) -> None:
    with server.client() as client:
        response = client.get("/redoc")
        script = client.get("/static-offline-docs/redoc.standalone.js").text
    csp = directives(response)
    # ReDoc's bundle shows a logo from an external host; the policy stops the request.
    assert "https://cdn.redoc.ly/redoc/logo-mini.svg" in script
    assert csp["img-src"] == {"'self'", "data:"}
    for directive in ("script-src", "style-src", "connect-src", "font-src", "worker-src"):
        assert all(not source.startswith(("http:", "https:")) for source in csp[directive])
    assert csp["script-src"] == {"'self'"}  # ReDoc's page has no inline script


async def test_hsts_when_the_public_address_is_https(
    make_settings: Callable[..., Settings], engine: object
) -> None:
    app = create_app(make_settings(public_base_url="https://gp-online.example"), clock=FakeClock())
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="https://gp-online.example"
        ) as client,
    ):
        response = await client.get("/healthz")
    hsts = response.headers["strict-transport-security"]
    assert "max-age=63072000" in hsts and "includeSubDomains" in hsts
