"""Who may call which patient-scoped route: a matrix generated from the app's own routes.

Every operation whose path holds `{patient_id}` is found in the app, and the
service it needs is read from its dependency tree (the `RequireService` of an
`ActingFor…` alias; plain `ActingForPatient` needs none). A route added later is
therefore covered without touching this file, and one that forgets to resolve
"acting for" fails here.

Each test is one identity case (whose id is asked for, with what session); it
signs its personas in once and calls every route, then reports every route that
answered wrongly together.
"""

from __future__ import annotations

import base64
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from app.adapters.sandbox.personas import ActsFor, Persona
from app.config import Settings
from app.main import create_app
from app.patients.deps import RequireService, acting_for
from app.patients.ids import patient_id
from app.problems import PROBLEM_MEDIA_TYPE
from tests.conftest import FakeClock, SignedInUser, SignIn

ANY_SERVICE = "any"  # the route resolves "acting for" but demands no particular service
# Services no proxy ever has: the central rules keep them for the patient themself.
PATIENT_ONLY_SERVICES = frozenset({"change_pharmacy", "patient_only"})
KNOWN_SERVICES = frozenset({"appointments", "prescriptions", "record"}) | PATIENT_ONLY_SERVICES

# What each sandbox proxy may do for the person they act for, after the central rules
# (see the relationships in app/adapters/sandbox/personas.py).
PROXY_GRANTS: dict[tuple[str, str], frozenset[str]] = {
    ("proxy-parent", "child-under-11"): frozenset({"appointments", "prescriptions", "record"}),
    # Each service alone, so that a route checking the wrong permission is caught.
    ("carer", "care-home-resident"): frozenset({"prescriptions"}),
    ("carer", "background"): frozenset({"appointments"}),
    ("historic-access", "background"): frozenset({"record"}),
}

MISSING_PATH_VALUE = "matrix-no-such-item"  # fills path parameters other than patient_id

# The service each of today's routes needs, by the rules (the matrix itself reads what a
# route declares, so this catches a declaration loosened by mistake). New routes need no
# entry here to be covered.
PINNED_SERVICES = {
    "GET /v1/patients/{patient_id}/practice": ANY_SERVICE,
    # "Who has viewed my record" is for the patient alone, never a proxy.
    "GET /v1/patients/{patient_id}/access-log": "patient_only",
    "GET /v1/patients/{patient_id}/slots": "appointments",
    "GET /v1/patients/{patient_id}/appointments": "appointments",
    "POST /v1/patients/{patient_id}/appointments": "appointments",
    "GET /v1/patients/{patient_id}/appointments/cancellation-reasons": "appointments",
    "GET /v1/patients/{patient_id}/appointments/{appointment_id}": "appointments",
    "POST /v1/patients/{patient_id}/appointments/{appointment_id}/cancel": "appointments",
    "GET /v1/patients/{patient_id}/appointments/{appointment_id}/calendar.ics": "appointments",
    # The overview says what the viewer may see, and how to ask, even with no access.
    "GET /v1/patients/{patient_id}/record": ANY_SERVICE,
    "GET /v1/patients/{patient_id}/record/{section}": "record",
    "GET /v1/patients/{patient_id}/record/documents": "record",
    "GET /v1/patients/{patient_id}/record/documents/{document_id}/content": "record",
    "GET /v1/patients/{patient_id}/record/test-results/{code}/series": "record",
    "GET /v1/patients/{patient_id}/record/corrections": "record",
    "POST /v1/patients/{patient_id}/record/corrections": "record",
}


# --- the routes ---------------------------------------------------------------------


@dataclass(frozen=True)
class PatientRoute:
    """One patient-scoped operation and what the person acting needs to use it."""

    method: str
    path: str
    service: str  # one of KNOWN_SERVICES, or ANY_SERVICE
    body: dict[str, Any] | None  # a minimal request body, when the operation takes one

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def only_patient_id(self) -> bool:
        """Nothing but the patient to get wrong: an allowed caller gets a 2xx."""
        return self.body is None and re.findall(r"{(\w+)}", self.path) == ["patient_id"]

    def url(self, for_patient: str) -> str:
        path = self.path.replace("{patient_id}", for_patient)
        return re.sub(r"{\w+}", MISSING_PATH_VALUE, path)


