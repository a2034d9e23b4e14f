"""The OpenAPI document, fuzzed against a real server with a signed-in session.

Schemathesis generates requests from `openapi/openapi.json` (valid and invalid)
and runs every check on each answer: no 5xx, every status, header and body as
documented, invalid input refused, valid input accepted (with the business-rule
refusals of `schemathesis.toml`). A bounded budget: `EXAMPLES` per operation,
derandomised so that a run is repeatable. Valid cases for patient routes get the
signed-in persona's own patient id, so that fuzzing reaches past the
authorisation check. The server runs with the development NHS login stand-in,
so that sign-in routes answer as they do for real.

Then the journeys: Schemathesis's stateful phase follows the document's links
(app.api_links) from the people the user may act for to slots, a booking and
reading or cancelling it, and to repeat medicines, an order and reading or
withdrawing it, with the same checks on every answer (and Schemathesis's own, such
as "what was just made can be read"). Valid requests are made acceptable to the
persona's practice too, and each journey's bookings and orders are undone after
it, so that journeys get past the first step. Bounded by `JOURNEYS` journeys of at
most `JOURNEY_STEPS` requests; the test fails unless every link was followed.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from joserfc.jwk import RSAKey
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

from app.auth.types import Via
from tests.live_server import LiveServer, live_server

HERE = Path(__file__).resolve().parent
EXAMPLES = 12
JOURNEYS = 12
JOURNEY_STEPS = 10
SCHEMA = schemathesis.openapi.from_path(
    HERE.parents[1] / "openapi" / "openapi.json",
    config=SchemathesisConfig.from_path(HERE / "schemathesis.toml"),
).exclude(operation_id="sign_out")  # it would end the session every other case uses


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("fuzz")
    key = directory / "client-key.pem"
    key.write_bytes(RSAKey.generate_key(2048).as_pem(private=True))
    env = {
        "APP_ENV": "dev",
        "NHS_LOGIN_PRIVATE_KEY_FILE": str(key),
        # The budgets have tests of their own; here they would only answer 429.
        "RATE_LIMIT_ACCOUNT": "100000/minute",
        "RATE_LIMIT_BOOKING": "100000/hour",
        "RATE_LIMIT_PRESCRIPTION_REQUEST": "100000/hour",
        "RATE_LIMIT_RECORD_CORRECTION": "100000/day",
        "RATE_LIMIT_SIGN_IN": "100000/minute",
        # Long generated values would meet the header limit before the route's own checks.
        "MAX_HEADER_BYTES": str(1024 * 1024),
    }
    # The journeys book and order as someone else: what fuzzing orders (its examples are
    # real medicines of adult-full's) must not leave their medicines pending.
    sessions: dict[str, tuple[str, Via]] = {
        "user": ("adult-full", "bearer"),
        "traveller": ("registered-after-rollout", "bearer"),
    }
    with live_server(directory, env=env, sign_in=sessions) as running:
        yield running


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case: schemathesis.Case, server: LiveServer) -> None:
    user = server.sessions["user"]
    positive = case.meta is None or case.meta.generation.mode is GenerationMode.POSITIVE
    if positive and "patient_id" in (case.path_parameters or {}):
        case.path_parameters["patient_id"] = user.patient_id
    case.call_and_validate(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {user.token}"},
        timeout=30,
    )


def operation_id(case: schemathesis.Case) -> str:
    return str(case.operation.definition.raw.get("operationId", ""))


# Where each journey step takes its id from, and where an answer gives ids for the next.
USES = {
    "search_slots": ("patient", "path", "patient_id"),
    "list_courses": ("patient", "path", "patient_id"),
    "book_appointment": ("slot", "body", "slot_id"),
    "get_appointment": ("appointment", "path", "appointment_id"),
    "cancel_appointment": ("appointment", "path", "appointment_id"),
    "request_repeats": ("course", "body", "course_ids"),
    "get_request": ("request", "path", "request_id"),
    "cancel_request": ("request", "path", "request_id"),
}
GIVES = {
    "list_linked_profiles": ("patient", "items", "patient_id"),
    "search_slots": ("slot", "items", "slot_id"),
    "list_courses": ("course", "items", "course_id"),
    "book_appointment": ("appointment", None, "appointment_id"),
    "request_repeats": ("request", None, "request_id"),
}


class Followed:
    """The ids answers gave, and each request by whether it used one: a request that did
    came by a link, not with a value made up to fit the schema."""

    def __init__(self) -> None:
        self.given: dict[str, set[str]] = {}
        self.steps: Counter[tuple[str, bool, int]] = Counter()

    def note(self, case: schemathesis.Case, status: int, answer: Any) -> None:
        operation = operation_id(case)
        if operation in USES:
            kind, where, name = USES[operation]
            sent = (case.path_parameters or {}) if where == "path" else case.body
            value = sent.get(name) if isinstance(sent, dict) else None
            if isinstance(value, list):
                value = value[0] if value else None
            linked = isinstance(value, str) and value in self.given.get(kind, set())
            self.steps[(operation, linked, status)] += 1
        if operation in GIVES and status < 300 and isinstance(answer, dict):
            kind, listed, name = GIVES[operation]
            items = answer.get(listed, []) if listed else [answer]
            self.given.setdefault(kind, set()).update(
                item[name] for item in items if isinstance(item, dict) and name in item
            )

    def reached(self, operation: str) -> bool:
        """Whether a request to `operation` came by a link and succeeded."""
        return any(op == operation and linked and status < 300 for op, linked, status in self.steps)


def cancellation_body(http: httpx.Client, patient_id: str) -> dict[str, str]:
    """What cancelling needs at the patient's practice: one of its reasons, or none."""
    reasons = http.get(f"/v1/patients/{patient_id}/appointments/cancellation-reasons").json()
    return {"reason_code": reasons["items"][0]["code"]} if reasons["required"] else {}


