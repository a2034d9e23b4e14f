"""OperationOutcome and HTTP status → the port's domain errors (pure, no I/O).

GP Connect returns a `GPConnect-OperationOutcome-1` (STU3) or UK Core OperationOutcome (R4)
whose `issue.details.coding.code` comes from the Spine-ErrorOrWarningCode-1 value set
(GP Connect "Error handling" guidance). That code is kept in `supplier_code`.

`diagnostics` may hold anything the provider chose to write, including patient details:
it is read here to pick the right domain error and is never copied into an exception
message or a log line.

An OperationOutcome with a Spine code is the GP system (or Spine) answering, and keeps its
meaning. A 400, 403, 404, 405 or 415 without one comes from the platform in front of it:
the API platform's proxy (a plain-text 404 for a practice it does not route to, its own
catch-all OperationOutcome whose code is the HTTP status) or a gateway. Those, and a 400
whose Spine code says the request itself is malformed, are ours to fix:
`GPConfigurationFault`, never a refusal shown to the patient as theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from app.adapters.gpconnect.interactions import SPINE_ERROR_SYSTEMS
from app.gp.errors import (
    BookingLimitReached,
    CourseNotOrderable,
    GPConfigurationFault,
    GPError,
    GPForbidden,
    GPSystemUnavailable,
    NotCancellable,
    NotFoundInGPSystem,
    OutsideBookingWindow,
    PatientNotFound,
    ReasonRequired,
    SlotUnavailable,
    TooLateToCancel,
    TooManyItems,
)
from app.gp.types import NotOrderableReason

DEFAULT_RETRY_AFTER = 30

NOT_ACCEPTED = (
    "Your GP practice's system did not accept this request. "
    "Please try again later or contact your practice."
)
NOT_OFFERED = "Your GP practice's system does not offer this online yet."


class Operation(StrEnum):
    """What the adapter was doing: the same Spine code means different things per call."""

    READ = "read"
    BOOK = "book"
    CANCEL = "cancel"
    ORDER = "order"


PATIENT_CODES = frozenset(
    {"PATIENT_NOT_FOUND", "INVALID_NHS_NUMBER", "INVALID_PATIENT_DEMOGRAPHICS"}
)
FORBIDDEN_CODES = frozenset(
    {"NO_RELATIONSHIP", "ACCESS_DENIED", "NO_PATIENT_CONSENT", "NO_ORGANISATION_CONSENT"}
)
NOT_FOUND_CODES = frozenset(
    {"NO_RECORD_FOUND", "REFERENCE_NOT_FOUND", "ORGANISATION_NOT_FOUND", "PRACTITIONER_NOT_FOUND"}
)
INVALID_CODES = frozenset(
    {
        "INVALID_RESOURCE",
        "INVALID_PARAMETER",
        "BAD_REQUEST",
        "INVALID_IDENTIFIER_SYSTEM",
        "INVALID_IDENTIFIER_VALUE",
    }
)


# A 400 with one of these says our request is malformed ("Submitted request is
# malformed/invalid", the "default" VALIDATION_ERROR…): ours to fix, unless the
# diagnostics name a rule the patient met. So is any other INVALID_* code at 400 but
# the patient's own (INVALID_NHS_NUMBER, INVALID_PATIENT_DEMOGRAPHICS: PATIENT_CODES).
OUR_REQUEST_CODES = frozenset(
    {"BAD_REQUEST", "VALIDATION_ERROR", "UNSUPPORTED_VALUE", "INVALID_REQUEST_MESSAGE"}
)
# Statuses the platform answers with itself (its proxy's routing, method and media-type
# checks, a gateway's refusal) when the body is not a GP system's OperationOutcome.
PLATFORM_STATUSES = frozenset({400, 403, 404, 405, 415})
# Cancel an appointment (patient-facing): "461 ACCESS_DENIED Too late to cancel appointment".
TOO_LATE_TO_CANCEL_STATUS = 461


def spine_code(body: Any) -> str | None:
    """The first Spine error code in an OperationOutcome, if the body is one."""
    for issue in _issues(body):
        for coding in (issue.get("details") or {}).get("coding") or []:
            code = coding.get("code")
            if isinstance(code, str) and (
                coding.get("system") in SPINE_ERROR_SYSTEMS or code.isupper()
            ):
                return code
    return None


def _issues(body: Any) -> list[Mapping[str, Any]]:
    if not isinstance(body, Mapping) or body.get("resourceType") != "OperationOutcome":
        return []
    return [issue for issue in body.get("issue") or [] if isinstance(issue, Mapping)]


def _diagnostics(body: Any) -> str:
    return " ".join(str(issue.get("diagnostics") or "") for issue in _issues(body)).lower()


def retry_after_seconds(header: str | None) -> int:
    """Retry-After in seconds (RFC 9110 allows an HTTP date too; that falls back to a default)."""
    if header and header.strip().isdigit():
        return max(1, int(header.strip()))
    return DEFAULT_RETRY_AFTER


def _mentions(text: str, *words: str) -> bool:
    return any(word in text for word in words)


def _rule_for(operation: Operation, text: str, code: str) -> GPError | None:
    """The rule the patient met, where the diagnostics name one we know."""
    if operation is Operation.BOOK:
        if _mentions(text, "slot") and _mentions(
            text, "not a valid resource", "not found", "does not exist", "no longer exists"
        ):
            # The reference provider: "Slot resource reference value … is not a valid
            # resource" (422 INVALID_RESOURCE) for a slot that has gone.
            return SlotUnavailable(supplier_code=code)
        if _mentions(text, "not free", "busy", "already booked", "no longer available"):
            return SlotUnavailable(supplier_code=code)
        if _mentions(text, "maximum number of appointments", "appointment limit", "too many"):
            return BookingLimitReached(supplier_code=code)
        if _mentions(text, "in the past", "booking window", "embargo", "too far"):
            return OutsideBookingWindow(supplier_code=code)
        if _mentions(text, "description", "reason") and _mentions(text, "required", "missing"):
            return ReasonRequired(supplier_code=code)
    if operation is Operation.CANCEL:
        if _mentions(text, "cut-off", "cutoff", "too late", "too close"):
            return TooLateToCancel(supplier_code=code)
        if _mentions(
            text, "in the past", "already cancelled", "cannot be cancelled", "cannot cancel"
        ):
            return NotCancellable(supplier_code=code)
    if operation is Operation.ORDER:
        if _mentions(text, "too many", "maximum number of items"):
            return TooManyItems(supplier_code=code)
        for words, reason in (
            (("acute", "not a repeat"), NotOrderableReason.NOT_A_REPEAT),
            (("review",), NotOrderableReason.REVIEW_OVERDUE),
            (("pending", "already requested", "outstanding"), NotOrderableReason.PENDING_REQUEST),
            (("too soon", "too early"), NotOrderableReason.TOO_SOON),
        ):
            if _mentions(text, *words):
                return CourseNotOrderable(reason, supplier_code=code)
    return None


def _invalid_for(operation: Operation, text: str, code: str) -> GPError:
    """INVALID_RESOURCE / INVALID_PARAMETER / BAD_REQUEST: the diagnostics name the rule."""
    rule = _rule_for(operation, text, code)
    if rule is not None:
        return rule
    if operation is Operation.CANCEL:
        return NotCancellable(supplier_code=code)
    return GPForbidden(NOT_ACCEPTED, supplier_code=code)


def _ours_to_fix(status: int, code: str | None) -> bool:
    """Whether the answer is about our request or configuration, not the patient's."""
    if code is None:
        # Not a GP system's OperationOutcome: the platform's own answer.
        return status in PLATFORM_STATUSES
    return status == 400 and (
        code in OUR_REQUEST_CODES or (code.startswith("INVALID_") and code not in PATIENT_CODES)
    )


