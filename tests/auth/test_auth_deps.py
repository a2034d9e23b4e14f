"""Who is signed in (`app.auth.deps`): the token, the Origin and CSRF checks, the P9 step-up.

The checks as functions first (fast, every case), then through the app on a probe
route that accepts every method, with bearer and cookie sessions started the way a
sign-in starts them. These are what `make mutation` runs against the module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request

from app.adapters.sandbox.personas import find_persona
from app.audit.types import AuditAction
from app.auth.cookies import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from app.auth.deps import (
    CurrentSession,
    check_csrf,
    check_origin,
    origin_of,
    presented_credentials,
    presented_token,
    require_identity_level,
    session_security,
    step_up_url,
    step_up_vectors,
)
from app.auth.problems import CSRFTokenInvalid, OriginNotAllowed
from app.auth.types import SignedIn
from app.clock import today
from app.config import Settings
from app.devtools.sessions import sign_in_persona
from app.main import create_app
from tests.audit.rows import refused
from tests.conftest import FakeClock

SITE = "https://gp.example"
PORTAL = "https://portal.example:8443"

# --- the checks as functions --------------------------------------------------------------


def request(
    method: str = "POST",
    path: str = "/v1/x",
    query: str = "",
    headers: dict[str, str] | None = None,
) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "headers": raw,
    }
    return Request(scope)


@dataclass
class Site:
    """The two settings the Origin check reads."""

    public_base_url: str = SITE
    cors_allow_origins: list[str] = field(default_factory=lambda: [PORTAL])
    nhs_login_vtr: str = '["P9.Cp.Cd","P9.Cm","P5.Cp.Cd"]'


@dataclass
class Auth:
    settings: Site = field(default_factory=Site)

    def csrf_token(self, session_id: str) -> str:
        return f"csrf-for-{session_id}"


@dataclass
class Session:
    session_id: str = "s-1"
    account_id: str = "account-1"


def test_a_bearer_token_wins_over_a_cookie() -> None:
    bearer = HTTPAuthorizationCredentials(scheme="Bearer", credentials="b")
    assert presented_token(bearer, "c") == ("b", "bearer")
    assert presented_token(bearer, None) == ("b", "bearer")
    empty = HTTPAuthorizationCredentials(scheme="Bearer", credentials="")
    assert presented_token(empty, "c") == ("c", "cookie")
    assert presented_token(None, "c") == ("c", "cookie")
    assert presented_token(None, "") is None
    assert presented_token(empty, None) is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Authorization": "Bearer b"}, ("b", "bearer")),
        ({"Authorization": "bearer b"}, ("b", "bearer")),
        ({"Authorization": "Bearer b", "Cookie": f"{SESSION_COOKIE}=c"}, ("b", "bearer")),
        # A malformed bearer token is still the token sent: refused, never the cookie.
        ({"Authorization": "Bearer b x", "Cookie": f"{SESSION_COOKIE}=c"}, ("b x", "bearer")),
        ({"Authorization": "Bearer", "Cookie": f"{SESSION_COOKIE}=c"}, ("c", "cookie")),
        # Another scheme (a proxy's Basic credentials) is not a session token.
        ({"Authorization": "Basic dXNlcjpwdw==", "Cookie": f"{SESSION_COOKIE}=c"}, ("c", "cookie")),
        ({"Authorization": "Basic dXNlcjpwdw=="}, None),
        ({"Cookie": f"{SESSION_COOKIE}=c"}, ("c", "cookie")),
    ],
)
def test_the_token_is_read_as_the_security_schemes_read_it(
    headers: dict[str, str], expected: tuple[str, str] | None
) -> None:
    presented, csrf = presented_credentials(request(headers=headers))
    assert presented == expected
    assert csrf is None


def test_the_csrf_header_is_read_beside_the_token() -> None:
    sent = request(headers={CSRF_HEADER: "t", "Cookie": f"{SESSION_COOKIE}=c"})
    assert presented_credentials(sent) == (("c", "cookie"), "t")


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "get"])
def test_safe_methods_document_a_bearer_token_or_the_cookie(method: str) -> None:
    assert session_security(method) == [{"BearerSession": []}, {"SessionCookie": []}]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "post"])
def test_unsafe_methods_document_the_csrf_token_with_the_cookie(method: str) -> None:
    assert session_security(method) == [
        {"BearerSession": []},
        {"SessionCookie": [], "CSRFToken": []},
    ]


def test_an_origin_is_scheme_and_host_in_lower_case() -> None:
    assert origin_of("HTTPS://Portal.Example:8443/path?q=1") == "https://portal.example:8443"
    assert origin_of("http://127.0.0.1:8000") == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": SITE},
        {"Origin": "HTTPS://GP.EXAMPLE"},
        {"Origin": PORTAL, "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
        {"Origin": SITE, "Sec-Fetch-Site": "same-origin"},
    ],
)
def test_this_site_and_allowed_origins_pass(headers: dict[str, str]) -> None:
    check_origin(request(headers=headers), Site())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "https://gp.example.evil.example"},
        {"Origin": "http://gp.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"},
    ],
)
def test_another_site_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(OriginNotAllowed):
        check_origin(request(headers=headers), Site())  # type: ignore[arg-type]


def test_the_public_base_url_is_always_allowed() -> None:
    site = Site(public_base_url="HTTPS://GP.EXAMPLE/app", cors_allow_origins=[])
    check_origin(request(headers={"Origin": SITE}), site)  # type: ignore[arg-type]
    with pytest.raises(OriginNotAllowed):
        check_origin(request(headers={"Origin": PORTAL}), site)  # type: ignore[arg-type]


def csrf_request(header_cookie: str | None, **headers: str) -> Request:
    if header_cookie is not None:
        headers["Cookie"] = f"{CSRF_COOKIE}={header_cookie}"
    return request(headers=headers)


def test_the_csrf_header_and_cookie_must_both_be_the_sessions_token() -> None:
    good = "csrf-for-s-1"
    check_csrf(csrf_request(good), Auth(), Session(), good)  # type: ignore[arg-type]
    cases = [
        (good, None),  # no header
        (good, ""),  # empty header
        (good, "csrf-for-s-2"),  # another session's token in the header
        (None, good),  # no cookie
        ("csrf-for-s-2", good),  # another session's token in the cookie
        ("x", "x"),  # a pair planted from elsewhere
    ]
    for cookie, header in cases:
        with pytest.raises(CSRFTokenInvalid):
            check_csrf(csrf_request(cookie), Auth(), Session(), header)  # type: ignore[arg-type]


def test_the_origin_is_checked_before_the_token() -> None:
    good = "csrf-for-s-1"
    evil = csrf_request(good, Origin="https://evil.example")
    with pytest.raises(OriginNotAllowed):
        check_csrf(evil, Auth(), Session(), good)  # type: ignore[arg-type]


def test_step_up_asks_for_the_configured_p9_vectors_only() -> None:
    assert step_up_vectors('["P9.Cp.Cd","P5.Cp.Cd","P9.Cm"]') == ("P9.Cp.Cd", "P9.Cm")
    assert step_up_vectors('["P5.Cp.Cd","P0.Cp.Cd"]') == ("P9.Cp.Cd", "P9.Cp.Ck", "P9.Cm")


def test_the_step_up_url_comes_back_to_a_get_with_its_query() -> None:
    def parsed(url: str) -> dict[str, list[str]]:
        assert url.startswith("/v1/auth/login?")
        return parse_qs(urlsplit(url).query)

    with_query = step_up_url(request("GET", "/v1/me", "a=1&b=2"), Auth())  # type: ignore[arg-type]
    assert parsed(with_query) == {"vtr": ['["P9.Cp.Cd","P9.Cm"]'], "return_to": ["/v1/me?a=1&b=2"]}
    plain = step_up_url(request("GET", "/v1/me"), Auth())  # type: ignore[arg-type]
    assert parsed(plain)["return_to"] == ["/v1/me"]
    posted = step_up_url(request("POST", "/v1/me"), Auth())  # type: ignore[arg-type]
    assert parsed(posted) == {"vtr": ['["P9.Cp.Cd","P9.Cm"]']}


# --- through the app ------------------------------------------------------------------------

probe = APIRouter()
EVERY_METHOD = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]


@probe.api_route("/test-only/who", methods=EVERY_METHOD)
async def who(signed_in: CurrentSession) -> dict[str, Any]:
    return {"via": signed_in.via, "level": signed_in.identity_level}


@pytest.fixture
def settings(make_settings: Callable[..., Settings], sandbox_database_url: str) -> Settings:
    return make_settings(
        sandbox_database_url=sandbox_database_url,
        public_base_url=SITE,
        cors_allow_origins=PORTAL,
        rate_limit_account="4/minute",
    )


@pytest.fixture
def app(settings: Settings, engine: AsyncEngine, clock: FakeClock) -> FastAPI:
    app = create_app(settings, clock=clock)
    app.include_router(probe)
    # Built here rather than at import, as `P9Session` is, so that the check is the one
    # under test whenever the app is made.
    needs_p9 = require_identity_level("P9")

    async def p9_only(signed_in: SignedIn = Depends(needs_p9)) -> dict[str, str]:
        return {"level": signed_in.identity_level}

    app.add_api_route("/test-only/p9", p9_only, methods=["GET"])
    return app


@dataclass
class Started:
    token: str
    csrf: str
    account_id: str


StartSession = Callable[..., Any]


@pytest.fixture
def start(app: FastAPI, client: httpx.AsyncClient, clock: FakeClock) -> StartSession:
    async def start(tag: str = "adult-full", via: str = "bearer") -> Started:
        issued = await sign_in_persona(app, find_persona(today(clock), tag), via=via)
        csrf = app.state.auth.csrf_token(issued.signed_in.session_id)
        return Started(issued.token, csrf, issued.signed_in.account_id)

    return start


def cookies(session: Started) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={session.token}; {CSRF_COOKIE}={session.csrf}"}


async def refusals(app: FastAPI) -> list[tuple[Any, ...]]:
    return [(r.action, r.actor_id, r.target) for r in await refused(app)]


async def test_no_token_is_not_signed_in(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer "}, {"Cookie": f"{SESSION_COOKIE}="}):
        response = await client.get("/test-only/who", headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "not_signed_in"


async def test_a_bearer_session_needs_no_csrf_token(
    client: httpx.AsyncClient, start: StartSession
) -> None:
    session = await start()
    headers = {"Authorization": f"Bearer {session.token}", "Origin": "https://evil.example"}
    response = await client.post("/test-only/who", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"via": "bearer", "level": "P9"}


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
async def test_a_cookie_session_reads_without_a_csrf_token(
    client: httpx.AsyncClient, start: StartSession, method: str
) -> None:
    session = await start(via="cookie")
    response = await client.request(
        method, "/test-only/who", headers={**cookies(session), "Origin": "https://evil.example"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_a_cookie_session_writes_only_with_the_csrf_token(
    app: FastAPI, client: httpx.AsyncClient, start: StartSession, method: str
) -> None:
    session = await start(via="cookie")
    refused = await client.request(method, "/test-only/who", headers=cookies(session))
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_token_invalid"
    allowed = await client.request(
        method, "/test-only/who", headers={**cookies(session), CSRF_HEADER: session.csrf}
    )
    assert allowed.status_code == 200
    assert allowed.json()["via"] == "cookie"
    assert await refusals(app) == [
        (AuditAction.REQUEST_REFUSED, session.account_id, "csrf_token_invalid")
    ]


async def test_a_cookie_write_from_another_site_is_refused_and_audited(
    app: FastAPI, client: httpx.AsyncClient, start: StartSession
) -> None:
    session = await start(via="cookie")
    headers = {**cookies(session), CSRF_HEADER: session.csrf, "Origin": "https://evil.example"}
    refused = await client.post("/test-only/who", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "origin_not_allowed"
    assert await refusals(app) == [
        (AuditAction.REQUEST_REFUSED, session.account_id, "origin_not_allowed")
    ]


async def test_a_cookie_token_sent_as_a_bearer_token_is_not_a_session(
    client: httpx.AsyncClient, start: StartSession
) -> None:
    session = await start(via="cookie")
    response = await client.get(
        "/test-only/who", headers={"Authorization": f"Bearer {session.token}"}
    )
    assert response.json()["code"] == "not_signed_in"


async def test_every_signed_in_request_counts_against_its_own_account(
    app: FastAPI, client: httpx.AsyncClient, start: StartSession
) -> None:
    session, other = await start(), await start("proxy-parent")
    headers = {"Authorization": f"Bearer {session.token}"}
    statuses = [(await client.get("/test-only/who", headers=headers)).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    # Another account's budget is its own.
    others = {"Authorization": f"Bearer {other.token}"}
    assert (await client.get("/test-only/who", headers=others)).status_code == 200
    assert await refusals(app) == [(AuditAction.RATE_LIMITED, session.account_id, "account")]


async def test_a_request_after_a_minute_moves_the_idle_deadline(
    client: httpx.AsyncClient, start: StartSession, clock: FakeClock
) -> None:
    session = await start()
    headers = {"Authorization": f"Bearer {session.token}"}
    clock.advance(timedelta(minutes=20))
    assert (await client.get("/test-only/who", headers=headers)).status_code == 200
    clock.advance(timedelta(minutes=20))  # 40 minutes after sign-in, 20 after the last use
    described = await client.get("/v1/auth/session", headers=headers)
    assert described.status_code == 200, described.text


async def test_p9_routes_send_a_p5_user_to_verify_their_identity(
    client: httpx.AsyncClient, start: StartSession
) -> None:
    p9 = await start()
    allowed = await client.get("/test-only/p9", headers={"Authorization": f"Bearer {p9.token}"})
    assert allowed.json() == {"level": "P9"}
    p5 = await start("p5-identity")
    refused = await client.get("/test-only/p9?x=1", headers={"Authorization": f"Bearer {p5.token}"})
    assert refused.status_code == 403
    problem = refused.json()
    assert problem["code"] == "identity_verification_required"
    query = parse_qs(urlsplit(problem["step_up_url"]).query)
    assert query["return_to"] == ["/test-only/p9?x=1"]
    assert query["vtr"] == ['["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]']
