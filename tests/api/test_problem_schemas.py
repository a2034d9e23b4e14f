"""Every member a problem sends beyond ProblemDetail's own is declared and typed in the
OpenAPI document, in a schema of the problem's kind, for each response that can carry it."""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

import pytest

from app.auth.problems import IdentityVerificationRequired, LoginCookieMissing, NHSLoginUnavailable
from app.gp import errors as gp
from app.gp.types import Capability, NotOrderableReason
from app.idempotency.service import RequestInProgress
from app.openapi import openapi_document
from app.patients.deps import AccessUnavailable, ServiceNotPermitted
from app.patients.rules import Unavailable
from app.pharmacies.problems import PharmacyDirectoryUnavailable
from app.prescriptions.service import UNKNOWN_COURSE, PrescriptionProblem
from app.problems import (
    DatabaseUnavailable,
    Problem,
    ProblemDetail,
    problem_parts,
    problem_schema_name,
)
from app.ratelimit.service import Budget, RateLimited

DOCUMENT = json.loads(openapi_document())
SCHEMAS = DOCUMENT["components"]["schemas"]
PROBLEM = "application/problem+json"
TYPES: dict[str, type | tuple[type, ...]] = {"integer": int, "string": str, "array": list}


def subclasses(cls: type[Problem]) -> Iterator[type[Problem]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)


def members_sent(cls: type[Problem]) -> set[str]:
    """The keys of each `extra={...}` literal in the class's own code."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    return {
        key.value
        for node in ast.walk(tree)
        if isinstance(node, ast.keyword) and node.arg == "extra"
        if isinstance(node.value, ast.Dict)
        for key in node.value.keys
        if isinstance(key, ast.Constant) and isinstance(key.value, str)
    }


def kind_schema(code: str) -> dict[str, Any]:
    """The members a kind's schema declares, and those it requires, with its `code`."""
    schema = SCHEMAS[problem_schema_name(code)]
    own = schema["allOf"][1]
    assert schema["allOf"][0] == {"$ref": "#/components/schemas/ProblemDetail"}
    assert own["properties"]["code"]["enum"] == [code]
    return own


def assert_declared(body: Mapping[str, Any]) -> None:
    """Each member beyond ProblemDetail's is declared, with the type it is sent as, and
    each one the schema requires is sent."""
    extra = {name: value for name, value in body.items() if name not in ProblemDetail.model_fields}
    assert extra, body
    own = kind_schema(body["code"])
    for name, value in extra.items():
        declared = own["properties"].get(name)
        assert declared is not None, (body["code"], name)
        assert isinstance(value, TYPES[declared["type"]]), (body["code"], name, value)
        assert not isinstance(value, bool)
        if declared["type"] == "array":
            assert all(isinstance(item, TYPES[declared["items"]["type"]]) for item in value)
    assert set(own["required"]) <= set(body), (body["code"], own["required"])


def test_each_problem_class_shows_in_its_example_every_member_it_sends() -> None:
    for cls in subclasses(Problem):
        sent = members_sent(cls)
        assert sent <= set(cls.example_extra), (cls.__name__, sent)


def problem_media() -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                media = response.get("content", {}).get(PROBLEM)
                if media is not None:
                    yield path, method, status, media


def test_every_documented_problem_with_members_has_a_schema_of_its_kind() -> None:
    kinds = 0
    for path, method, status, media in problem_media():
        refs = [member["$ref"] for member in media["schema"].get("anyOf", [media["schema"]])]
        assert refs[-1] == "#/components/schemas/ProblemDetail", (method, path, status)
        for code, example in media["examples"].items():
            value = example["value"]
            if set(value) - set(ProblemDetail.model_fields):
                kinds += 1
                ref = f"#/components/schemas/{problem_schema_name(code)}"
                assert ref in refs, (method, path, status, code)
                assert_declared(value)
    assert kinds


def sent_bodies() -> Iterator[dict[str, Any]]:
    """Problems as they are sent, built by the code that raises them."""
    raised: list[Problem | gp.GPError] = [
        RateLimited(Budget.BOOKING, 42),
        DatabaseUnavailable(),
        PharmacyDirectoryUnavailable(retry_after=7),
        NHSLoginUnavailable(),
        RequestInProgress(),
        AccessUnavailable(Unavailable.PROXY_ACCESS_ENDED),
        ServiceNotPermitted(Unavailable.NOT_GRANTED),
        LoginCookieMissing("http://127.0.0.1:8000"),
        IdentityVerificationRequired("/v1/auth/login"),
        PrescriptionProblem(UNKNOWN_COURSE, course_ids=["c-1", "c-2"]),
        gp.GPSystemUnavailable(retry_after=12),
        gp.NotAvailableAtPractice(Capability.DOCUMENTS),
        gp.CourseNotOrderable(
            NotOrderableReason.TOO_SOON, course_id="c-1", orderable_from=date(2026, 3, 1)
        ),
        *(gp.CourseNotOrderable(reason, course_id="c-1") for reason in NotOrderableReason),
    ]
    for error in raised:
        yield problem_parts(error).body()


@pytest.mark.parametrize("body", list(sent_bodies()), ids=lambda body: body["code"])
def test_members_sent_are_declared_and_typed(body: dict[str, Any]) -> None:
    assert_declared(body)


def test_a_rate_limited_answer_declares_retry_after_as_an_integer_and_limit() -> None:
    own = kind_schema("rate_limited")
    assert own["properties"]["retry_after"]["type"] == "integer"
    assert own["properties"]["limit"]["type"] == "string"
    assert {"retry_after", "limit"} <= set(own["required"])


def test_file_downloads_declare_what_clients_read() -> None:
    paths = DOCUMENT["paths"]
    document = paths["/v1/patients/{patient_id}/record/documents/{document_id}/content"]["get"]
    content = document["responses"]["200"]["content"]
    assert next(iter(content)) == "application/octet-stream"
    for media in content.values():
        assert media["schema"] == {"type": "string", "format": "binary"}
    calendar = paths["/v1/patients/{patient_id}/appointments/{appointment_id}/calendar.ics"]
    assert calendar["get"]["responses"]["200"]["content"]["text/calendar"]["schema"] == {
        "type": "string"
    }