def valid_at_the_practice(case: schemathesis.Case, cancelling: dict[str, str]) -> None:
    """Make a valid request one the persona's practice accepts too, where its rules say
    more than the schema can: a reason with each booking, one of its reasons to cancel,
    and one medicine at a time (generated extras are ids of nothing). Each action gets a
    key of its own: generated keys repeat, and a repeat with another body is refused."""
    body = case.body if isinstance(case.body, dict) else None
    operation = operation_id(case)
    if body is not None and operation == "book_appointment" and not body.get("reason"):
        body["reason"] = "Follow-up on my blood pressure readings"
    if body is not None and operation == "cancel_appointment":
        body.update(cancelling)
    if body is not None and operation == "request_repeats" and body.get("course_ids"):
        body["course_ids"] = body["course_ids"][:1]
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = str(uuid.uuid4())


def undo(http: httpx.Client, made: list[str], cancelling: dict[str, str]) -> None:
    """Cancel what a journey booked and withdraw what it ordered (`Location`s), so that
    each journey starts from the same sandbox, not at the practice's booking limit."""
    for location in made:
        http.post(f"{location}/cancel", json=cancelling if "/appointments/" in location else None)


def test_journeys_follow_the_links(server: LiveServer) -> None:
    user = server.sessions["traveller"]
    auth = {"Authorization": f"Bearer {user.token}"}
    followed = Followed()
    with server.client(headers=auth) as http:
        cancelling = cancellation_body(http, user.patient_id)

        class Journeys(SCHEMA.as_state_machine()):  # type: ignore[misc]
            def setup(self) -> None:
                self.made: list[str] = []

            def teardown(self) -> None:
                undo(http, self.made, cancelling)
                super().teardown()

            def before_call(self, case: schemathesis.Case) -> None:
                if case.meta is None or case.meta.generation.mode is GenerationMode.POSITIVE:
                    valid_at_the_practice(case, cancelling)

            def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
                return {"base_url": server.base_url, "headers": auth, "timeout": 30}

            def after_call(self, response: Any, case: schemathesis.Case) -> None:
                super().after_call(response, case)
                try:
                    answer = response.json()
                except ValueError:
                    answer = None
                followed.note(case, response.status_code, answer)
                if response.status_code == 201:
                    self.made.extend(response.headers.get("location", []))  # lowercased

        Journeys.run(
            settings=settings(
                max_examples=JOURNEYS,
                stateful_step_count=JOURNEY_STEPS,
                derandomize=True,
                deadline=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
        )
    for operation in USES:
        assert followed.reached(operation), (operation, sorted(followed.steps.items()))
