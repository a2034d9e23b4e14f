"""Each operation documents the problems it answers with: codes, examples and headers."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.appointments.service import InvalidRequest
from app.gp import errors as gp
from app.openapi import openapi_document
from app.problems import ProblemKind, problem_kinds, problem_responses
from tests.conftest import FakeClock, SignIn

DOCUMENT = json.loads(openapi_document())
PROBLEM = "application/problem+json"


def documented_codes(method: str, path: str, status: int) -> set[str]:
    response = DOCUMENT["paths"][path][method]["responses"].get(str(status), {})
    return set(response.get("content", {}).get(PROBLEM, {}).get("examples", {}))


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
    ]


def test_every_operation_has_a_description() -> None:
    for path, method, operation in operations():
        assert operation.get("description"), (method, path)


def test_every_error_response_lists_its_codes_with_an_example_each() -> None:
    enum = set(DOCUMENT["components"]["schemas"]["ProblemDetail"]["properties"]["code"]["enum"])
    for path, method, operation in operations():
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            examples = response["content"][PROBLEM]["examples"]
            assert examples, (method, path, status)
            for code, example in examples.items():
                assert example["value"]["code"] == code
                assert example["value"]["status"] == int(status), (method, path, code)
                assert code in enum
                assert f"`{code}`" in response["description"]


def test_codes_raised_in_the_app_are_in_the_enum() -> None:
    enum = DOCUMENT["components"]["schemas"]["ProblemDetail"]["properties"]["code"]["enum"]
    for code in (
        "slot_unavailable",
        "cancellation_reason_required",
        "idempotency_key_reused",
        "login_cookie_missing",
        "too_soon",  # a course's reason is its code
        "validation_failed",
        "server_busy",
    ):
        assert code in enum


def test_booking_documents_its_own_refusals_and_headers() -> None:
    path = "/v1/patients/{patient_id}/appointments"
    assert {"slot_unavailable", "booking_limit_reached", "request_in_progress"} <= (
        documented_codes("post", path, 409)
    )
    assert {"reason_required", "reason_not_requested", "idempotency_key_reused"} <= (
        documented_codes("post", path, 422)
    )
    assert {"csrf_token_invalid", "origin_not_allowed", "service_not_permitted"} <= (
        documented_codes("post", path, 403)
    )
    responses = DOCUMENT["paths"][path]["post"]["responses"]
    assert "Location" in responses["201"]["headers"]
    for status in ("409", "429", "503"):
        assert "Retry-After" in responses[status]["headers"], status
    # Safe methods need no CSRF token, so cannot be refused for one.
    assert "csrf_token_invalid" not in documented_codes("get", path, 403)


def test_cancelling_tells_apps_to_fetch_the_reasons() -> None:
    operation = DOCUMENT["paths"]["/v1/patients/{patient_id}/appointments/{appointment_id}/cancel"]
    assert "cancellation-reasons" in operation["post"]["description"]
    codes = documented_codes(
        "post", "/v1/patients/{patient_id}/appointments/{appointment_id}/cancel", 422
    )
    assert {"cancellation_reason_required", "unknown_cancellation_reason"} <= codes


def test_request_bodies_have_examples_and_the_key_warns_about_reuse() -> None:
    book = DOCUMENT["paths"]["/v1/patients/{patient_id}/appointments"]["post"]
    examples = book["requestBody"]["content"]["application/json"]["examples"]
    assert all(example["value"]["slot_id"] for example in examples.values())
    key = next(p for p in book["parameters"] if p["name"] == "Idempotency-Key")
    assert "new key" in key["description"]
    assert "idempotency_key_reused" in key["description"]


def test_a_class_whose_code_is_set_per_instance_must_be_named_by_kind() -> None:
    with pytest.raises(TypeError):
        problem_kinds(InvalidRequest)
    kinds = problem_kinds(gp.CourseNotOrderable)
    assert {kind.code for kind in kinds} == {r.value for r in gp.NotOrderableReason}
    # A bare status still works, for routes not converted yet.
    assert problem_responses(418)[418]["description"] == "I'm a Teapot"
    kind = ProblemKind(409, "made_up", "Made up", "An example.")
    examples = problem_responses(kind)[409]["content"][PROBLEM]["examples"]
    assert examples["made_up"]["value"]["detail"] == "An example."


async def test_problems_the_api_answers_with_are_the_documented_ones(
    client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    user = await sign_in("adult-full", ods_code="A81001")
    base = f"/v1/patients/{user.patient_id()}"
    template = "/v1/patients/{patient_id}"
    seen: list[tuple[str, str, httpx.Response]] = []

    async def call(
        method: str, path: str, url: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**user.headers, **(headers or {})}
        response = await client.request(method, url, headers=headers, **kwargs)
        seen.append((method.lower(), path, response))
        return response

    await call("get", f"{template}/appointments/{{appointment_id}}", f"{base}/appointments/nope")
    start = clock.now() + timedelta(days=3)
    await call(
        "get",
        f"{template}/slots",
        f"{base}/slots",
        params={"from": start.isoformat(), "to": (start - timedelta(days=1)).isoformat()},
    )
    slots = (await client.get(f"{base}/slots", headers=user.headers, params={"limit": 1})).json()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    booking = {"slot_id": slots["items"][0]["slot_id"], "reason": "A cough that will not go"}
    booked = await client.post(
        f"{base}/appointments", json=booking, headers={**user.headers, **key}
    )
    assert booked.status_code == 201, booked.text
    await call(
        "post",
        f"{template}/appointments",
        f"{base}/appointments",
        json={**booking, "reason": "Something else"},
        headers=key,
    )
    appointment = booked.json()["appointment_id"]
    await call(
        "post",
        f"{template}/appointments/{{appointment_id}}/cancel",
        f"{base}/appointments/{appointment}/cancel",
        json={},
    )
    await call("get", f"{template}/practice", "/v1/patients/not-a-patient/practice")
    seen.append(("get", "/v1/me", await client.get("/v1/me")))

    answered = {(p, r.json()["code"]) for _, p, r in seen}
    assert answered == {
        (f"{template}/appointments/{{appointment_id}}", "not_found"),
        (f"{template}/slots", "invalid_range"),
        (f"{template}/appointments", "idempotency_key_reused"),
        (f"{template}/appointments/{{appointment_id}}/cancel", "cancellation_reason_required"),
        (f"{template}/practice", "patient_not_found"),
        ("/v1/me", "not_signed_in"),
    }
    for method, path, response in seen:
        code = response.json()["code"]
        assert code in documented_codes(method, path, response.status_code), (path, code)
