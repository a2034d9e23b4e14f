"""The committed OpenAPI document matches the app, and reads well in generated clients."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import cast

from app.openapi import openapi_document
from app.problems import Problem
from app.staff import problems as staff_problems

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "openapi" / "openapi.json"


def test_committed_document_matches_the_app() -> None:
    assert COMMITTED.read_text() == openapi_document(), "run `make openapi` and commit the result"


def _operations() -> list[tuple[str, str, dict[str, object]]]:
    document = json.loads(openapi_document())
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_operation_ids_are_unique_snake_case_names() -> None:
    ids = [operation["operationId"] for _, _, operation in _operations()]
    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", str(operation_id)), operation_id


def test_every_operation_has_a_tag_and_summary() -> None:
    for path, method, operation in _operations():
        assert operation.get("tags"), (method, path)
        assert operation.get("summary"), (method, path)


def test_every_tag_is_described_in_the_order_of_a_patients_journey() -> None:
    document = json.loads(openapi_document())
    used = {tag for _, _, operation in _operations() for tag in cast(list[str], operation["tags"])}
    listed = [tag["name"] for tag in document["tags"]]
    assert set(listed) == used
    assert all(tag.get("description") for tag in document["tags"]), document["tags"]
    # Signing in first, then what a patient does in the order they meet it; health last.
    assert listed == [
        "auth",
        "me",
        "patients",
        "appointments",
        "prescriptions",
        "pharmacies",
        "record",
        "access requests",
        "staff sign-in",
        "practice staff",
        "health",
    ]


def test_errors_are_documented_as_problem_json() -> None:
    for path, method, operation in _operations():
        responses = operation["responses"]
        assert "500" in responses, (method, path)  # type: ignore[operator]
        for status, response in responses.items():  # type: ignore[attr-defined]
            if int(status) >= 400 and path != "/readyz":
                assert list(response["content"]) == ["application/problem+json"], (
                    method,
                    path,
                    status,
                )


def test_signing_out_declares_its_session_optional_and_no_401() -> None:
    [operation] = [o for p, m, o in _operations() if (p, m) == ("/v1/auth/logout", "post")]
    # Signing out twice, or with a session already ended, is a 204 like the first time.
    assert operation["security"] == [
        {}, {"BearerSession": []}, {"SessionCookie": [], "CSRFToken": []},
    ]  # fmt: skip
    assert "401" not in operation["responses"]  # type: ignore[operator]
    assert "204" in operation["responses"]  # type: ignore[operator]


def test_session_security_reads_bearer_or_cookie_with_csrf_on_unsafe_methods() -> None:
    for path, method, operation in _operations():
        security = operation.get("security")
        if not security or path.startswith("/v1/auth/"):
            continue
        if path == "/v1/staff/auth/logout":
            # Signing out twice, or with a staff session already ended, is a 204.
            assert security == [{"StaffSession": []}, {}], (method, path)
            continue
        if path.startswith(("/v1/practices/", "/v1/staff/")):
            # Staff routes take a staff session only: a patient's never reaches them.
            assert security == [{"StaffSession": []}], (method, path)
            continue
        cookie = {"SessionCookie": []}
        if method != "get":
            cookie["CSRFToken"] = []
        assert security == [{"BearerSession": []}, cookie], (method, path)


def test_staff_routes_have_their_own_tags_and_security_scheme() -> None:
    document = json.loads(openapi_document())
    scheme = document["components"]["securitySchemes"]["StaffSession"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    staff = {
        (method, path): operation["tags"]
        for path, method, operation in _operations()
        if path.startswith(("/v1/staff/", "/v1/practices/"))
    }
    assert staff[("get", "/v1/staff/auth/login")] == ["staff sign-in"]
    assert staff[("post", "/v1/staff/auth/session")] == ["staff sign-in"]
    assert staff[("get", "/v1/staff/me")] == ["staff sign-in"]
    assert staff[("post", "/v1/practices/{ods_code}/access-requests/{request_id}/approve")] == [
        "practice staff"
    ]
    for path, method, operation in _operations():
        if not path.startswith(("/v1/staff/", "/v1/practices/")):
            assert not any(
                "StaffSession" in requirement for requirement in operation.get("security", [])
            ), (method, path)


STAFF_CODES = {
    kind.code
    for kind in vars(staff_problems).values()
    if isinstance(kind, type) and issubclass(kind, Problem) and kind is not Problem
}


def _codes(operation: dict[str, object], status: str) -> set[str]:
    response = cast(dict[str, dict[str, object]], operation["responses"]).get(status)
    if response is None:
        return set()
    content = cast(dict[str, dict[str, object]], response["content"])
    return set(cast(dict[str, object], content["application/problem+json"]["examples"]))


def test_staff_and_patient_operations_each_document_their_own_session_problems() -> None:
    assert {"staff_not_signed_in", "staff_session_expired"} <= STAFF_CODES
    checked = {"staff": 0, "patient": 0}
    for path, method, operation in _operations():
        security = cast(list[dict[str, object]], operation.get("security", []))
        unauthorised = _codes(operation, "401")
        if any("StaffSession" in requirement for requirement in security):
            # A patient's session never reaches a staff route: none of its codes here.
            assert unauthorised <= STAFF_CODES, (method, path, unauthorised)
            if {} not in security:
                assert {"staff_not_signed_in", "staff_session_expired"} <= unauthorised
                checked["staff"] += 1
        elif security:
            assert not unauthorised & STAFF_CODES, (method, path, unauthorised)
            if {} not in security:
                assert {"not_signed_in", "session_expired"} <= unauthorised, (method, path)
                checked["patient"] += 1
    assert checked["staff"] >= 8 and checked["patient"] > 20, checked
