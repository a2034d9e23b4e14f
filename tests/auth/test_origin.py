"""The Origin / Sec-Fetch-Site check on cookie sessions, beside the CSRF token, on a real server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.auth.cookies import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from tests.live_server import LiveServer, Session, live_server

APP_ORIGIN = "https://portal.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(
        tmp_path_factory.mktemp("origin"),
        env={"CORS_ALLOW_ORIGINS": APP_ORIGIN},
        sign_in={"cookie": ("adult-full", "cookie"), "bearer": ("adult-full", "bearer")},
    ) as running:
        yield running


def cookie_headers(session: Session, **extra: str) -> dict[str, str]:
    return {
        "Cookie": f"{SESSION_COOKIE}={session.token}; {CSRF_COOKIE}={session.csrf_token}",
        CSRF_HEADER: session.csrf_token,
        **extra,
    }


def book(server: LiveServer, headers: dict[str, str]) -> int:
    session = server.sessions["cookie"]
    with server.client() as client:
        response = client.post(
            f"/v1/patients/{session.patient_id}/appointments",
            json={"slot_id": "no-such-slot"},
            headers={"Idempotency-Key": "5f1a0d7e-0000-4000-8000-000000000001", **headers},
        )
    if response.status_code == 403:
        assert response.headers["content-type"] == "application/problem+json"
        return 403 if response.json()["code"] == "origin_not_allowed" else -403
    return response.status_code


@pytest.mark.parametrize(
    "sent",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_a_cookie_request_from_another_site_is_refused_even_with_the_csrf_token(
    server: LiveServer, sent: dict[str, str]
) -> None:
    assert book(server, cookie_headers(server.sessions["cookie"], **sent)) == 403


@pytest.mark.parametrize(
    "sent",
    [
        {},  # not a browser: the CSRF token alone
        {"Sec-Fetch-Site": "same-origin"},
        {"Origin": "http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"},
        {"Origin": APP_ORIGIN, "Sec-Fetch-Site": "cross-site"},  # an allowed CORS origin
    ],
)
def test_this_site_and_allowed_origins_get_through_to_the_route(
    server: LiveServer, sent: dict[str, str]
) -> None:
    sent = {name: value.format(port=server.port) for name, value in sent.items()}
    # The route answers (an unknown slot), so neither check refused.
    status = book(server, cookie_headers(server.sessions["cookie"], **sent))
    assert status not in (403, -403)
    assert 400 <= status < 500


def test_bearer_requests_are_not_origin_checked(server: LiveServer) -> None:
    bearer = server.sessions["bearer"]
    status = book(
        server, {"Authorization": f"Bearer {bearer.token}", "Origin": "https://evil.example"}
    )
    assert status not in (403, -403)


def test_sign_out_with_a_cookie_from_another_site_is_refused(server: LiveServer) -> None:
    session = server.sessions["cookie"]
    with server.client() as client:
        refused = client.post(
            "/v1/auth/logout", headers=cookie_headers(session, Origin="https://evil.example")
        )
        assert refused.status_code == 403
        assert refused.json()["code"] == "origin_not_allowed"
        still = client.get("/v1/auth/session", headers=cookie_headers(session))
        assert still.status_code == 200
