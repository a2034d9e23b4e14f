"""Practice staff sign in with NHS CIS2 (the dev stand-in), and their sessions' limits."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI

from app.auth.cookies import SESSION_COOKIE, STAFF_SESSION_COOKIE
from app.devtools.cis2 import find_staff_persona, sign_in_staff_persona
from tests.conftest import FakeClock
from tests.staff.conftest import BASE_URL, staff_app_sign_in, staff_web_sign_in

LIST = "/v1/practices/{}/access-requests"


async def test_web_sign_in_through_cis2_gives_a_staff_cookie_for_its_practice(
    web: httpx.AsyncClient,
) -> None:
    back = await staff_web_sign_in(web, "gp-a81001")
    assert back.status_code == 303, back.text
    assert back.headers["location"] == "/docs"
    assert web.cookies.get(STAFF_SESSION_COOKIE)
    assert web.cookies.get(SESSION_COOKIE) is None  # no patient session came with it
    set_cookie = back.headers["set-cookie"].lower()
    assert "samesite=strict" in set_cookie and "httponly" in set_cookie and "secure" in set_cookie

    me = await web.get("/v1/staff/me")
    assert me.status_code == 200, me.text
    body = me.json()
    assert (body["user_id"], body["name"], body["via"]) == ("555000000101", "Asha Patel", "cookie")
    assert body["practices"] == [{"ods_code": "A81001", "roles": ["clinician"]}]
    assert (await web.get(LIST.format("A81001"))).status_code == 200
    refused = await web.get(LIST.format("B82002"))
    assert (refused.status_code, refused.json()["code"]) == (403, "not_staff_of_practice")


async def test_app_sign_in_gives_a_bearer_token_with_roles_at_two_practices(
    web: httpx.AsyncClient,
) -> None:
    issued = await staff_app_sign_in(web, "locum-a81001-b82002")
    assert issued.status_code == 201, issued.text
    assert issued.json()["idle_timeout"] == 30 * 60
    headers = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    me = (await web.get("/v1/staff/me", headers=headers)).json()
    assert me["via"] == "bearer"
    assert [p["ods_code"] for p in me["practices"]] == ["A81001", "B82002"]
    for ods_code in ("A81001", "B82002"):
        assert (await web.get(LIST.format(ods_code), headers=headers)).status_code == 200
    refused = await web.get(LIST.format("C83003"), headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "not_staff_of_practice")


async def test_cancelling_at_cis2_comes_back_calmly_without_a_session(
    web: httpx.AsyncClient,
) -> None:
    back = await staff_web_sign_in(web, None)
    assert back.status_code == 303
    assert back.headers["location"] == "/docs?login_error=login_cancelled"
    assert web.cookies.get(STAFF_SESSION_COOKIE) is None
    # The flag goes in the query, not after a fragment Swagger UI keeps its place with.
    back = await staff_web_sign_in(web, None, return_to="/docs%23section")
    assert back.headers["location"] == "/docs?login_error=login_cancelled#section"


async def test_a_callback_without_the_sign_in_cookie_is_refused(web: httpx.AsyncClient) -> None:
    start = await web.get("/v1/staff/auth/login")
    web.cookies.clear()
    response = await web.get(f"/v1/staff/auth/callback?code=x&state={start.status_code}")
    assert (response.status_code, response.json()["code"]) == (401, "staff_login_failed")


async def test_a_tampered_or_unknown_token_is_refused(
    staff_app: FastAPI, web: httpx.AsyncClient
) -> None:
    persona = find_staff_persona("gp-a81001")
    assert persona is not None
    token = (await sign_in_staff_persona(staff_app, persona)).token
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for presented in (tampered, "not-a-token", ""):
        response = await web.get("/v1/staff/me", headers={"Authorization": f"Bearer {presented}"})
        assert (response.status_code, response.json()["code"]) == (401, "staff_not_signed_in")
    # The cookie's token is not a bearer token, nor the other way round.
    response = await web.get("/v1/staff/me", cookies={STAFF_SESSION_COOKIE: token})
    assert (response.status_code, response.json()["code"]) == (401, "staff_not_signed_in")


async def test_sessions_end_after_30_minutes_idle_and_12_hours_in_all(
    staff_app: FastAPI, web: httpx.AsyncClient, clock: FakeClock
) -> None:
    persona = find_staff_persona("reception-b82002")
    assert persona is not None
    idle = (await sign_in_staff_persona(staff_app, persona)).token
    busy = (await sign_in_staff_persona(staff_app, persona)).token

    async def me(token: str) -> httpx.Response:
        return await web.get("/v1/staff/me", headers={"Authorization": f"Bearer {token}"})

    # Kept busy every 20 minutes for almost 12 hours: still signed in.
    for _ in range(35):
        clock.advance(timedelta(minutes=20))
        assert (await me(busy)).status_code == 200
    expired = await me(idle)
    assert (expired.status_code, expired.json()["code"]) == (401, "staff_session_expired")
    clock.advance(timedelta(minutes=21))  # past 12 hours since signing in
    expired = await me(busy)
    assert (expired.status_code, expired.json()["code"]) == (401, "staff_session_expired")


async def test_signing_out_ends_the_staff_session_only(
    staff_app: FastAPI, web: httpx.AsyncClient
) -> None:
    back = await staff_web_sign_in(web, "gp-c83003")
    assert back.status_code == 303
    cookie = web.cookies[STAFF_SESSION_COOKIE]
    # From another site: refused, and the session stays.
    refused = await web.post("/v1/staff/auth/logout", headers={"Origin": "https://evil.example"})
    assert (refused.status_code, refused.json()["code"]) == (403, "staff_origin_not_allowed")
    assert (await web.get("/v1/staff/me")).status_code == 200
    out = await web.post("/v1/staff/auth/logout", headers={"Origin": BASE_URL})
    assert out.status_code == 204
    again = await web.get("/v1/staff/me", cookies={STAFF_SESSION_COOKIE: cookie})
    assert (again.status_code, again.json()["code"]) == (401, "staff_not_signed_in")
    # Twice is fine.
    assert (await web.post("/v1/staff/auth/logout")).status_code == 204


async def test_a_change_with_the_staff_cookie_must_come_from_this_site(
    web: httpx.AsyncClient,
) -> None:
    await staff_web_sign_in(web, "gp-a81001")
    url = LIST.format("A81001") + "/no-such-application/approve"
    for headers in ({}, {"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        response = await web.post(url, headers=headers)
        assert (response.status_code, response.json()["code"]) == (403, "staff_origin_not_allowed")
    for headers in ({"Origin": BASE_URL}, {"Sec-Fetch-Site": "same-origin"}):
        response = await web.post(url, headers=headers)
        assert (response.status_code, response.json()["code"]) == (404, "access_request_not_found")
