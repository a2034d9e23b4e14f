"""Who may call which practice staff route: a matrix generated from the app's own routes.

Every operation under `/v1/practices/` and `/v1/staff/`, and every other one behind a
staff session, is found in the app, and what it needs is read from its dependency tree:
a staff session (`current_staff_session`), a role at the practice in its path
(`current_staff`), or a particular role there (`RequireStaffRole`). Today's routes are
pinned in `NEEDS`, so a staff route added later fails here until it says what it needs,
and one reached without a staff session fails too (the sign-in routes apart).

Each test is one case of who calls (no session, a patient, staff of another practice,
staff without the role, the right staff member, a session that has ended); it calls
every route and reports every route that answered wrongly together. The patients' side
is tests/patients/test_authorisation_matrix.py.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from app.auth.cookies import SESSION_COOKIE, STAFF_SESSION_COOKIE
from app.devtools.cis2 import ACR_VALUES, find_staff_persona, sign_in_staff_persona
from app.problems import PROBLEM_MEDIA_TYPE
from app.staff import service
from app.staff.deps import RequireStaffRole, current_staff, current_staff_session
from app.staff.roles import NationalRole, StaffIdentity
from app.staff.types import StaffRole
from tests.access_requests.conftest import apply
from tests.conftest import FakeClock, SignedInUser, SignIn
from tests.patients.test_authorisation_matrix import _example, app_without_database, report

STAFF_PREFIXES = ("/v1/practices/", "/v1/staff/")
PRACTICE = "A81001"  # the practice in every path; its applicant's application is real
OTHER_PRACTICE = "B82002"
MISSING_PATH_VALUE = "matrix-no-such-item"

OPEN = "open"  # no session needed: starting or ending a staff sign-in
SESSION = "session"  # any live staff session, whatever the practice
AT_PRACTICE = "at_practice"  # a role at the practice in the path that allows something
Need = str | StaffRole  # one of the above, or a particular role at the practice

# What each staff route needs. A route not named here fails the matrix: add it, with what
# it needs (a clinician has every role: app.staff.deps.RequireStaffRole).
NEEDS: dict[str, Need] = {
    "GET /v1/staff/auth/login": OPEN,
    "GET /v1/staff/auth/callback": OPEN,
    "POST /v1/staff/auth/session": OPEN,
    "POST /v1/staff/auth/logout": OPEN,
    "GET /v1/staff/me": SESSION,
    "GET /v1/practices/{ods_code}/access-requests": AT_PRACTICE,
    "GET /v1/practices/{ods_code}/access-requests/{request_id}": AT_PRACTICE,
    "POST /v1/practices/{ods_code}/access-requests/{request_id}/identity-check": AT_PRACTICE,
    # The RCGP toolkit asks for a clinician's review of the record.
    "POST /v1/practices/{ods_code}/access-requests/{request_id}/clinical-review": (
        StaffRole.CLINICIAN
    ),
    "POST /v1/practices/{ods_code}/access-requests/{request_id}/approve": AT_PRACTICE,
    "POST /v1/practices/{ods_code}/access-requests/{request_id}/reject": AT_PRACTICE,
    "POST /v1/practices/{ods_code}/access-requests/{request_id}/applied": AT_PRACTICE,
}


# --- the routes ---------------------------------------------------------------------


@dataclass(frozen=True)
class StaffRoute:
    method: str
    path: str
    need: Need
    body: dict[str, Any] | None  # a minimal request body, when the operation takes one

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def parameters(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    def url(self, ods_code: str = PRACTICE, item: str = MISSING_PATH_VALUE) -> str:
        """The path for `ods_code`, every other path parameter filled with `item`."""
        return re.sub(r"{\w+}", item, self.path.replace("{ods_code}", ods_code))


def _dependency_calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _dependency_calls(sub)


def _need_of(calls: list[Any]) -> Need:
    roles = {call.role for call in calls if isinstance(call, RequireStaffRole)}
    assert len(roles) <= 1, f"several roles demanded: {roles}"
    if roles:
        return next(iter(roles))
    if current_staff in calls:
        return AT_PRACTICE
    if current_staff_session in calls:
        return SESSION
    return OPEN


def staff_routes(app: FastAPI) -> list[StaffRoute]:
    """Every staff operation, with what its dependencies demand.

    Raises AssertionError naming any route the matrix does not know (not in `NEEDS`),
    or whose dependencies demand something other than `NEEDS` says.
    """
    openapi = app.openapi()
    components = openapi.get("components", {}).get("schemas", {})
    routes: list[StaffRoute] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path
        if not isinstance(route, APIRoute) or path is None:
            continue
        calls = list(_dependency_calls(context.dependant))
        if not path.startswith(STAFF_PREFIXES) and current_staff_session not in calls:
            continue
        for method in sorted(context.methods or ()):
            operation = openapi["paths"].get(path, {}).get(method.lower(), {})
            body_schema = (
                operation.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema")
            )
            routes.append(
                StaffRoute(
                    method=method,
                    path=path,
                    need=_need_of(calls),
                    body=None if body_schema is None else _example(body_schema, components),
                )
            )
    found = {route.label: route.need for route in routes}
    unknown = sorted(set(found) - set(NEEDS))
    assert not unknown, (
        f"Staff routes the authorisation matrix does not know: {unknown}. Add each to "
        "NEEDS with what it needs (a staff session, a role at the practice, or a "
        "particular role there)."
    )
    wrong = {label: need for label, need in found.items() if need != NEEDS[label]}
    assert not wrong, f"These routes demand something other than NEEDS says: {wrong}"
    return routes


def test_every_staff_route_is_known_and_needs_what_it_should() -> None:
    app = app_without_database()
    routes = staff_routes(app)  # fails on a route not in NEEDS, or needing something else
    assert {route.label for route in routes} == set(NEEDS)
    assert len(routes) == len(NEEDS)
    for route in routes:
        # A path naming a practice is only ever answered for staff of that practice.
        if "{ods_code}" in route.path:
            assert route.need not in (OPEN, SESSION), route.label
    documented = {
        f"{method.upper()} {path}"
        for path, operations in app.openapi()["paths"].items()
        if path.startswith(STAFF_PREFIXES)
        for method in operations
    }
    assert documented <= set(NEEDS)


def test_a_staff_route_the_matrix_does_not_know_fails_it() -> None:
    app = app_without_database()

    @app.get("/v1/practices/{ods_code}/new-thing")
    async def new_thing(ods_code: str) -> dict[str, str]:
        return {"ods_code": ods_code}

    with pytest.raises(AssertionError, match=r"GET /v1/practices/\{ods_code\}/new-thing"):
        staff_routes(app)


def test_a_known_route_demanding_less_than_pinned_fails_the_matrix() -> None:
    app = app_without_database()
    label = "POST /v1/practices/{ods_code}/access-requests/{request_id}/clinical-review"
    method, path = label.split(" ")
    app.router.routes = [
        r
        for r in app.router.routes
        if not (isinstance(r, APIRoute) and r.path == path and method in (r.methods or ()))
    ]

    @app.post(path)
    async def loosened(ods_code: str, request_id: str) -> dict[str, str]:
        return {}

    with pytest.raises(AssertionError, match="clinical-review"):
        staff_routes(app)


# --- calling every route -------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    route: StaffRoute
    who: str
    response: httpx.Response

    def __str__(self) -> str:
        return (
            f"{self.route.label} as {self.who}: "
            f"{self.response.status_code} {self.response.text[:200]}"
        )


async def call_every_route(
    client: httpx.AsyncClient,
    routes: list[StaffRoute],
    who: str,
    *,
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
    ods_code: str = PRACTICE,
    item: str = MISSING_PATH_VALUE,
) -> list[Call]:
    calls = []
    for route in routes:
        client.cookies.clear()
        for name, value in (cookies or {}).items():
            client.cookies.set(name, value)
        response = await client.request(
            route.method,
            route.url(ods_code, item),
            json=route.body,
            headers={**(headers or {}), "Idempotency-Key": f"matrix-{uuid.uuid4().hex}"},
        )
        calls.append(Call(route, who, response))
    client.cookies.clear()
    return calls


def allowed_wrongly(call: Call) -> str | None:
    """Why an allowed call went wrong, or None when it got past authorisation."""
    status = call.response.status_code
    if status in (401, 403) or status >= 500:
        return f"expected to be allowed: {call}"
    nothing_else = call.route.parameters in ([], ["ods_code"]) and call.route.body is None
    if nothing_else and not 200 <= status < 300:
        return f"expected a 2xx (nothing else to get wrong): {call}"
    return None


def refused_wrongly(
    call: Call, status: int, code: str, *, must_not_leak: tuple[str, ...] = ()
) -> str | None:
    response = call.response
    if response.status_code != status:
        return f"expected {status} {code}: {call}"
    if not response.headers.get("content-type", "").startswith(PROBLEM_MEDIA_TYPE):
        return f"expected problem+json: {call}"
    body = response.json()
    if body.get("code") != code or body.get("status") != status:
        return f"expected code {code}: {call}"
    leaked = [value for value in must_not_leak if value in response.text]
    if leaked:
        return f"leaked {leaked}: {call}"
    return None


def needing(routes: list[StaffRoute], *needs: Need) -> list[StaffRoute]:
    return [route for route in routes if route.need in needs]


def guarded(routes: list[StaffRoute]) -> list[StaffRoute]:
    return [route for route in routes if route.need != OPEN]


async def staff_headers(app: FastAPI, tag: str) -> dict[str, str]:
    persona = find_staff_persona(tag)
    assert persona is not None, tag
    return {"Authorization": f"Bearer {(await sign_in_staff_persona(app, persona)).token}"}


def details_of(applicant: SignedInUser) -> tuple[str, ...]:
    persona = applicant.persona
    return (persona.nhs_number, persona.given_name, persona.family_name)


async def an_application(client: httpx.AsyncClient, sign_in: SignIn) -> tuple[str, SignedInUser]:
    """A real application at PRACTICE, and its applicant."""
    applicant = await sign_in("adult-full", ods_code=PRACTICE)
    made = await apply(client, applicant, {"kind": "historic_record"})
    assert made.status_code == 201, made.text
    return made.json()["request_id"], applicant


# --- no staff session ---------------------------------------------------------------


async def test_without_a_staff_session_every_staff_route_is_refused(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    routes = guarded(staff_routes(app))
    request_id, applicant = await an_application(client, sign_in)
    problems: list[str | None] = []
    presented: list[tuple[str, dict[str, str], dict[str, str]]] = [
        ("nobody", {}, {}),
        ("a patient (bearer)", applicant.headers, {}),
        ("a patient (cookie)", {}, {SESSION_COOKIE: applicant.token}),
        # The patient's token under the staff cookie's name is no staff session either.
        ("a patient (staff cookie)", {}, {STAFF_SESSION_COOKIE: applicant.token}),
    ]
    for who, headers, cookies in presented:
        calls = await call_every_route(
            client, routes, who, headers=headers, cookies=cookies, item=request_id
        )
        problems += [
            refused_wrongly(call, 401, "staff_not_signed_in", must_not_leak=details_of(applicant))
            for call in calls
        ]
    report(problems)


# --- staff sessions -----------------------------------------------------------------


async def test_the_right_staff_member_is_allowed_on_every_route(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    routes = guarded(staff_routes(app))
    gp = await staff_headers(app, "gp-a81001")
    reception = await staff_headers(app, "reception-a81001")
    problems: list[str | None] = []
    calls = await call_every_route(client, routes, "the practice's GP", headers=gp)
    problems += [allowed_wrongly(call) for call in calls]
    usable = needing(routes, SESSION, AT_PRACTICE, StaffRole.ADMINISTRATOR)
    calls = await call_every_route(client, usable, "the practice's receptionist", headers=reception)
    problems += [allowed_wrongly(call) for call in calls]
    report(problems)
    assert len(usable) < len(routes)  # the clinical review is for the GP alone


async def test_staff_of_another_practice_are_refused_its_routes_and_find_none_of_it(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    routes = guarded(staff_routes(app))
    request_id, applicant = await an_application(client, sign_in)
    other = await staff_headers(app, f"gp-{OTHER_PRACTICE.lower()}")
    hidden = (*details_of(applicant), request_id)
    problems: list[str | None] = []
    # The practice's own paths: refused outright.
    at_practice = [route for route in routes if route.need != SESSION]
    calls = await call_every_route(
        client, at_practice, "another practice's GP", headers=other, item=request_id
    )
    problems += [
        refused_wrongly(call, 403, "not_staff_of_practice", must_not_leak=hidden) for call in calls
    ]
    # Their own practice's paths do not find its application.
    with_id = [route for route in at_practice if "request_id" in route.parameters]
    calls = await call_every_route(
        client,
        with_id,
        "another practice's GP, at their own",
        headers=other,
        ods_code=OTHER_PRACTICE,
        item=request_id,
    )
    problems += [
        refused_wrongly(call, 404, "access_request_not_found", must_not_leak=hidden)
        for call in calls
    ]
    # What needs only a staff session is theirs to use.
    calls = await call_every_route(
        client, needing(routes, SESSION), "another practice's GP", headers=other
    )
    problems += [allowed_wrongly(call) for call in calls]
    report(problems)
    assert with_id
    listed = await client.get(f"/v1/practices/{OTHER_PRACTICE}/access-requests", headers=other)
    assert listed.json()["items"] == []


async def test_staff_without_the_role_are_refused(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    routes = guarded(staff_routes(app))
    request_id, applicant = await an_application(client, sign_in)
    hidden = details_of(applicant)
    reception = await staff_headers(app, "reception-a81001")
    # Someone CIS2 lists at the practice with a job role that allows nothing here.
    async with app.state.sessionmaker() as db:
        issued = await service.sign_in(
            db,
            StaffIdentity(
                user_id="555000000999",
                name="Pat Doe",
                roles=(NationalRole(PRACTICE, "R9999", "999999999999"),),
                acr=ACR_VALUES[0],
            ),
            clock=app.state.clock,
            policy=app.state.staff_auth.policy,
            via="bearer",
        )
    no_role = {"Authorization": f"Bearer {issued.token}"}
    problems: list[str | None] = []
    role_routes = [route for route in routes if isinstance(route.need, StaffRole)]
    for route in role_routes:
        [call] = await call_every_route(
            client, [route], "the practice's receptionist", headers=reception, item=request_id
        )
        if route.need == StaffRole.ADMINISTRATOR:
            problems.append(allowed_wrongly(call))
        else:
            problems.append(refused_wrongly(call, 403, "staff_role_required", must_not_leak=hidden))
    calls = await call_every_route(
        client,
        [route for route in routes if route.need != SESSION],
        "staff with no role that allows anything",
        headers=no_role,
        item=request_id,
    )
    problems += [
        refused_wrongly(call, 403, "not_staff_of_practice", must_not_leak=hidden) for call in calls
    ]
    report(problems)
    assert StaffRole.CLINICIAN in {route.need for route in role_routes}
    # Nothing was recorded by those refused.
    gp = await staff_headers(app, "gp-a81001")
    found = await client.get(f"/v1/practices/{PRACTICE}/access-requests/{request_id}", headers=gp)
    assert found.json()["status"] == "submitted"


async def test_an_idle_or_signed_out_staff_session_is_refused_on_every_route(
    app: FastAPI, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    routes = guarded(staff_routes(app))
    idle: timedelta = app.state.staff_auth.policy.idle
    gp = await staff_headers(app, "gp-a81001")
    signed_out = await staff_headers(app, "locum-a81001-b82002")
    assert (await client.post("/v1/staff/auth/logout", headers=signed_out)).status_code == 204
    problems: list[str | None] = []
    calls = await call_every_route(client, routes, "a signed-out GP", headers=signed_out)
    problems += [refused_wrongly(call, 401, "staff_not_signed_in") for call in calls]
    clock.advance(idle)
    calls = await call_every_route(client, routes, "an idle GP", headers=gp)
    problems += [refused_wrongly(call, 401, "staff_session_expired") for call in calls]
    report(problems)
