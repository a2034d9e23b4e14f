"""RFC 9457 problem details: the one shape every error response takes.

Routers and services raise `Problem` subclasses, and services and adapters raise
GP domain errors (`app.gp.errors`); the handlers here turn them into `application/problem+json`
with a stable `code`, a plain-English `detail` and the request id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, ClassVar, cast

from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from app.gp import errors as gp
from app.gp.types import NotOrderableReason
from app.health.schema import MIGRATE, missing_schema_object
from app.logs import logged_with_request_id

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
REQUEST_ID_HEADER = "X-Request-ID"


# A validation problem lists this many bad fields at most, each name this long at most:
# a body of a thousand unknown keys gets a short answer, not one larger than itself.
MAX_FIELD_ERRORS = 20
MAX_FIELD_NAME = 200


class FieldError(BaseModel):
    field: str = Field(description="Where the bad value is, e.g. `body.slot_id` or `query.from`.")
    message: str = Field(description="What is wrong with it, in plain English.")


class ProblemDetail(BaseModel):
    """An RFC 9457 problem: every error response has this shape."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI reference naming the kind of problem.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong, in words a patient can act on.")
    code: str = Field(description="A stable machine-readable code, e.g. `slot_unavailable`.")
    request_id: str | None = Field(
        default=None, description="The request id; quote it when contacting support."
    )
    errors: list[FieldError] | None = Field(
        default=None,
        description=f"For validation problems: each bad field, the first {MAX_FIELD_ERRORS} "
        "at most.",
    )
    errors_omitted: int | None = Field(
        default=None,
        description="For validation problems with more bad fields than `errors` lists: "
        "how many more there were.",
    )


class Problem(Exception):
    """An error with a fixed HTTP status and stable code, raised anywhere in the app."""

    status: int = 500
    code: str = "internal_error"
    title: str = "Internal server error"
    default_detail: ClassVar[str] = "Something went wrong on our side. Please try again later."
    # Members beyond the standard ones, as the OpenAPI example shows them.
    example_extra: ClassVar[Mapping[str, Any]] = {}

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.default_detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        super().__init__(self.detail)


class NotFound(Problem):
    status = 404
    code = "not_found"
    title = "Not found"
    default_detail = "We could not find what you asked for."


class InvalidCursor(Problem):
    """A page cursor the service did not issue. Cursors only narrow a list already limited
    to the patient, so a forged one reveals nothing; it is simply refused."""

    status = 400
    code = "invalid_cursor"
    title = "Invalid cursor"
    default_detail = "The page cursor was not recognised. Start again from the first page."


class ServiceUnavailable(Problem):
    status = 503
    code = "service_unavailable"
    title = "Service unavailable"
    default_detail = "This service is not available at the moment. Please try again later."


class DatabaseUnavailable(Problem):
    """This service's own database could not be reached: down, restarting, refusing
    connections, a connection lost mid-request, or none free in time. Raised by no one:
    the handler below answers with it for such a database error."""

    status = 503
    code = "database_unavailable"
    title = "Database unavailable"
    default_detail = (
        "We cannot reach our database at the moment. Please try again in a few seconds."
    )
    retry_after = 5  # a restart or failover takes seconds
    example_extra: ClassVar[Mapping[str, Any]] = {"retry_after": retry_after}

    def __init__(self) -> None:
        super().__init__(
            headers={"Retry-After": str(self.retry_after)}, extra={"retry_after": self.retry_after}
        )


def problem_type(code: str) -> str:
    return f"/problems/{code}"


@dataclass(frozen=True, slots=True)
class ProblemParts:
    status: int
    code: str
    title: str
    detail: str
    headers: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {
            "type": problem_type(self.code),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "request_id": correlation_id.get(),
            **self.extra,
        }

    def response(self) -> JSONResponse:
        return JSONResponse(
            self.body(),
            status_code=self.status,
            headers=dict(self.headers),
            media_type=PROBLEM_MEDIA_TYPE,
        )


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    return ProblemParts(status, code, title, detail, headers or {}, extra or {}).response()


