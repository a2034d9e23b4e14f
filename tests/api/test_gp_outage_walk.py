"""A GP system that is down, at every practice, met by every route: never a 500, and
`503 gp_system_unavailable` with `Retry-After` wherever the GP system was needed.

The routes come from the app itself (`iter_route_contexts(app.routes)`, with the
OpenAPI document for their parameters and example bodies), so a route added later is
walked without touching this file; one the walk cannot call (a path parameter or a
required value it has no source for, a body without an example) fails it until named.

Whether a request needed the GP system is counted, not guessed: the registry counts
every call that reaches a GP system (`app.gp.calls`), and here no breaker opens, so
every call reaches the simulated outage. Each practice is walked twice: with the
session's acting-for context fresh (routes that need only the context answer without
the GP system), then with it expired, when every patient route must ask again.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from app.adapters.sandbox.adapter import find_sandbox
from app.config import Settings
from app.gp.errors import GPSystemUnavailable
from app.problems import PROBLEM_MEDIA_TYPE
from tests.conftest import FakeClock, SignedInUser, SignIn, demo_practices_with

UNAVAILABLE = GPSystemUnavailable.code

# Where a real value for each path parameter is found before the outage (a list under the
# patient, and the item's member): a route looking up something that exists must ask the
# GP system for it. With nothing listed, a made-up value stands in.
FOUND_IN = {
    "appointment_id": ("/appointments", "appointment_id"),
    "request_id": ("/prescriptions/requests", "request_id"),
    "document_id": ("/record/documents", "document_id"),
    "code": ("/record/test-results", "code"),
}
# Values that need no GP system to find.
FIXED = {"ods_code": "FAA01"}  # a pharmacy, from the directory
STAND_IN = "walk-no-such-item"
# Ends the session the walk uses: called last.
ENDS_THE_SESSION = {"sign_out"}


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings], sandbox_database_url: str, tmp_path: Path
) -> Settings:
    """The demo practices on the sandbox (where the outage is simulated, and its personas
    registered), with one try per read and breakers that never open (an open breaker
    answers 503 too, but without calling, so the walk could not tell the GP system was
    needed); no rate limits, so that every example reaches its route."""
    path = demo_practices_with(
        tmp_path,
        resilience={"read_attempts": 1, "failure_threshold": 1_000_000, "retry_wait_seconds": 0.0},
    )
    practices = json.loads(path.read_text())
    practices["practices"] = [p for p in practices["practices"] if p["adapter"] == "sandbox"]
    path.write_text(json.dumps(practices))
    return make_settings(
        sandbox_database_url=sandbox_database_url, practices_file=path, rate_limit_enabled=False
    )


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    name: str
    documented: dict[str, Any] | None  # the OpenAPI operation; None for undocumented routes
    enums: dict[str, list[str]]  # the path parameters that take one of a few values

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def parameters(self, where: str) -> list[dict[str, Any]]:
        return [p for p in (self.documented or {}).get("parameters", []) if p["in"] == where]

    def documents(self, status: int, code: str) -> bool:
        response = (self.documented or {}).get("responses", {}).get(str(status), {})
        return code in response.get("content", {}).get(PROBLEM_MEDIA_TYPE, {}).get("examples", {})


def _resolved(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _resolved(document["components"]["schemas"][name], document)
    return schema


def filled(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{(\w+)}", lambda match: values[match[1]], path)


def operations(app: FastAPI) -> list[Operation]:
    """Every route the app serves, with each of its methods, those ending the session last."""
    document = app.openapi()
    found = []
    for context in iter_route_contexts(app.routes):
        path, methods = context.path, context.methods
        if path is None or not methods:
            continue  # a mount (static files): nothing there calls a GP system
        for method in sorted(methods - {"HEAD", "OPTIONS"}):
            documented = document["paths"].get(path, {}).get(method.lower())
            name = getattr(context.original_route, "name", path)
            enums = {
                parameter["name"]: enum
                for parameter in (documented or {}).get("parameters", [])
                if (enum := _resolved(parameter["schema"], document).get("enum"))
            }
            found.append(Operation(method, path, name, documented, enums))
    return sorted(found, key=lambda operation: operation.name in ENDS_THE_SESSION)


@dataclass
class Walker:
    """One signed-in patient at one practice, walking every operation."""

    app: FastAPI
    client: httpx.AsyncClient
    user: SignedInUser
    found: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    needed: set[str] = field(default_factory=set)  # operations that asked the GP system

    @property
    def base(self) -> str:
        return f"/v1/patients/{self.user.patient_id()}"

    async def find_values(self) -> None:
        """Real ids to put in paths, read while the GP system is up."""
        for name, (path, member) in FOUND_IN.items():
            response = await self.client.get(self.base + path, headers=self.user.headers)
            assert response.status_code == 200, (path, response.text)
            items = response.json().get("items") or []
            values = [item[member] for item in items if item.get(member)]
            self.found[name] = values[0] if values else STAND_IN

    def path_values(self, operation: Operation) -> Iterator[dict[str, str]]:
        """Each set of path values to call the operation with (every value of an enum)."""
        names = re.findall(r"{(\w+)}", operation.path)
        choices: dict[str, list[str]] = {}
        for name in names:
            if name == "patient_id":
                choices[name] = [self.user.patient_id()]
            elif name in operation.enums:
                choices[name] = operation.enums[name]
            elif name in self.found or name in FIXED:
                choices[name] = [self.found.get(name) or FIXED[name]]
            else:
                raise AssertionError(
                    f"{operation.label}: no value for `{name}`; say where to find one (FOUND_IN)"
                )
        combinations: list[dict[str, str]] = [{}]
        for name, values in choices.items():
            combinations = [{**done, name: value} for done in combinations for value in values]
        yield from combinations

    def bodies(self, operation: Operation) -> list[Any]:
        body = (operation.documented or {}).get("requestBody")
        if body is None:
            return [None]
        examples = body["content"].get("application/json", {}).get("examples", {})
        if not examples:
            assert not body.get("required"), f"{operation.label}: give its body examples"
            return [None]
        return [example["value"] for example in examples.values()]

    def headers(self, operation: Operation) -> dict[str, str]:
        headers = dict(self.user.headers)
        for parameter in operation.parameters("header"):
            if parameter["name"] == "Idempotency-Key":
                headers["Idempotency-Key"] = f"walk-{uuid.uuid4()}"
            else:
                assert not parameter.get("required"), f"{operation.label}: {parameter['name']}?"
        return headers

    async def walk(self, operations: list[Operation], *, context: str) -> None:
        for operation in operations:
            for required in operation.parameters("query"):
                assert not required.get("required"), f"{operation.label}: {required['name']}?"
            for values in self.path_values(operation):
                for body in self.bodies(operation):
                    url = filled(operation.path, values)
                    await self.call(operation, url, body, context=context)

    async def call(self, operation: Operation, url: str, body: Any, *, context: str) -> None:
        calls = self.app.state.gp_registry.calls
        before = calls.total
        response = await self.client.request(
            operation.method, url, json=body, headers=self.headers(operation)
        )
        gp_calls = calls.total - before
        where = f"{self.user.persona.ods_code}, context {context}: {operation.label}"
        if gp_calls:
            self.needed.add(operation.label)
            problem = self.unavailable_problem(operation, response)
            if problem:
                self.problems.append(f"{where} asked the GP system, then {problem}")
        elif response.status_code >= 500 and response.status_code != 503:
            self.problems.append(f"{where} answered {response.status_code}")

    @staticmethod
    def unavailable_problem(operation: Operation, response: httpx.Response) -> str | None:
        """What is wrong with the answer to a request the outage stopped, if anything."""
        if response.status_code != 503:
            return f"answered {response.status_code}: {response.text[:200]}"
        if response.headers.get("content-type") != PROBLEM_MEDIA_TYPE:
            return "answered 503 without a problem"
        if response.json().get("code") != UNAVAILABLE:
            return f"answered 503 {response.json().get('code')}"
        if not response.headers.get("retry-after", "").isdigit():
            return "answered 503 without Retry-After in seconds"
        if operation.documented is not None and not operation.documents(503, UNAVAILABLE):
            return f"answered 503 {UNAVAILABLE}, which it does not document"
        return None


async def test_a_gp_system_outage_is_503_with_retry_after_on_every_route_at_every_practice(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    walked = operations(app)
    patient_routes = {op.label for op in walked if op.path.startswith("/v1/patients/{patient_id}")}
    problems: list[str] = []
    assert set(app.state.gp_registry.practices) >= {"A81001", "B82002", "C83003"}
    for ods_code in app.state.gp_registry.practices:
        walker = Walker(app, client, await sign_in("adult-full", ods_code=ods_code))
        await walker.find_values()
        find_sandbox(app.state.gp_registry.for_practice(ods_code)).faults.outage = True

        await walker.walk([op for op in walked if op.name not in ENDS_THE_SESSION], context="fresh")
        assert walker.needed, "the GP system was never asked: is the outage simulated?"
        # Once the context is stale, every patient route asks the GP system for it again.
        walker.needed.clear()
        clock.advance(timedelta(seconds=app.state.settings.acting_context_seconds + 1))
        await walker.walk(walked, context="expired")
        problems += walker.problems
        problems += [
            f"{ods_code}, context expired: {label} answered without the GP system"
            for label in sorted(patient_routes - walker.needed)
        ]

        find_sandbox(app.state.gp_registry.for_practice(ods_code)).faults.outage = False
    assert not problems, "\n".join(problems)
