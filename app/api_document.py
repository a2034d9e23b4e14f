"""The OpenAPI document: every error response as problem+json, each code with an example.

Routes name what they can raise (`problem_responses(...)`, app.problems); this adds
what every request may meet, derived from each operation's security and body: the
session checks (401), the CSRF and Origin checks on unsafe methods with the cookie
(403), the limits before any route (408, 413, 431, 503), validation (422), the
per-account rate limit (429), 500, and for operations that use the database, 503 while
it cannot be reached. It then lists each status's codes in its
description, makes `code` an enum of every documented code, documents the
`Retry-After` and `Location` headers, gives each kind of problem that adds members a
schema of its own, and adds the journeys' links (app.api_links).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from app.api_links import add_links
from app.auth.deps import SESSION_SECURITY_SCHEMES, current_session, session_security
from app.auth.problems import CSRFTokenInvalid, NotSignedIn, OriginNotAllowed, SessionExpired
from app.db import autocommit_engine, get_session, get_sessionmaker
from app.problems import (
    BODY_NOT_PARSED,
    INTERNAL_ERROR,
    PROBLEM_MEDIA_TYPE,
    PROBLEM_SCHEMA_REF,
    REQUEST_HEADERS_TOO_LARGE,
    REQUEST_TIMEOUT,
    REQUEST_TOO_LARGE,
    SERVER_BUSY,
    VALIDATION_FAILED,
    DatabaseUnavailable,
    ProblemDetail,
    ProblemKind,
    extra_members,
    problem_kind_schema,
    problem_kinds,
    problem_schema_name,
)
from app.ratelimit.service import RateLimited
from app.staff.deps import staff_scheme
from app.staff.problems import StaffNotSignedIn, StaffSessionExpired
from app.storable import LINE_PATTERN, TEXT_PATTERN

SESSION_SCHEMES = {scheme.scheme_name for scheme in SESSION_SECURITY_SCHEMES}
STAFF_SCHEME = staff_scheme.scheme_name
# What an operation asking for a session answers without a live one: a patient's
# session and a staff session are apart (app.staff.service), and so are their codes.
PATIENT_SESSION_PROBLEMS = (NotSignedIn, SessionExpired)
STAFF_SESSION_PROBLEMS = (StaffNotSignedIn, StaffSessionExpired)
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    }
}
# A route that depends on one of these uses this service's database, and so answers
# 503 `database_unavailable` while the database cannot be reached.
DATABASE_DEPENDENCIES = (current_session, get_session, get_sessionmaker, autocommit_engine)
_REPLACED = {"#/components/schemas/ProblemDetail", "#/components/schemas/HTTPValidationError"}


def _session_security(method: str, operation: dict[str, Any]) -> None:
    """Where a route takes the session schemes as dependencies itself (signing out): the
    same alternatives as behind `current_session`, not all three at once, and none at
    all (`{}`): such a route answers without a session too."""
    schemes = {name for requirement in operation.get("security", []) for name in requirement}
    required = session_security(method)  # as `_declare_session_security` set it
    if schemes == SESSION_SCHEMES and operation["security"] != required:
        operation["security"] = [{}, *required]


def _depends_on(dependant: Dependant, call: Any) -> bool:
    return any(sub.call is call or _depends_on(sub, call) for sub in dependant.dependencies)


def _declare_session_security(app: FastAPI, schema: dict[str, Any]) -> None:
    """Operations behind `current_session` take the session schemes, which it reads
    itself rather than as dependencies (so FastAPI does not list them)."""
    schemes = schema["components"].setdefault("securitySchemes", {})
    for scheme in SESSION_SECURITY_SCHEMES:
        schemes[scheme.scheme_name] = scheme.model.model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        if not _depends_on(route.dependant, current_session):
            continue
        for method in route.methods or ():
            operation = schema["paths"][route.path_format][method.lower()]
            operation["security"] = session_security(method)


def _database_operations(app: FastAPI) -> set[tuple[str, str]]:
    """The (path, method) of each operation that uses the database."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        path = route.path_format
        if path and any(_depends_on(route.dependant, used) for used in DATABASE_DEPENDENCIES):
            found.update((path, method.lower()) for method in route.methods or ())
    return found


def common_problems(operation: dict[str, Any], *, uses_database: bool = False) -> list[ProblemKind]:
    """What any request to this operation may meet, whatever the route does."""
    kinds = [REQUEST_TIMEOUT, REQUEST_HEADERS_TOO_LARGE, SERVER_BUSY, INTERNAL_ERROR]
    if uses_database:
        kinds += problem_kinds(DatabaseUnavailable)
    security = operation.get("security", [])
    if security:
        # A session that is optional (`{}`) is never asked for: no 401 for its absence.
        required = {} not in security
        staff = any(STAFF_SCHEME in requirement for requirement in security)
        session_problems = STAFF_SESSION_PROBLEMS if staff else PATIENT_SESSION_PROBLEMS
        for raised in session_problems if required else ():
            kinds += problem_kinds(raised)
        kinds += problem_kinds(RateLimited)
        if any("CSRFToken" in requirement for requirement in security):
            kinds += problem_kinds(CSRFTokenInvalid) + problem_kinds(OriginNotAllowed)
    if "requestBody" in operation:
        kinds += [REQUEST_TOO_LARGE, BODY_NOT_PARSED]
    if "requestBody" in operation or operation.get("parameters"):
        kinds.append(VALIDATION_FAILED)
    return kinds