# Domain errors, raised by services and adapters that know nothing of HTTP, are
# turned into problems here, in one table: error type → (status, title).
GP_ERROR_STATUS: dict[type[gp.GPError], tuple[int, str]] = {
    gp.SlotUnavailable: (409, "Slot unavailable"),
    gp.SlotNotFound: (409, "Slot not found"),
    gp.BookingLimitReached: (409, "Booking limit reached"),
    gp.OutsideBookingWindow: (422, "Outside the booking window"),
    gp.TooLateToCancel: (422, "Too late to cancel online"),
    gp.NotCancellable: (409, "Appointment cannot be cancelled"),
    gp.RequestNotCancellable: (409, "Prescription request cannot be cancelled"),
    gp.ReasonRequired: (422, "Booking reason required"),
    gp.CourseNotOrderable: (409, "Medicine cannot be ordered"),
    gp.TooManyItems: (422, "Too many items"),
    gp.PatientNotFound: (404, "Patient not found"),
    gp.LinkageFailed: (403, "Could not connect to your GP practice"),
    gp.NotFoundInGPSystem: (404, "Not found"),
    gp.GPForbidden: (403, "Not allowed by your practice"),
    gp.SectionUnavailable: (503, "Not available from the GP system"),
    gp.NotAvailableAtPractice: (403, "Not available at your practice"),
    gp.GPSystemUnavailable: (503, "GP system unavailable"),
    gp.SignInAgain: (401, "Please sign in again"),
    gp.OrderPartlyPlaced: (502, "Order only partly placed"),
}


# What the OpenAPI examples show beyond the standard members, for GP errors that add some.
GP_ERROR_EXAMPLE_EXTRA: dict[type[gp.GPError], dict[str, Any]] = {
    gp.GPSystemUnavailable: {"retry_after": 30},
    gp.NotAvailableAtPractice: {"capability": "cancel_prescription_request"},
    gp.OrderPartlyPlaced: {"request_id": "rq-5b1c9e", "course_ids": ["c-1001"]},
}


def _gp_error_extra(error: gp.GPError) -> tuple[dict[str, str], dict[str, Any]]:
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if isinstance(error, gp.GPSystemUnavailable):
        headers["Retry-After"] = str(error.retry_after)
        extra["retry_after"] = error.retry_after
    if isinstance(error, gp.OrderPartlyPlaced):
        extra["request_id"] = error.placed.request_id
        extra["course_ids"] = list(error.placed.course_ids)
    if isinstance(error, gp.NotAvailableAtPractice):
        extra["capability"] = error.capability.value
    if isinstance(error, gp.CourseNotOrderable):
        extra["reason"] = error.reason.value
        if error.course_id:
            extra["course_id"] = error.course_id
        if error.orderable_from:
            extra["orderable_from"] = error.orderable_from.isoformat()
    return headers, extra


def problem_parts(exc: Problem | gp.GPError) -> ProblemParts:
    """The problem a `Problem` or a GP domain error is shown as."""
    if isinstance(exc, Problem):
        return ProblemParts(exc.status, exc.code, exc.title, exc.detail, exc.headers, exc.extra)
    status, title = next(
        GP_ERROR_STATUS[kind] for kind in type(exc).__mro__ if kind in GP_ERROR_STATUS
    )
    headers, extra = _gp_error_extra(exc)
    return ProblemParts(status, exc.code, title, exc.detail, headers, extra)


async def _gp_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    error = cast(gp.GPError, exc)
    if error.supplier_code:
        logger.info("GP system refused: %s (%s)", error.code, error.supplier_code)
    return problem_parts(error).response()


async def _exception_group_handler(request: Request, exc: Exception) -> JSONResponse:
    """GP calls made at once that failed together (`asyncio.TaskGroup`) answer as the one
    GP error that tells the patient most, as a single call would: an outage is a 503 with
    `Retry-After`, never a 500. Services normally do this themselves (`app.gp.at_once`);
    this keeps a concurrent read written without it from answering 500."""
    error = gp.most_telling(cast(ExceptionGroup[Exception], exc))
    if error is None:
        raise exc  # anything else in the group is unexpected: the 500 handler's
    return await _gp_error_handler(request, error)


