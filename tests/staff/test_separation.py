"""A patient's session never reaches a staff route, nor a staff session a patient route:
every route of the app, both ways."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from app.auth.cookies import SESSION_COOKIE, STAFF_SESSION_COOKIE
from app.auth.deps import current_session
from app.devtools.cis2 import find_staff_persona, sign_in_staff_persona
from app.staff.deps import current_staff_session
from tests.conftest import SignIn


def _depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(sub.call is call or _depends_on(sub, call) for sub in dependant.dependencies)


async def _send(
    client: httpx.AsyncClient, method: str, path: str, presented: dict[str, Any]
) -> httpx.Response:
    client.cookies.clear()
    for name, value in presented.get("cookies", {}).items():
        client.cookies.set(name, value)
    return await client.request(method, path, json={}, headers=presented.get("headers"))


def _routes(app: FastAPI, call: Callable[..., Any]) -> list[tuple[str, str]]:
    """(method, path) of every route behind `call`, path parameters filled in."""
    found = []
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and _depends_on(route.dependant, call):
            path = re.sub(r"\{ods_code\}", "A81001", route.path_format)
            path = re.sub(r"\{[^}]+\}", "x1", path)
            found += [(method, path) for method in sorted(route.methods)]
    return found


async def test_a_patient_session_is_refused_on_every_staff_route(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    olivia = await sign_in("adult-full", ods_code="A81001")
    routes = _routes(app, current_staff_session)
    assert ("GET", "/v1/staff/me") in routes
    assert ("POST", "/v1/practices/A81001/access-requests/x1/approve") in routes
    for method, path in routes:
        for presented in (
            {"headers": olivia.headers},
            {"cookies": {SESSION_COOKIE: olivia.token}},
            # The patient's token under the staff cookie's name is no staff session either.
            {"cookies": {STAFF_SESSION_COOKIE: olivia.token}},
        ):
            response = await _send(client, method, path, presented)
            assert (response.status_code, response.json()["code"]) == (
                401,
                "staff_not_signed_in",
            ), (method, path, presented)


async def test_a_staff_session_is_refused_on_every_patient_route(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    persona = find_staff_persona("gp-a81001")
    assert persona is not None
    token = (await sign_in_staff_persona(app, persona)).token
    cookie_token = (await sign_in_staff_persona(app, persona, via="cookie")).token
    routes = _routes(app, current_session)
    assert ("GET", "/v1/me") in routes
    assert len(routes) > 20
    for method, path in routes:
        for presented in (
            {"headers": {"Authorization": f"Bearer {token}"}},
            {"cookies": {STAFF_SESSION_COOKIE: cookie_token}},
            {"cookies": {SESSION_COOKIE: cookie_token}},
        ):
            response = await _send(client, method, path, presented)
            assert (response.status_code, response.json()["code"]) == (401, "not_signed_in"), (
                method,
                path,
                presented,
            )
    # And each staff session, sent the same way, works where it belongs.
    for presented in (
        {"headers": {"Authorization": f"Bearer {token}"}},
        {"cookies": {STAFF_SESSION_COOKIE: cookie_token}},
    ):
        assert (await _send(client, "GET", "/v1/staff/me", presented)).status_code == 200