def _problem_content(response: dict[str, Any]) -> dict[str, Any]:
    content = response.setdefault("content", {})
    json_schema = content.get("application/json", {}).get("schema", {})
    if json_schema.get("$ref") in _REPLACED or (
        not json_schema and PROBLEM_MEDIA_TYPE not in content
    ):
        content.pop("application/json", None)
    media: dict[str, Any] = content.setdefault(PROBLEM_MEDIA_TYPE, {"schema": PROBLEM_SCHEMA_REF})
    media.setdefault("examples", {})
    return media


def _document_problems(operation: dict[str, Any], codes: set[str], *, uses_database: bool) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for kind in common_problems(operation, uses_database=uses_database):
        response = responses.setdefault(str(kind.status), {})
        examples = _problem_content(response)["examples"]
        examples.setdefault(kind.code, {"summary": kind.title, "value": kind.example()})
    for status, response in responses.items():
        if int(status) < 400:
            continue
        examples = _problem_content(response)["examples"]
        codes.update(examples)
        if examples:
            response["description"] = "\n".join(
                f"- `{code}`: {example['summary']}" for code, example in sorted(examples.items())
            )
        if int(status) in (429, 503) or any(
            "retry_after" in example["value"] for example in examples.values()
        ):
            response.setdefault("headers", {}).update(RETRY_AFTER)


def _problem_media(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        response["content"][PROBLEM_MEDIA_TYPE]
        for path_item in schema.get("paths", {}).values()
        for operation in path_item.values()
        for response in operation.get("responses", {}).values()
        if PROBLEM_MEDIA_TYPE in response.get("content", {})
    ]


def _declare_problem_kinds(schema: dict[str, Any], components: dict[str, Any]) -> None:
    """Give each kind of problem that adds members a schema of its own, and each response
    the kinds it may answer with (then ProblemDetail for the rest), so generated clients
    type `retry_after`, `course_ids`… instead of leaving them in a loose dictionary."""
    media = _problem_media(schema)
    examples: dict[str, list[dict[str, Any]]] = {}
    for entry in media:
        for code, example in entry["examples"].items():
            if extra_members(example["value"]):
                examples.setdefault(code, []).append(example["value"])
    for code, values in examples.items():
        components[problem_schema_name(code)] = problem_kind_schema(code, values)
    for entry in media:
        kinds = sorted(code for code in entry["examples"] if code in examples)
        refs = [{"$ref": f"#/components/schemas/{problem_schema_name(code)}"} for code in kinds]
        # anyOf, not oneOf: a problem of a declared kind is a ProblemDetail too.
        entry["schema"] = {"anyOf": [*refs, PROBLEM_SCHEMA_REF]} if refs else PROBLEM_SCHEMA_REF


def _with_storable_pattern(
    schema: dict[str, Any], pattern: str, components: dict[str, Any]
) -> None:
    """Add `pattern` to each free string a request schema holds (app.storable's rule);
    strings with a pattern, format or list of values of their own say more already."""
    if "$ref" in schema:
        target = components.get(schema["$ref"].rsplit("/", 1)[-1])
        if target is not None:
            _with_storable_pattern(target, pattern, components)
        return
    if schema.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(schema):
        schema["pattern"] = pattern
    for key in ("anyOf", "oneOf", "allOf"):
        for member in schema.get(key, []):
            _with_storable_pattern(member, pattern, components)
    if isinstance(schema.get("items"), dict):
        _with_storable_pattern(schema["items"], pattern, components)
    for member in schema.get("properties", {}).values():
        _with_storable_pattern(member, pattern, components)


def _document_storable_text(operation: dict[str, Any], components: dict[str, Any]) -> None:
    """State in each request's strings what `app.storable` refuses: control characters
    (in a body, all but tab and line breaks), U+FFFE and U+FFFF."""
    for parameter in operation.get("parameters", []):
        if parameter.get("in") in ("path", "query"):
            _with_storable_pattern(parameter.get("schema", {}), LINE_PATTERN, components)
    for media in operation.get("requestBody", {}).get("content", {}).values():
        _with_storable_pattern(media.get("schema", {}), TEXT_PATTERN, components)


def api_document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, built once."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = FastAPI.openapi(app)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    _declare_session_security(app, schema)
    problem_schema = ProblemDetail.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem_schema.pop("$defs", {}))
    codes: set[str] = set()
    uses_database = _database_operations(app)
    for path, path_item in schema.get("paths", {}).items():
        for method, operation in path_item.items():
            _session_security(method, operation)
            _document_problems(operation, codes, uses_database=(path, method) in uses_database)
            _document_storable_text(operation, components)
    add_links(schema)
    _declare_problem_kinds(schema, components)
    problem_schema["properties"]["code"]["enum"] = sorted(codes)
    components["ProblemDetail"] = problem_schema
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    app.openapi_schema = schema
    return schema
