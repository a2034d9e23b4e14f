"""Refusals as the providers answer them: an OperationOutcome with a Spine error code.

STU3 APIs use the GPConnect-OperationOutcome-1 profile, prescriptions (R4) UK Core's;
user permissions' ErrorResponse also requires `meta.lastUpdated`. The port's domain
errors map here, once, to the status and code a GP Connect provider sends, with the
diagnostics naming the rule (the consumer reads them to tell one rule from another).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhir.resources.R4B.operationoutcome import OperationOutcome as OperationOutcomeR4
from fhir.resources.STU3.operationoutcome import OperationOutcome as OperationOutcomeSTU3

from app.gp.errors import (
    BookingLimitReached,
    CourseNotOrderable,
    GPError,
    GPSystemUnavailable,
    NotAvailableAtPractice,
    NotCancellable,
    NotFoundInGPSystem,
    OutsideBookingWindow,
    PatientNotFound,
    ReasonRequired,
    SectionUnavailable,
    SlotUnavailable,
    TooLateToCancel,
    TooManyItems,
)
from app.standin.specification import API

STU3_ERROR_SYSTEM = "https://fhir.nhs.uk/STU3/ValueSet/Spine-ErrorOrWarningCode-1"
R4_ERROR_SYSTEM = "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode-1"
STU3_PROFILE = "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-OperationOutcome-1"
R4_PROFILE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-OperationOutcome"

# Spine code → FHIR issue type (GP Connect "Error handling").
ISSUE_TYPES = {
    "BAD_REQUEST": "invalid",
    "INVALID_PARAMETER": "invalid",
    "INVALID_RESOURCE": "invalid",
    "INVALID_NHS_NUMBER": "value",
    "INVALID_IDENTIFIER_VALUE": "value",
    "ACCESS_DENIED": "forbidden",
    "NO_RECORD_FOUND": "not-found",
    "PATIENT_NOT_FOUND": "not-found",
    "DUPLICATE_REJECTED": "duplicate",
    "NOT_IMPLEMENTED": "not-supported",
    "INTERNAL_SERVER_ERROR": "exception",
    "UNAUTHORISED": "login",
}


class Refused(Exception):
    """An answer other than success: HTTP status, Spine code and diagnostics."""

    def __init__(
        self, status: int, code: str, diagnostics: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {diagnostics}")
        self.status = status
        self.code = code
        self.diagnostics = diagnostics
        self.retry_after = retry_after


def operation_outcome(api: API, refused: Refused, now: datetime) -> dict[str, Any]:
    """The OperationOutcome for a refusal, in the FHIR version of `api`."""
    issue = {
        "severity": "error",
        "code": ISSUE_TYPES.get(refused.code, "processing"),
        "details": {
            "coding": [
                {
                    "system": R4_ERROR_SYSTEM if api is API.PRESCRIPTIONS else STU3_ERROR_SYSTEM,
                    "code": refused.code,
                    "display": refused.code.replace("_", " ").capitalize(),
                }
            ]
        },
        "diagnostics": refused.diagnostics,
    }
    if api is API.PRESCRIPTIONS:
        outcome_r4 = OperationOutcomeR4(meta={"profile": [R4_PROFILE]}, issue=[issue])
        return outcome_r4.model_dump(mode="json", exclude_none=True)
    meta = {"profile": [STU3_PROFILE], "lastUpdated": now}
    outcome = OperationOutcomeSTU3(meta=meta, issue=[issue])
    return outcome.model_dump(mode="json", exclude_none=True)


def refusal_for(error: GPError) -> Refused:
    """The provider's answer to one of the port's domain errors."""
    match error:
        case PatientNotFound():
            return Refused(404, "PATIENT_NOT_FOUND", "No patient found with that NHS number")
        case NotFoundInGPSystem():
            return Refused(404, "NO_RECORD_FOUND", "No record found")
        case SlotUnavailable():
            return Refused(409, "DUPLICATE_REJECTED", "The slot is already booked (not free)")
        case BookingLimitReached():
            return Refused(
                422, "INVALID_RESOURCE", "The maximum number of appointments has been reached"
            )
        case OutsideBookingWindow():
            return Refused(422, "INVALID_RESOURCE", "The slot is outside the booking window")
        case ReasonRequired():
            return Refused(422, "INVALID_RESOURCE", "A reason (description) is required")
        case TooLateToCancel():
            return Refused(422, "INVALID_RESOURCE", "Too late to cancel: within the cut-off")
        case NotCancellable():
            return Refused(422, "INVALID_RESOURCE", "The appointment cannot be cancelled")
        case CourseNotOrderable():
            words = {
                "request_pending": "a request is already pending for this medication",
                "review_overdue": "a medication review is overdue",
                "not_a_repeat": "acute medication is not a repeat",
                "too_soon": "too soon to reorder",
            }
            reason = words.get(str(getattr(error, "reason", "")), "not orderable")
            return Refused(422, "INVALID_RESOURCE", f"Cannot reorder: {reason}")
        case TooManyItems():
            return Refused(422, "INVALID_RESOURCE", "Too many items: the maximum number of items")
        case NotAvailableAtPractice() | SectionUnavailable():
            return Refused(403, "ACCESS_DENIED", "Not offered by this practice's system")
        case GPSystemUnavailable():
            return Refused(
                503, "INTERNAL_SERVER_ERROR", "The GP system is unavailable", retry_after=30
            )
    return Refused(403, "ACCESS_DENIED", "The GP system refused the request")
