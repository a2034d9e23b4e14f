"""What the edge refuses in any request, walked over the whole OpenAPI document.

- Text no GP system can store (app.storable): a NUL in each string parameter and each
  string of each request body, at every operation, is 422 `validation_failed` naming
  that field, before any GP system is called.
- Dates and times written as numbers (`?to=0` is not 1 January 1970): 422, for every
  `format: date` and `format: date-time` query parameter.
- A validation problem lists a bounded number of fields, however many were wrong.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from app.problems import MAX_FIELD_ERRORS, MAX_FIELD_NAME
from app.storable import MESSAGE, unstorable_in_request
from tests.conftest import SignedInUser, SignIn

NUL = "a\x00"
Path_ = tuple[str | int, ...]


# --- sample requests from the document -------------------------------------------------

# Values for strings with a pattern of their own: the first one that fits is used.
PATTERNED = ["x1", "FAA01", "07700 900123", "a" * 43]


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    members = [m for m in schema.get("anyOf", []) if m.get("type") != "null"]
    return _resolve(members[0], components) if members else schema


def _sample(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A value the schema accepts, with every optional property present."""
    schema = _resolve(schema, components)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: _sample(member, components) for name, member in properties.items()}
    if kind == "array":
        return [_sample(schema["items"], components)]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if schema.get("format") == "date":
        return "2026-12-01"
    if schema.get("format") == "date-time":
        return "2026-12-01T09:00:00Z"
    if "pattern" in schema and "\\u0000" not in schema["pattern"]:
        pattern = re.compile(schema["pattern"])
        return next(
            value
            for value in PATTERNED
            if pattern.search(value)
            and schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", 100)
        )
    return "x" * max(1, schema.get("minLength", 1))


def _string_leaves(schema: dict[str, Any], components: dict[str, Any]) -> Iterator[Path_]:
    """Where a request body holds a string: a path of property names and list indexes."""
    schema = _resolve(schema, components)
    if schema.get("type") == "object":
        for name, member in schema.get("properties", {}).items():
            for rest in _string_leaves(member, components):
                yield (name, *rest)
    elif schema.get("type") == "array":
        for rest in _string_leaves(schema["items"], components):
            yield (0, *rest)
    elif schema.get("type") == "string" or "enum" in schema:
        yield ()


def _with(value: Any, path: Path_, leaf: str) -> Any:
    if not path:
        return leaf
    copy = list(value) if isinstance(value, list) else dict(value)
    copy[path[0]] = _with(value[path[0]], path[1:], leaf)  # type: ignore[index]
    return copy


@pytest.fixture
async def user(sign_in: SignIn) -> SignedInUser:
    return await sign_in("adult-full", ods_code="A81001")


def _operations(app: FastAPI) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    document = app.openapi()
    components = document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation, components


def _path_values(
    operation: dict[str, Any], components: dict[str, Any], user: SignedInUser
) -> dict[str, str]:
    values = {
        p["name"]: str(_sample(p["schema"], components))
        for p in operation.get("parameters", [])
        if p["in"] == "path"
    }
    if "patient_id" in values:
        values["patient_id"] = user.patient_id()
    return values


async def _send(
    client: httpx.AsyncClient,
    user: SignedInUser,
    method: str,
    path: str,
    path_values: dict[str, str],
    **kwargs: Any,
) -> httpx.Response:
    url = path.format(**{name: quote(value, safe="") for name, value in path_values.items()})
    headers = {**user.headers, "Idempotency-Key": f"test-{uuid.uuid4()}"}
    return await client.request(method.upper(), url, headers=headers, **kwargs)


# --- unstorable text --------------------------------------------------------------------


async def test_a_nul_in_any_string_of_any_request_is_refused_before_the_gp_system_is_called(
    app: FastAPI, client: httpx.AsyncClient, user: SignedInUser
) -> None:
    calls = app.state.gp_registry.calls
    cases = 0
    for path, method, operation, components in _operations(app):
        path_values = _path_values(operation, components, user)
        requests: list[tuple[str, dict[str, Any]]] = []
        for parameter in operation.get("parameters", []):
            where, name = parameter["in"], parameter["name"]
            if where not in ("path", "query"):
                continue
            if _resolve(parameter["schema"], components).get("type") not in ("string", None):
                continue
            if where == "path":
                requests.append((f"path.{name}", {"path_values": {**path_values, name: NUL}}))
            else:
                requests.append((f"query.{name}", {"params": {name: NUL}}))
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            schema = content["application/json"]["schema"]
            body = _sample(schema, components)
            for leaf in _string_leaves(schema, components):
                field = ".".join(str(part) for part in ("body", *leaf))
                requests.append((field, {"json": _with(body, leaf, NUL)}))

        for field, request in requests:
            values = request.pop("path_values", path_values)
            before = calls.total
            response = await _send(client, user, method, path, values, **request)
            where = (method.upper(), path, field)
            assert response.status_code == 422, (*where, response.text)
            problem = response.json()
            assert problem["code"] == "validation_failed", where
            assert problem["errors"] == [{"field": field, "message": MESSAGE}], where
            assert calls.total == before, f"{where}: the GP system was called"
            cases += 1
    # Every patient route takes a patient id, and every body has strings: many cases.
    assert cases > 50


async def test_unstorable_text_in_a_json_body_is_refused_as_written_in_json(
    client: httpx.AsyncClient, user: SignedInUser
) -> None:
    # A lone surrogate can only arrive as a JSON escape; a name (key) is checked too.
    content = '{"slot_id": "s1", "reason": "\\ud800", "x\\u0000": 1}'
    response = await client.post(
        f"/v1/patients/{user.patient_id()}/appointments",
        content=content,
        headers={
            **user.headers,
            "Content-Type": "application/json",
            "Idempotency-Key": f"test-{uuid.uuid4()}",
        },
    )
    assert response.status_code == 422, response.text
    fields = [error["field"] for error in response.json()["errors"]]
    assert fields == ["body.reason", "body.x\ufffd"]


