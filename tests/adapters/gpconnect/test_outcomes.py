"""Every Spine error code and HTTP status the adapter meets → the port's domain errors."""

from __future__ import annotations

import json

import pytest

from app.adapters.gpconnect.outcomes import Operation, error_for_response, spine_code
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
from tests.adapters.gpconnect.fake_server import load, outcome


def body(status: int, code: str, diagnostics: str = "") -> object:
    return json.loads(outcome(status, code, diagnostics).content)


CASES: list[tuple[int, str, str, Operation, type[GPError]]] = [
    (409, "DUPLICATE_REJECTED", "", Operation.BOOK, SlotUnavailable),
    (409, "DUPLICATE_REJECTED", "", Operation.CANCEL, NotCancellable),
    (409, "DUPLICATE_REJECTED", "", Operation.ORDER, CourseNotOrderable),
    (409, "DUPLICATE_REJECTED", "", Operation.READ, GPForbidden),
    (404, "PATIENT_NOT_FOUND", "", Operation.READ, PatientNotFound),
    (400, "INVALID_NHS_NUMBER", "", Operation.READ, PatientNotFound),
    (400, "INVALID_PATIENT_DEMOGRAPHICS", "", Operation.READ, PatientNotFound),
    (403, "NO_RELATIONSHIP", "", Operation.READ, GPForbidden),
    (403, "ACCESS_DENIED", "", Operation.BOOK, GPForbidden),
    (403, "NO_PATIENT_CONSENT", "", Operation.READ, GPForbidden),
    (403, "NO_ORGANISATION_CONSENT", "", Operation.READ, GPForbidden),
    (404, "NO_RECORD_FOUND", "", Operation.CANCEL, NotFoundInGPSystem),
    (422, "REFERENCE_NOT_FOUND", "no such slot", Operation.BOOK, SlotUnavailable),
    (404, "REFERENCE_NOT_FOUND", "", Operation.READ, NotFoundInGPSystem),
    (
        422,
        "INVALID_RESOURCE",
        "Slot resource reference value 1584 is not a valid resource.",
        Operation.BOOK,
        SlotUnavailable,
    ),
    (400, "BAD_REQUEST", "", Operation.BOOK, GPConfigurationFault),
    (400, "VALIDATION_ERROR", "", Operation.READ, GPConfigurationFault),
    (400, "INVALID_PARAMETER", "bad start", Operation.READ, GPConfigurationFault),
    (400, "BAD_REQUEST", "Slot is busy", Operation.BOOK, SlotUnavailable),
    (400, "NO_ORGANISATION_CONSENT", "", Operation.READ, GPForbidden),
    (403, "ACCESS_DENIED", "Practice has disabled cancellation", Operation.CANCEL, GPForbidden),
    (409, "ACCESS_DENIED", "Cannot cancel appointment", Operation.CANCEL, NotCancellable),
    (461, "ACCESS_DENIED", "Too late to cancel appointment", Operation.CANCEL, TooLateToCancel),
    (405, "NOT_ALLOWED", "", Operation.READ, GPForbidden),
    (404, "ORGANISATION_NOT_FOUND", "", Operation.READ, NotFoundInGPSystem),
    (404, "PRACTITIONER_NOT_FOUND", "", Operation.READ, NotFoundInGPSystem),
    (422, "INVALID_RESOURCE", "Slot is busy", Operation.BOOK, SlotUnavailable),
    (
        422,
        "INVALID_RESOURCE",
        "Exceeds maximum number of appointments",
        Operation.BOOK,
        BookingLimitReached,
    ),
    (422, "INVALID_RESOURCE", "Appointment is in the past", Operation.BOOK, OutsideBookingWindow),
    (
        422,
        "INVALID_RESOURCE",
        "Slot is outside the booking window",
        Operation.BOOK,
        OutsideBookingWindow,
    ),
    (422, "INVALID_RESOURCE", "Description is required", Operation.BOOK, ReasonRequired),
    (422, "INVALID_RESOURCE", "something unexpected", Operation.BOOK, GPForbidden),
    (400, "BAD_REQUEST", "Appointment is in the past", Operation.CANCEL, NotCancellable),
    (422, "INVALID_RESOURCE", "Too late to cancel online", Operation.CANCEL, TooLateToCancel),
    (422, "INVALID_PARAMETER", "range in the past", Operation.READ, GPForbidden),
    (422, "INVALID_RESOURCE", "Too many items requested", Operation.ORDER, TooManyItems),
    (
        422,
        "INVALID_RESOURCE",
        "acute medication cannot be reordered",
        Operation.ORDER,
        CourseNotOrderable,
    ),
    (422, "INVALID_IDENTIFIER_SYSTEM", "", Operation.READ, GPForbidden),
    (500, "INTERNAL_SERVER_ERROR", "", Operation.READ, GPSystemUnavailable),
    (501, "NOT_IMPLEMENTED", "", Operation.READ, GPForbidden),
]