def database_unreachable(exc: BaseException) -> bool:
    """Whether a database error means the database could not be reached, rather than
    that it refused a statement: a connection that could not be opened (`app.db` makes
    every such failure an `OperationalError`) or was lost, or none free in time."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    sqlite_error = (
        getattr(exc.orig, "sqlite_errorname", None) if isinstance(exc, DBAPIError) else None
    )
    if isinstance(exc, OperationalError) and sqlite_error is not None:
        # SQLite says "operational" of a missing table too: only a file it cannot open,
        # read or write now, or one locked past the wait, is the database unreachable.
        return str(sqlite_error).startswith(SQLITE_UNREACHABLE)
    return isinstance(exc, OperationalError | InterfaceError | PoolTimeout)


SQLITE_UNREACHABLE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR")


async def _database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """A database that cannot be reached is a 503 with Retry-After, answered at once.

    Nothing here waits for it: SQLAlchemy replaces a lost connection, and every other
    one pooled before it, so the next request after the database is back is served.
    So is a missing table while the schema is not known to be this version's: the
    database is not migrated yet (readiness says so too), which is no bug to trace."""
    schema = getattr(request.app.state, "schema_check", None)
    if missing_schema_object(exc) and not (schema is not None and schema.known_ready):
        logger.error("database schema is behind this version (a table is missing): %s", MIGRATE)
        return problem_parts(DatabaseUnavailable()).response()
    if not database_unreachable(exc):
        raise exc  # a statement the database refused: a bug, the 500 handler's
    logger.warning("database unavailable: %s", " <- ".join(_causes(exc)))
    return problem_parts(DatabaseUnavailable()).response()


def _causes(exc: BaseException) -> list[str]:
    """The error's type and the driver's and system's beneath it, with no message (a
    message may quote a statement's values)."""
    names: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(names) < 5:
        names.append(type(current).__name__)
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return names


async def _problem_handler(_request: Request, exc: Exception) -> JSONResponse:
    return problem_parts(cast(Problem, exc)).response()


def _field_name(location: tuple[Any, ...]) -> str:
    name = ".".join(str(part) for part in location)
    return name if len(name) <= MAX_FIELD_NAME else name[: MAX_FIELD_NAME - 1] + "…"


async def _validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    # Only the location and message: echoing the input could put patient data in logs.
    found = cast(RequestValidationError, exc).errors()
    errors = [
        {"field": _field_name(tuple(err.get("loc", ()))), "message": err.get("msg", "Invalid")}
        for err in found[:MAX_FIELD_ERRORS]
    ]
    extra: dict[str, Any] = {"errors": errors}
    if len(found) > MAX_FIELD_ERRORS:
        extra["errors_omitted"] = len(found) - MAX_FIELD_ERRORS
    return problem_response(
        status=422,
        code="validation_failed",
        title="Invalid request",
        detail="Some of the information sent was not valid. See `errors` for each field.",
        extra=extra,
    )


_HTTP_CODES = {
    404: ("not_found", "There is nothing at this address."),
    405: ("method_not_allowed", "This address does not accept that method."),
}


def allowed_methods(request: Request) -> str:
    """Every method the request's path answers to, across all its routes (RFC 9110 §15.5.6).

    The router names only the first route that matched the path, which for a path
    served by several routes (GET and POST /v1/auth/session) leaves methods out.
    """
    path = request.url.path
    methods = {
        method
        for route in iter_route_contexts(request.app.routes)
        if route.path and route.methods and compile_path(route.path)[0].match(path)
        for method in route.methods
    }
    return ", ".join(sorted(methods))


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    http_error = cast(StarletteHTTPException, exc)
    headers = dict(http_error.headers or {})
    if http_error.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    phrase = HTTPStatus(http_error.status_code).phrase
    code, detail = _HTTP_CODES.get(
        http_error.status_code, (phrase.lower().replace(" ", "_").replace("-", "_"), phrase + ".")
    )
    if isinstance(http_error.detail, str) and http_error.detail != phrase:
        detail = http_error.detail
    return problem_response(
        status=http_error.status_code,
        code=code,
        title=phrase,
        detail=detail,
        headers=headers,
    )


