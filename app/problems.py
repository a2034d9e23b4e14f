"""RFC 9457 problem details: the one shape every error response takes.

Routers and services raise `Problem` subclasses, and services and adapters raise
GP domain errors (`app.gp.errors`); the handlers here turn them into `application/problem+json`
with a stable `code`, a plain-English `detail` and the request id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, ClassVar, cast

from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from app.gp import errors as gp

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
REQUEST_ID_HEADER = "X-Request-ID"


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
        default=None, description="For validation problems: each bad field."
    )


class Problem(Exception):
    """An error with a fixed HTTP status and stable code, raised anywhere in the app."""

    status: int = 500
    code: str = "internal_error"
    title: str = "Internal server error"
    default_detail: ClassVar[str] = "Something went wrong on our side. Please try again later."

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


class ServiceUnavailable(Problem):
    status = 503
    code = "service_unavailable"
    title = "Service unavailable"
    default_detail = "This service is not available at the moment. Please try again later."


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
    gp.BookingLimitReached: (409, "Booking limit reached"),
    gp.OutsideBookingWindow: (422, "Outside the booking window"),
    gp.TooLateToCancel: (422, "Too late to cancel online"),
    gp.NotCancellable: (409, "Appointment cannot be cancelled"),
    gp.ReasonRequired: (422, "Booking reason required"),
    gp.CourseNotOrderable: (409, "Medicine cannot be ordered"),
    gp.TooManyItems: (422, "Too many items"),
    gp.PatientNotFound: (404, "Patient not found"),
    gp.LinkageFailed: (403, "Could not connect to your GP practice"),
    gp.NotFoundInGPSystem: (404, "Not found"),
    gp.GPForbidden: (403, "Not allowed by your practice"),
    gp.NotAvailableAtPractice: (403, "Not available at your practice"),
    gp.GPSystemUnavailable: (503, "GP system unavailable"),
    gp.SignInAgain: (401, "Please sign in again"),
    gp.OrderPartlyPlaced: (502, "Order only partly placed"),
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


async def _problem_handler(_request: Request, exc: Exception) -> JSONResponse:
    return problem_parts(cast(Problem, exc)).response()


def _field_name(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location)


async def _validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    # Only the location and message: echoing the input could put patient data in logs.
    errors = [
        {"field": _field_name(tuple(err.get("loc", ()))), "message": err.get("msg", "Invalid")}
        for err in cast(RequestValidationError, exc).errors()
    ]
    return problem_response(
        status=422,
        code="validation_failed",
        title="Invalid request",
        detail="Some of the information sent was not valid. See `errors` for each field.",
        extra={"errors": errors},
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
    app.add_exception_handler(Exception, _unexpected_handler)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the given statuses (shown as problem+json)."""
    return {
        status: {"model": ProblemDetail, "description": HTTPStatus(status).phrase}
        for status in statuses
    }