def _dependency_calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _dependency_calls(sub)


def _example(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A minimal value for a JSON schema: required fields only, simplest values."""
    if "$ref" in schema:
        return _example(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in schema:
            return _example(schema[combined][0], components)
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: _example(properties[name], components) for name in schema.get("required", [])}
    if kind == "array":
        return [_example(schema["items"], components)] * schema.get("minItems", 0)
    if kind == "integer" or kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if "enum" in schema:
        return schema["enum"][0]
    # A string that names nothing real: the action cannot take effect.
    return "matrix-probe".ljust(schema.get("minLength", 0), "x")[: schema.get("maxLength", 64)]


def patient_routes(app: FastAPI) -> list[PatientRoute]:
    """Every operation on a `{patient_id}` path, with the service its dependencies demand.

    Raises AssertionError naming any such route that never resolves "acting for".
    """
    openapi = app.openapi()
    components = openapi.get("components", {}).get("schemas", {})
    routes: list[PatientRoute] = []
    unguarded: list[str] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path
        if not isinstance(route, APIRoute) or path is None or "{patient_id}" not in path:
            continue
        calls = list(_dependency_calls(context.dependant))
        services = {call.service for call in calls if isinstance(call, RequireService)}
        for method in sorted(context.methods or ()):
            if acting_for not in calls:
                unguarded.append(f"{method} {path}")
                continue
            assert len(services) <= 1, f"{method} {path} demands several services: {services}"
            operation = openapi["paths"].get(path, {}).get(method.lower(), {})
            body_schema = (
                operation.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema")
            )
            routes.append(
                PatientRoute(
                    method=method,
                    path=path,
                    service=next(iter(services), ANY_SERVICE),
                    body=None if body_schema is None else _example(body_schema, components),
                )
            )
    assert not unguarded, (
        "These patient routes never resolve who is acting for whom (no ActingFor… "
        f"dependency), so any signed-in user could reach any patient: {unguarded}"
    )
    return routes


def app_without_database() -> FastAPI:
    """The app as configured for tests, for looking at its routes (never started)."""
    settings = Settings(_env_file=None, app_env="test", database_url="sqlite+aiosqlite://")  # type: ignore[call-arg]
    return create_app(settings, clock=FakeClock())


def test_every_patient_route_is_found_and_resolves_acting_for() -> None:
    app = app_without_database()
    routes = patient_routes(app)  # fails on any route without an ActingFor… dependency
    found = {(route.method, route.path) for route in routes}
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if "{patient_id}" in path
        for method in operations
    }
    # The walk over the routes sees every documented operation, and nothing is counted twice.
    assert documented <= found
    assert len(routes) >= len(PINNED_SERVICES)
    assert len(found) == len(routes)
    unknown = {route.service for route in routes} - KNOWN_SERVICES - {ANY_SERVICE}
    assert not unknown, f"the matrix does not know which personas have {unknown}: add them"
    # The matrix trusts each route's declared service, so today's routes are pinned.
    declared = {route.label: route.service for route in routes}
    assert {label: declared.get(label) for label in PINNED_SERVICES} == PINNED_SERVICES


def test_a_patient_route_without_acting_for_fails_the_matrix() -> None:
    app = app_without_database()

    @app.get("/v1/patients/{patient_id}/unguarded")
    async def unguarded(patient_id: str) -> dict[str, str]:
        return {"patient_id": patient_id}

    with pytest.raises(AssertionError, match=r"GET /v1/patients/\{patient_id\}/unguarded"):
        patient_routes(app)


# --- people and their data ------------------------------------------------------------


@dataclass(frozen=True)
class Someone:
    """A seeded patient: their id in the API and what must never leak about them."""

    patient_id: str
    patient_ref: str
    nhs_number: str
    given_name: str
    family_name: str
    birth_date: date

    @classmethod
    def of(cls, user: SignedInUser, person: Persona | ActsFor, ods_code: str) -> Someone:
        """`person` (registered at `ods_code`) as `user` would address them."""
        return cls(
            patient_id=patient_id(user.patient_id_key, ods_code, person.patient_ref),
            patient_ref=person.patient_ref,
            nhs_number=person.nhs_number,
            given_name=person.given_name,
            family_name=person.family_name,
            birth_date=person.birth_date,
        )

    def leaked_in(self, text: str) -> list[str]:
        found = [
            value
            for value in (
                self.nhs_number,
                self.patient_ref,
                self.birth_date.isoformat(),
                self.birth_date.strftime("%d/%m/%Y"),
            )
            if value in text
        ]
        found += [
            name
            for name in (self.given_name, self.family_name)
            if re.search(rf"\b{re.escape(name)}\b", text)
        ]
        return found


def own(user: SignedInUser) -> Someone:
    return Someone.of(user, user.persona, user.persona.ods_code)


def proxied(user: SignedInUser, tag: str) -> Someone:
    # The sandbox registers everyone a proxy acts for at the proxy's own practice.
    person = next(o for o in user.persona.acts_for if tag in o.tags)
    return Someone.of(user, person, user.persona.ods_code)


def stranger(user: SignedInUser, other: SignedInUser, tag: str | None = None) -> Someone:
    """A real patient `user` has no relationship with: `other` or someone `other` acts for."""
    person = (
        other.persona if tag is None else next(o for o in other.persona.acts_for if tag in o.tags)
    )
    return Someone.of(user, person, other.persona.ods_code)


def random_patient_id() -> str:
    """Shaped like a real id (26 base32 characters) but belonging to nobody."""
    return base64.b32encode(os.urandom(16)).decode().rstrip("=").lower()


# --- calling every route -------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    route: PatientRoute
    target: str  # a description of whose id was used
    response: httpx.Response

    def __str__(self) -> str:
        return (
            f"{self.route.label} for {self.target}: "
            f"{self.response.status_code} {self.response.text[:200]}"
        )


async def call_every_route(
    client: httpx.AsyncClient,
    routes: list[PatientRoute],
    user: SignedInUser,
    for_patient: str,
    target: str,
) -> list[Call]:
    calls = []
    for route in routes:
        headers = {**user.headers, "Idempotency-Key": f"matrix-{uuid.uuid4().hex}"}
        response = await client.request(
            route.method, route.url(for_patient), headers=headers, json=route.body
        )
        calls.append(Call(route, target, response))
    return calls


def allowed_wrongly(call: Call) -> str | None:
    """Why an allowed call went wrong, or None when it got past authorisation."""
    status = call.response.status_code
    # Past authorisation, the practice's system may simply not offer the feature.
    if status == 403 and call.response.json().get("code") == "not_available_at_practice":
        return None
    if status in (401, 403) or status >= 500:
        return f"expected to be allowed: {call}"
    if status == 404 and call.response.json().get("code") == "patient_not_found":
        return f"expected the patient to be found: {call}"
    if call.route.only_patient_id and not 200 <= status < 300:
        return f"expected a 2xx (nothing else to get wrong): {call}"
    return None


def refused_wrongly(
    call: Call,
    status: int,
    code: str,
    *,
    reason: str | None = None,
    must_not_leak: tuple[Someone, ...] = (),
) -> str | None:
    """Why a refusal was not the expected problem, or leaked someone's data; else None."""
    response = call.response
    if response.status_code != status:
        return f"expected {status} {code}: {call}"
    if not response.headers.get("content-type", "").startswith(PROBLEM_MEDIA_TYPE):
        return f"expected problem+json: {call}"
    body = response.json()
    if body.get("code") != code or body.get("status") != status:
        return f"expected code {code}: {call}"
    if reason is not None and body.get("reason") != reason:
        return f"expected reason {reason}: {call}"
    leaked = [value for someone in must_not_leak for value in someone.leaked_in(response.text)]
    if leaked:
        return f"leaked {leaked}: {call}"
    return None


def report(problems: list[str | None]) -> None:
    found = [problem for problem in problems if problem is not None]
    assert not found, f"{len(found)} wrong answers:\n" + "\n".join(found)


def routes_needing(routes: list[PatientRoute], *services: str) -> list[PatientRoute]:
    return [route for route in routes if route.service in services]


def proxies_without(service: str) -> list[tuple[str, str]]:
    """Every sandbox proxy relationship that lacks `service`."""
    if service == ANY_SERVICE:
        return []  # a route that needs no service is open to every proxy in force
    return [pair for pair, grants in PROXY_GRANTS.items() if service not in grants]


# --- P9 sessions ---------------------------------------------------------------------------


async def test_own_id_is_allowed_on_every_route(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    routes = patient_routes(app)
    user = await sign_in("adult-full", ods_code="A81001")
    calls = await call_every_route(client, routes, user, user.patient_id(), "themself")
    report([allowed_wrongly(call) for call in calls])


async def test_a_proxy_with_the_service_is_allowed(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    routes = patient_routes(app)
    problems: list[str | None] = []
    covered: set[str] = set()
    for (proxy_tag, patient_tag), grants in PROXY_GRANTS.items():
        proxy = await sign_in(proxy_tag)
        usable = routes_needing(routes, ANY_SERVICE, *grants)
        covered |= {route.service for route in usable}
        calls = await call_every_route(
            client, usable, proxy, proxy.acts_for(patient_tag), f"{proxy_tag}→{patient_tag}"
        )
        problems += [allowed_wrongly(call) for call in calls]
    report(problems)
    # No proxy has a patient-only service (changing the pharmacy, the access log): those
    # routes have no "proxy with the service" case. Every other service is covered here.
    assert covered == {route.service for route in routes} - PATIENT_ONLY_SERVICES


# The linked profile's name for each service a route can demand.
PROFILE_SERVICES = {
    "appointments": "appointments",
    "prescriptions": "prescriptions",
    "record": "record",
    "change_pharmacy": "change_pharmacy",
    "patient_only": "access_log",
}


async def test_the_grants_the_matrix_relies_on_are_what_linked_profiles_show(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    assert set(PROFILE_SERVICES) == KNOWN_SERVICES
    for (proxy_tag, patient_tag), grants in PROXY_GRANTS.items():
        proxy = await sign_in(proxy_tag)
        response = await client.get("/v1/me/patients", headers=proxy.headers)
        assert response.status_code == 200
        [profile] = [
            item
            for item in response.json()["items"]
            if item["patient_id"] == proxy.acts_for(patient_tag)
        ]
        shown = {
            service
            for service, name in PROFILE_SERVICES.items()
            if profile["services"][name]["allowed"]
        }
        assert shown == grants, (proxy_tag, patient_tag)
        assert not grants & PATIENT_ONLY_SERVICES


async def test_a_proxy_without_the_service_is_refused(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    routes = patient_routes(app)
    problems: list[str | None] = []
    signed_in: dict[str, SignedInUser] = {}
    for route in routes:
        # Every proxy without the route's service, including those holding only another
        # service, so that a route checking the wrong permission is refused wrongly here.
        for proxy_tag, patient_tag in proxies_without(route.service):
            if proxy_tag not in signed_in:
                signed_in[proxy_tag] = await sign_in(proxy_tag)
            proxy = signed_in[proxy_tag]
            patient = proxied(proxy, patient_tag)
            [call] = await call_every_route(
                client, [route], proxy, patient.patient_id, f"{proxy_tag}→{patient_tag}"
            )
            reason = {
                "change_pharmacy": "proxy_cannot_change_pharmacy",
                "patient_only": "patient_only",
            }.get(route.service, "not_granted")
            problems.append(
                refused_wrongly(
                    call, 403, "service_not_permitted", reason=reason, must_not_leak=(patient,)
                )
            )
    report(problems)
    assert len(problems) == sum(len(proxies_without(r.service)) for r in routes)
    # Each service has a proxy without it.
    assert {r.service for r in routes if proxies_without(r.service)} >= {
        "appointments",
        "prescriptions",
        "record",
    }


async def test_a_parent_is_refused_everywhere_once_the_child_turns_16(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    routes = patient_routes(app)
    parent = await sign_in("parent-of-16")
    teen = proxied(parent, "age-16-proxied")
    calls = await call_every_route(client, routes, parent, teen.patient_id, "a 16-year-old")
    report(
        [
            refused_wrongly(
                call,
                403,
                "access_unavailable",
                reason="proxy_suspended_at_16",
                must_not_leak=(teen,),
            )
            for call in calls
        ]
    )


async def test_another_patients_id_is_not_found(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    routes = patient_routes(app)
    user = await sign_in("adult-full", ods_code="A81001")
    parent = await sign_in("proxy-parent")
    carer = await sign_in("carer")
    others = [
        # A real patient at the same practice, and one at another practice.
        stranger(user, parent, "child-under-11"),
        stranger(user, parent),
        stranger(user, carer, "care-home-resident"),
    ]
    problems: list[str | None] = []
    for other in others:
        calls = await call_every_route(client, routes, user, other.patient_id, "another patient")
        problems += [
            refused_wrongly(call, 404, "patient_not_found", must_not_leak=(other,))
            for call in calls
        ]
    report(problems)


async def test_a_random_id_is_not_found(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    routes = patient_routes(app)
    parent = await sign_in("proxy-parent")
    everyone = (own(parent), proxied(parent, "child-under-11"))
    calls = await call_every_route(client, routes, parent, random_patient_id(), "a random id")
    report(
        [refused_wrongly(call, 404, "patient_not_found", must_not_leak=everyone) for call in calls]
    )


# --- sessions that are not (or no longer) good enough -----------------------------------


def ids_to_try(user: SignedInUser, other: SignedInUser) -> list[tuple[str, Someone | None]]:
    """Own, proxied, someone else's and a random id: the answer must not depend on which."""
    tried: list[tuple[str, Someone | None]] = [("themself", own(user))]
    tried += [
        (f"their {o.tags[0]}", Someone.of(user, o, user.persona.ods_code))
        for o in user.persona.acts_for
    ]
    tried += [("another patient", stranger(user, other)), ("a random id", None)]
    return tried


async def refused_on_every_route(
    client: httpx.AsyncClient,
    routes: list[PatientRoute],
    user: SignedInUser,
    other: SignedInUser,
    status: int,
    code: str,
) -> None:
    problems: list[str | None] = []
    tried = ids_to_try(user, other)
    people = tuple(someone for _, someone in tried if someone is not None)
    for target, someone in tried:
        for_patient = someone.patient_id if someone else random_patient_id()
        calls = await call_every_route(client, routes, user, for_patient, target)
        problems += [refused_wrongly(call, status, code, must_not_leak=people) for call in calls]
    report(problems)


async def test_p5_users_are_asked_to_verify_their_identity(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    routes = patient_routes(app)
    user = await sign_in("p5-identity")
    other = await sign_in("adult-full", ods_code="A81001")
    await refused_on_every_route(client, routes, user, other, 403, "identity_verification_required")


async def test_an_idle_session_has_expired_on_every_route(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    routes = patient_routes(app)
    user = await sign_in("proxy-parent")
    other = await sign_in("adult-full", ods_code="A81001")
    idle: timedelta = app.state.auth.policy.idle
    clock.advance(idle - timedelta(seconds=1))
    assert (await client.get("/v1/me", headers=user.headers)).status_code == 200
    clock.advance(idle)
    await refused_on_every_route(client, routes, user, other, 401, "session_expired")


async def test_a_session_past_its_absolute_limit_has_expired_on_every_route(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    routes = patient_routes(app)
    user = await sign_in("proxy-parent")
    other = await sign_in("adult-full", ods_code="A81001")
    policy = app.state.auth.policy
    # Keep the session busy, so that only the absolute limit can end it.
    step = policy.idle - timedelta(minutes=1)
    elapsed = timedelta(0)
    while elapsed + step < policy.absolute - timedelta(seconds=1):
        clock.advance(step)
        elapsed += step
        assert (await client.get("/v1/me", headers=user.headers)).status_code == 200
    clock.advance(policy.absolute - timedelta(seconds=1) - elapsed)
    assert (await client.get("/v1/me", headers=user.headers)).status_code == 200
    clock.advance(timedelta(seconds=1))
    await refused_on_every_route(client, routes, user, other, 401, "session_expired")


async def test_a_signed_out_session_is_refused_on_every_route(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    routes = patient_routes(app)
    user = await sign_in("proxy-parent")
    other = await sign_in("adult-full", ods_code="A81001")
    assert (await client.get("/v1/me", headers=user.headers)).status_code == 200
    assert (await client.post("/v1/auth/logout", headers=user.headers)).status_code == 204
    # A revoked token is simply not a session any more (app.auth.service.find_session).
    await refused_on_every_route(client, routes, user, other, 401, "not_signed_in")