async def _unexpected_handler(_request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error", exc_info=exc)
    logged_with_request_id(exc)  # uvicorn's own copy of the traceback is left out
    # This runs outside the request-id middleware, so the header is set here.
    request_id = correlation_id.get()
    return problem_response(
        status=500,
        code=Problem.code,
        title=Problem.title,
        detail=Problem.default_detail,
        headers={REQUEST_ID_HEADER: request_id} if request_id else None,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _problem_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(gp.GPError, _gp_error_handler)
    app.add_exception_handler(ExceptionGroup, _exception_group_handler)
    app.add_exception_handler(SQLAlchemyError, _database_error_handler)
    app.add_exception_handler(Exception, _unexpected_handler)


# --- Documenting problems: one source for the OpenAPI document ---------------------------

EXAMPLE_REQUEST_ID = "4f0c2d3e9a8b47f1b2c3d4e5f6a7b8c9"


@dataclass(frozen=True, slots=True)
class ProblemKind:
    """One problem an operation may answer with, as its OpenAPI example shows it.

    Most are derived from the class that is raised (`problem_kinds(SlotUnavailable)`);
    a code raised by a general class (`InvalidRequest("reason_too_long", …)`) is named
    by a `ProblemKind` constant beside the code that raises it.
    """

    status: int
    code: str
    title: str
    detail: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    def example(self) -> dict[str, Any]:
        return {
            "type": problem_type(self.code),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "request_id": EXAMPLE_REQUEST_ID,
            **self.extra,
        }


Raises = type[Problem] | type[gp.GPError] | ProblemKind | int
# A course refused as `too_soon` says when it can be ordered.
TOO_SOON_EXTRA = {"orderable_from": "2026-03-01"}


def problem_kinds(item: Raises) -> list[ProblemKind]:
    """The documented problems for a raised class, a `ProblemKind`, or a bare status."""
    if isinstance(item, ProblemKind):
        return [item]
    if isinstance(item, int):
        return []  # a status with no named codes (kept for callers not yet converted)
    if issubclass(item, Problem):
        if item.code == Problem.code and item is not Problem:
            raise TypeError(f"{item.__name__} sets its code per instance: name a ProblemKind")
        return [
            ProblemKind(item.status, item.code, item.title, item.default_detail, item.example_extra)
        ]
    status, title = next(GP_ERROR_STATUS[kind] for kind in item.__mro__ if kind in GP_ERROR_STATUS)
    if issubclass(item, gp.CourseNotOrderable):
        # Its code is the reason the course cannot be ordered.
        return [
            ProblemKind(
                status,
                reason.value,
                title,
                gp.CourseNotOrderable(reason).detail,
                {"reason": reason.value, "course_id": "c-1001"}
                | (TOO_SOON_EXTRA if reason is NotOrderableReason.TOO_SOON else {}),
            )
            for reason in NotOrderableReason
        ]
    return [
        ProblemKind(status, item.code, title, item.default_detail,
                    GP_ERROR_EXAMPLE_EXTRA.get(item, {}))
    ]  # fmt: skip


# The problems every request may meet before or around any route (app.serving,
# app.request_limits, the handlers above); `app.main` adds them to each operation.
REQUEST_TIMEOUT = ProblemKind(
    408, "request_timeout", "Request timeout", "The request was not received in time."
)
REQUEST_TOO_LARGE = ProblemKind(
    413,
    "request_too_large",
    "Request too large",
    "The request body is larger than this address accepts (16384 bytes).",
)
REQUEST_HEADERS_TOO_LARGE = ProblemKind(
    431,
    "request_headers_too_large",
    "Request headers too large",
    "The request's headers are larger than this service accepts.",
)
SERVER_BUSY = ProblemKind(
    503,
    "server_busy",
    "Server busy",
    "We are handling a lot of requests at the moment. Please try again in a moment.",
    {"retry_after": 1},
)
INTERNAL_ERROR = ProblemKind(500, Problem.code, Problem.title, Problem.default_detail)
VALIDATION_FAILED = ProblemKind(
    422,
    "validation_failed",
    "Invalid request",
    "Some of the information sent was not valid. See `errors` for each field.",
    {"errors": [{"field": "body.slot_id", "message": "Field required"}]},
)
BODY_NOT_PARSED = ProblemKind(
    400, "bad_request", "Bad Request", "There was an error parsing the body"
)


def problem_responses(*raises: Raises) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the problems a route can answer with, grouped by status.

    Name what the route (and its dependencies) can raise: `Problem` subclasses, GP
    errors, `ProblemKind`s, or bare statuses. Each status gets every code as a named
    example; `app.main` adds what every request may meet (401 and 403 from the session
    and CSRF checks, 408, 413, 422 validation, 429, 431, 500, 503 server busy), the
    `code` enum, and the `Location` and `Retry-After` headers.
    """
    responses: dict[int | str, dict[str, Any]] = {}
    for item in raises:
        kinds = problem_kinds(item)
        statuses = {item} if isinstance(item, int) else {kind.status for kind in kinds}
        for status in statuses:
            entry = responses.setdefault(
                status,
                {
                    "description": HTTPStatus(status).phrase,
                    "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA_REF, "examples": {}}},
                },
            )
            examples = entry["content"][PROBLEM_MEDIA_TYPE]["examples"]
            for kind in kinds:
                if kind.status == status:
                    examples[kind.code] = {"summary": kind.title, "value": kind.example()}
    return responses


PROBLEM_SCHEMA_REF = {"$ref": "#/components/schemas/ProblemDetail"}


# Members a problem may carry beyond ProblemDetail's own, each declared once: the OpenAPI
# document gives every kind that sends some a schema of its own (`problem_kind_schema`),
# so a generated client reads them as typed attributes.
PROBLEM_MEMBERS: dict[str, dict[str, Any]] = {
    "retry_after": {
        "type": "integer",
        "minimum": 0,
        "description": "Seconds to wait before trying again (the same as `Retry-After`).",
    },
    "limit": {
        "type": "string",
        "description": "Which limit was reached, e.g. `booking` or `sign_in`.",
    },
    "reason": {
        "type": "string",
        "description": "Why, as a stable code; each example shows one.",
    },
    "capability": {
        "type": "string",
        "description": "What the practice does not offer online, e.g. "
        "`cancel_prescription_request`.",
    },
    "course_id": {"type": "string", "description": "The medicine (course) refused."},
    "course_ids": {
        "type": "array",
        "items": {"type": "string"},
        "description": "The medicines (courses) concerned.",
    },
    "orderable_from": {
        "type": "string",
        "format": "date",
        "description": "When `too_soon`: the first day it can be ordered.",
    },
    "public_base_url": {
        "type": "string",
        "description": "The address to open the site at, then sign in again.",
    },
    "step_up_url": {
        "type": "string",
        "description": "Where to send the browser to prove who the user is.",
    },
}
# Members sent only when known (a course refused by an adapter may not say which).
SOMETIMES_SENT = frozenset({"course_id", "orderable_from"})


def extra_members(example: Mapping[str, Any]) -> list[str]:
    """The members of a problem example beyond ProblemDetail's own."""
    return [name for name in example if name not in ProblemDetail.model_fields]


def problem_schema_name(code: str) -> str:
    """`rate_limited` → `RateLimitedProblem`."""
    return "".join(part.capitalize() for part in code.split("_")) + "Problem"


def problem_kind_schema(code: str, examples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The schema of one kind of problem: ProblemDetail, with `code` fixed to the kind's
    and the members its examples carry declared and typed. Members sent every time are
    required, so a client can read them without checking first."""
    seen: dict[str, int] = {}
    for example in examples:
        for name in extra_members(example):
            seen[name] = seen.get(name, 0) + 1
    undeclared = sorted(set(seen) - set(PROBLEM_MEMBERS))
    if undeclared:
        raise ValueError(f"problem {code!r} sends {undeclared}: declare them in PROBLEM_MEMBERS")
    always = [n for n, count in seen.items() if count == len(examples) and n not in SOMETIMES_SENT]
    return {
        "title": problem_schema_name(code),
        "description": f"A `{code}` problem, with the members it adds to ProblemDetail.",
        "allOf": [
            PROBLEM_SCHEMA_REF,
            {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "enum": [code]},
                    **{name: PROBLEM_MEMBERS[name] for name in seen},
                },
                "required": ["code", *always],
            },
        ],
    }