def error_for_response(
    status: int, body: Any, operation: Operation, *, retry_after: str | None = None
) -> GPError:
    """The domain error for a non-2xx GP Connect response."""
    code = spine_code(body)
    supplier_code = code or f"HTTP {status}"
    text = _diagnostics(body)

    if status == 501 or code == "NOT_IMPLEMENTED":
        return GPForbidden(NOT_OFFERED, supplier_code=supplier_code)
    if status >= 500 or status in (408, 429) or code == "INTERNAL_SERVER_ERROR":
        return GPSystemUnavailable(
            retry_after=retry_after_seconds(retry_after), supplier_code=supplier_code
        )
    if status == 401:
        # Our credentials were refused: nothing the patient can change, so treat it as an
        # outage (the breaker opens and operators see it) rather than a refusal.
        return GPSystemUnavailable(supplier_code=supplier_code)
    if code in PATIENT_CODES:
        return PatientNotFound(supplier_code=code)
    if _ours_to_fix(status, code):
        return _rule_for(operation, text, supplier_code) or GPConfigurationFault(
            supplier_code=supplier_code
        )
    if code == "DUPLICATE_REJECTED":
        # Book an appointment: "409 DUPLICATE_REJECTED when the referenced slots are no
        # longer free". For a prescription request it means the same order already exists.
        if operation is Operation.BOOK:
            return SlotUnavailable(supplier_code=code)
        if operation is Operation.ORDER:
            return CourseNotOrderable(NotOrderableReason.PENDING_REQUEST, supplier_code=code)
        if operation is Operation.CANCEL:
            return NotCancellable(supplier_code=code)
        return GPForbidden(NOT_ACCEPTED, supplier_code=code)
    if operation is Operation.CANCEL and status == TOO_LATE_TO_CANCEL_STATUS:
        return TooLateToCancel(supplier_code=supplier_code)
    if operation is Operation.CANCEL and status in (409, 412):
        # Cancel: "409 ACCESS_DENIED Cannot cancel appointment", and "SHALL return an
        # error if the version in If-Match does not match".
        return NotCancellable(supplier_code=supplier_code)
    if code in FORBIDDEN_CODES or status == 403:
        return GPForbidden(supplier_code=supplier_code)
    if operation is Operation.BOOK and (status == 409 or code == "REFERENCE_NOT_FOUND"):
        # The slot booked is no longer there to book: taken, or withdrawn since listed.
        return SlotUnavailable(supplier_code=supplier_code)
    if code in NOT_FOUND_CODES or status in (404, 410):
        return NotFoundInGPSystem(supplier_code=supplier_code)
    if code in INVALID_CODES or status in (400, 409, 412, 422):
        return _invalid_for(operation, text, supplier_code)
    if 400 <= status < 500:
        # Any other refusal (405, 406, 415… in an OperationOutcome) is the GP system
        # answering, not failing: it must not count towards opening the practice's breaker.
        return GPForbidden(NOT_ACCEPTED, supplier_code=supplier_code)
    return GPSystemUnavailable(supplier_code=supplier_code)
