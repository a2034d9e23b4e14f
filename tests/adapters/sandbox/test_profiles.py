"""Supplier codes: each profile's codes map to the port's domain errors."""

from __future__ import annotations

import pytest

from app.adapters.sandbox.profiles import Refusal, domain_error, get_profile
from app.gp import errors
from app.gp.types import NotOrderableReason

# The documented mapping, literally: supplier → code → domain error.
EXPECTED = [
    ("emis", "-1152", errors.SlotUnavailable),
    ("emis", "-1153", errors.BookingLimitReached),
    ("emis", "-1154", errors.OutsideBookingWindow),
    ("emis", "-1155", errors.ReasonRequired),
    ("emis", "-1156", errors.TooLateToCancel),
    ("emis", "-1157", errors.NotCancellable),
    ("emis", "-1205", errors.TooManyItems),
    ("emis", "-1102", errors.LinkageFailed),
    ("emis", "-1101", errors.PatientNotFound),
    ("emis", "-1000", errors.GPSystemUnavailable),
    ("tpp", "5", errors.SlotUnavailable),
    ("tpp", "7", errors.BookingLimitReached),
    ("tpp", "40", errors.OutsideBookingWindow),
    ("tpp", "1102", errors.TooLateToCancel),
    ("tpp", "1103", errors.NotCancellable),
    ("tpp", "24", errors.TooManyItems),
    ("tpp", "4", errors.LinkageFailed),
    ("tpp", "99", errors.GPSystemUnavailable),
    ("vision", "-21", errors.SlotUnavailable),
    ("vision", "-25", errors.BookingLimitReached),
    ("vision", "-26", errors.OutsideBookingWindow),
    ("vision", "-27", errors.ReasonRequired),
    ("vision", "-31", errors.TooLateToCancel),
    ("vision", "-45", errors.TooManyItems),
    ("vision", "-11", errors.LinkageFailed),
    ("vision", "-1", errors.GPSystemUnavailable),
]


@pytest.mark.parametrize(("profile", "code", "error"), EXPECTED)
def test_supplier_code_maps_to_domain_error(
    profile: str, code: str, error: type[errors.GPError]
) -> None:
    mapped = domain_error(get_profile(profile), code)
    assert type(mapped) is error
    assert mapped.supplier_code == code


@pytest.mark.parametrize(
    ("profile", "code", "reason"),
    [
        ("emis", "-1201", NotOrderableReason.NOT_A_REPEAT),
        ("emis", "-1202", NotOrderableReason.PENDING_REQUEST),
        ("tpp", "22", NotOrderableReason.REVIEW_OVERDUE),
        ("vision", "-44", NotOrderableReason.TOO_SOON),
    ],
)
def test_not_orderable_codes_keep_the_reason(
    profile: str, code: str, reason: NotOrderableReason
) -> None:
    mapped = domain_error(get_profile(profile), code, course_id="C1")
    assert isinstance(mapped, errors.CourseNotOrderable)
    assert (mapped.reason, mapped.course_id, mapped.supplier_code) == (reason, "C1", code)


@pytest.mark.parametrize("profile", ["emis", "tpp", "vision"])
def test_every_refusal_has_a_distinct_code(profile: str) -> None:
    supplier = get_profile(profile)
    codes = [supplier.code(refusal) for refusal in Refusal]
    assert len(set(codes)) == len(codes)
    for refusal in Refusal:
        assert isinstance(domain_error(supplier, supplier.code(refusal)), errors.GPError)


def test_unknown_code_is_an_outage() -> None:
    mapped = domain_error(get_profile("tpp"), "31337")
    assert isinstance(mapped, errors.GPSystemUnavailable)
    assert mapped.supplier_code == "31337"


def test_unknown_profile() -> None:
    with pytest.raises(ValueError, match="unknown sandbox profile"):
        get_profile("cerner")