async def test_line_breaks_are_free_text_in_a_body_but_not_in_a_query(
    app: FastAPI, client: httpx.AsyncClient, user: SignedInUser
) -> None:
    base = f"/v1/patients/{user.patient_id()}"
    refused = await client.get(
        f"{base}/slots", params={"clinician": "Dr\nShah"}, headers=user.headers
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "query.clinician"
    accepted = await client.post(
        f"{base}/record/corrections",
        json={"description": "My address is wrong.\r\n\tIt is 1 High Street, Leeds. 😀"},
        headers={**user.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert accepted.status_code == 201, accepted.text


# The rule, stated independently of app.storable: control characters (`Cc`; in a body
# but tab, newline and carriage return), surrogates, U+FFFE and U+FFFF.
def _refused(text: str, *, in_body: bool) -> bool:
    allowed = "\t\n\r" if in_body else ""
    return any(
        (unicodedata.category(c) in ("Cc", "Cs") and c not in allowed) or c in "\ufffe\uffff"
        for c in text
    )


@given(st.text(st.characters(exclude_categories=())))
def test_the_rule_refuses_exactly_control_characters_surrogates_and_non_characters(
    text: str,
) -> None:
    in_query = unstorable_in_request({}, [("q", text)], None)
    in_path = unstorable_in_request({"patient_id": text}, [], None)
    in_body = unstorable_in_request({}, [], {"note": [text]})
    assert bool(in_query) == bool(in_path) == _refused(text, in_body=False)
    assert bool(in_body) == _refused(text, in_body=True)
    if in_body:
        assert in_body[0]["loc"] == ("body", "note", 0)


@pytest.mark.parametrize(
    "character", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\ud800", "\udfff", "\ufffe", "\uffff"]
)
def test_each_kind_of_unstorable_character_is_refused(character: str) -> None:
    assert unstorable_in_request({}, [("q", f"a{character}b")], None)
    assert unstorable_in_request({}, [], {"note": f"a{character}b"})


@pytest.mark.parametrize("text", ["Zoë Ó'Brien-Ng", "日本語", "😀", "\u00a0", "\u200b", "\ufffd"])
def test_ordinary_text_from_any_language_is_accepted(text: str) -> None:
    assert not unstorable_in_request({"patient_id": text}, [("q", text)], {"note": text})


# --- dates and times -------------------------------------------------------------------


async def test_date_filters_are_dates_written_out_never_numbers(
    app: FastAPI, client: httpx.AsyncClient, user: SignedInUser
) -> None:
    checked = set()
    for path, method, operation, components in _operations(app):
        path_values = _path_values(operation, components, user)
        for parameter in operation.get("parameters", []):
            schema = _resolve(parameter["schema"], components)
            if parameter["in"] != "query" or schema.get("format") not in ("date", "date-time"):
                continue
            for number in ("0", "1700000000", "20261201"):
                response = await _send(
                    client, user, method, path, path_values, params={parameter["name"]: number}
                )
                where = (method.upper(), path, parameter["name"], number)
                assert response.status_code == 422, (*where, response.text)
                problem = response.json()
                assert problem["code"] == "validation_failed", where
                assert [e["field"] for e in problem["errors"]] == [f"query.{parameter['name']}"], (
                    where
                )
            checked.add((path, parameter["name"]))
    # The record's sections, documents and result series, and the slot search.
    assert len(checked) == 8


async def test_dates_written_out_are_still_taken(
    client: httpx.AsyncClient, user: SignedInUser
) -> None:
    base = f"/v1/patients/{user.patient_id()}"
    section = await client.get(
        f"{base}/record/allergies",
        params={"from": "2020-01-01", "to": "2026-12-31"},
        headers=user.headers,
    )
    assert section.status_code == 200, section.text
    slots = await client.get(
        f"{base}/slots", params={"from": "2026-10-16T09:00:00+01:00"}, headers=user.headers
    )
    assert slots.status_code == 200, slots.text


# --- the size of a validation problem ---------------------------------------------------


async def _exchange(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    content = json.dumps(body, separators=(",", ":"))
    return await client.post(
        "/v1/auth/session", content=content, headers={"Content-Type": "application/json"}
    )


async def test_a_body_of_many_unknown_names_gets_a_short_answer(
    client: httpx.AsyncClient,
) -> None:
    names = {f"k{i}": 0 for i in range(1401)}  # about 12.6 KB
    response = await _exchange(client, names)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "validation_failed"
    # 1,401 unknown names and 3 fields missing: the first few, and how many more.
    assert len(problem["errors"]) == MAX_FIELD_ERRORS
    assert problem["errors_omitted"] == 1401 + 3 - MAX_FIELD_ERRORS
    assert len(response.content) < 4096


async def test_a_long_unknown_name_is_not_echoed_whole(client: httpx.AsyncClient) -> None:
    response = await _exchange(client, {"k" * 10_000: 0})
    assert response.status_code == 422, response.text
    fields = [error["field"] for error in response.json()["errors"]]
    assert all(len(field) <= MAX_FIELD_NAME for field in fields)
    assert len(response.content) < 4096


async def test_a_problem_with_few_bad_fields_lists_them_all(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/session", json={"code": "c"})
    assert response.status_code == 422
    problem = response.json()
    assert {e["field"] for e in problem["errors"]} == {"body.nonce", "body.redirect_uri"}
    assert "errors_omitted" not in problem