@pytest.mark.parametrize(("status", "code", "diagnostics", "operation", "expected"), CASES)
def test_spine_codes_map_to_domain_errors(
    status: int, code: str, diagnostics: str, operation: Operation, expected: type[GPError]
) -> None:
    error = error_for_response(status, body(status, code, diagnostics), operation)

    assert type(error) is expected
    assert error.supplier_code == code
    # diagnostics may hold patient details: never in the message shown or logged
    assert not diagnostics or diagnostics.lower() not in str(error).lower()


@pytest.mark.parametrize(
    ("diagnostics", "reason"),
    [
        ("acute medication cannot be reordered", NotOrderableReason.NOT_A_REPEAT),
        ("medication review is overdue", NotOrderableReason.REVIEW_OVERDUE),
        ("a request is already pending", NotOrderableReason.PENDING_REQUEST),
        ("too soon to reorder", NotOrderableReason.TOO_SOON),
    ],
)
def test_order_refusals_keep_their_reason(diagnostics: str, reason: NotOrderableReason) -> None:
    error = error_for_response(422, body(422, "INVALID_RESOURCE", diagnostics), Operation.ORDER)

    assert isinstance(error, CourseNotOrderable)
    assert error.reason is reason


@pytest.mark.parametrize(
    ("status", "operation", "expected"),
    [
        (409, Operation.CANCEL, NotCancellable),
        (412, Operation.CANCEL, NotCancellable),
        (409, Operation.BOOK, SlotUnavailable),
        (461, Operation.CANCEL, TooLateToCancel),
        (410, Operation.READ, NotFoundInGPSystem),
        (422, Operation.BOOK, GPForbidden),
        (401, Operation.READ, GPSystemUnavailable),
        (429, Operation.READ, GPSystemUnavailable),
        (502, Operation.BOOK, GPSystemUnavailable),
        (503, Operation.READ, GPSystemUnavailable),
        (504, Operation.READ, GPSystemUnavailable),
        # Not a GP system's OperationOutcome: the platform's own answer, ours to fix.
        (400, Operation.BOOK, GPConfigurationFault),
        (403, Operation.READ, GPConfigurationFault),
        (404, Operation.READ, GPConfigurationFault),
        (405, Operation.READ, GPConfigurationFault),
        (415, Operation.BOOK, GPConfigurationFault),
    ],
)
def test_bare_http_statuses(status: int, operation: Operation, expected: type[GPError]) -> None:
    error = error_for_response(status, None, operation)

    assert type(error) is expected
    assert error.supplier_code == f"HTTP {status}"


def test_retry_after_header_is_kept() -> None:
    error = error_for_response(503, None, Operation.READ, retry_after="120")

    assert isinstance(error, GPSystemUnavailable)
    assert error.retry_after == 120


def test_retry_after_as_a_date_falls_back_to_the_default() -> None:
    error = error_for_response(
        503, None, Operation.READ, retry_after="Wed, 21 Oct 2030 07:28:00 GMT"
    )

    assert isinstance(error, GPSystemUnavailable)
    assert error.retry_after == 30


def test_spine_code_reads_the_payload_file() -> None:
    assert spine_code(load("operation_outcome_duplicate_rejected.json")) == "DUPLICATE_REJECTED"
    assert spine_code({"resourceType": "Bundle"}) is None
    assert spine_code("not json") is None


def test_ssp_errors_without_a_spine_code_map_by_status() -> None:
    ssp = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "transient"}],
    }

    error = error_for_response(502, ssp, Operation.READ)

    assert isinstance(error, GPSystemUnavailable)
    assert error.supplier_code == "HTTP 502"


@pytest.mark.parametrize(
    ("payload", "status", "operation", "expected", "code"),
    [
        (
            "pfs_operation_outcome_invalid_nhs_number.json",
            422,
            Operation.READ,
            PatientNotFound,
            "INVALID_NHS_NUMBER",
        ),
        (
            "pfs_operation_outcome_conflicting_values.json",
            422,
            Operation.ORDER,
            GPForbidden,
            "CONFLICTING_VALUES",
        ),
    ],
)
def test_the_prescriptions_specification_outcomes(
    payload: str, status: int, operation: Operation, expected: type[GPError], code: str
) -> None:
    """The R4 UK Core OperationOutcome examples of the patient-facing prescriptions API."""
    error = error_for_response(status, load(payload), operation)

    assert type(error) is expected
    assert error.supplier_code == code
