"""Supplier profiles: what makes a simulated EMIS, TPP or Vision system differ.

The rules themselves live once, in `app.adapters.sandbox.supplier`; a profile
only says which policy a supplier fixes, which it leaves to the practice, and
which error code it answers each refusal with. The adapter maps those codes
back to the port's domain errors (`domain_error`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from app.gp.errors import (
    BookingLimitReached,
    CourseNotOrderable,
    GPError,
    GPForbidden,
    GPSystemUnavailable,
    LinkageFailed,
    NotCancellable,
    NotFoundInGPSystem,
    OutsideBookingWindow,
    PatientNotFound,
    ReasonRequired,
    RequestNotCancellable,
    SectionUnavailable,
    SlotUnavailable,
    TooLateToCancel,
    TooManyItems,
)
from app.gp.types import (
    ALL_CAPABILITIES,
    BookingReasonPolicy,
    CancellationReason,
    Capability,
    NotOrderableReason,
)


class Refusal(StrEnum):
    """Every reason the simulated supplier layer refuses a call."""

    SLOT_TAKEN = "slot_taken"
    BOOKING_LIMIT = "booking_limit"
    OUTSIDE_WINDOW = "outside_window"
    REASON_REQUIRED = "reason_required"
    REASON_TOO_LONG = "reason_too_long"
    TOO_LATE_TO_CANCEL = "too_late_to_cancel"
    NOT_CANCELLABLE = "not_cancellable"
    UNKNOWN_CANCELLATION_REASON = "unknown_cancellation_reason"
    NOT_A_REPEAT = "not_a_repeat"
    PENDING_REQUEST = "pending_request"
    REVIEW_OVERDUE = "review_overdue"
    TOO_SOON = "too_soon"
    TOO_MANY_ITEMS = "too_many_items"
    NOTE_TOO_LONG = "note_too_long"
    REQUEST_NOT_CANCELLABLE = "request_not_cancellable"
    SERVICE_DISABLED = "service_disabled"
    PATIENT_NOT_FOUND = "patient_not_found"
    LINKAGE_FAILED = "linkage_failed"
    NOT_FOUND = "not_found"
    SECTION_UNAVAILABLE = "section_unavailable"  # e.g. a record still in transit
    INVALID_REQUEST = "invalid_request"  # a value the system cannot hold (too long, not text)
    UNAVAILABLE = "unavailable"


class CancellationReasons(StrEnum):
    """Where a supplier's appointment cancellation reasons come from."""

    FIXED = "fixed"  # one list built into the system
    NONE = "none"  # the system takes no reason
    PRACTICE = "practice"  # each practice configures its own list


@dataclass(frozen=True, slots=True)
class PracticeDefaults:
    """The policy a newly seeded practice of this supplier starts with."""

    booking_reason: BookingReasonPolicy
    booking_reason_max_length: int = 200
    max_future_appointments: int = 2
    booking_window_days: int = 28
    default_search_days: int = 14
    cancellation_cutoff_minutes: int = 0
    max_prescription_items: int = 6
    prescription_note_max_length: int = 500
    minimum_reorder_days: int = 21
    prescription_note_required: bool = False


@dataclass(frozen=True)
class SupplierProfile:
    name: str
    codes: Mapping[Refusal, str]
    defaults: PracticeDefaults
    cancellation_reasons: CancellationReasons
    fixed_cancellation_reasons: tuple[CancellationReason, ...] = ()
    # A cut-off the system itself enforces whatever the practice configures.
    minimum_cancellation_cutoff: timedelta = timedelta(0)
    # Whether the system stores a booking reason at all.
    stores_booking_reason: bool = True
    # The optional parts of the port this system offers.
    capabilities: frozenset[Capability] = ALL_CAPABILITIES
    _by_code: dict[str, Refusal] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        missing = set(Refusal) - set(self.codes)
        if missing:
            raise ValueError(f"profile {self.name} has no code for {sorted(missing)}")
        by_code = {code: refusal for refusal, code in self.codes.items()}
        if len(by_code) != len(self.codes):
            raise ValueError(f"profile {self.name} uses one code for two refusals")
        object.__setattr__(self, "_by_code", by_code)

    def code(self, refusal: Refusal) -> str:
        return self.codes[refusal]

    def refusal(self, code: str) -> Refusal:
        """The refusal a supplier code stands for; an unknown code is an outage."""
        return self._by_code.get(code, Refusal.UNAVAILABLE)


_NOT_ORDERABLE = {
    Refusal.NOT_A_REPEAT: NotOrderableReason.NOT_A_REPEAT,
    Refusal.PENDING_REQUEST: NotOrderableReason.PENDING_REQUEST,
    Refusal.REVIEW_OVERDUE: NotOrderableReason.REVIEW_OVERDUE,
    Refusal.TOO_SOON: NotOrderableReason.TOO_SOON,
}

_SIMPLE: dict[Refusal, type[GPError]] = {
    Refusal.SLOT_TAKEN: SlotUnavailable,
    Refusal.BOOKING_LIMIT: BookingLimitReached,
    Refusal.OUTSIDE_WINDOW: OutsideBookingWindow,
    Refusal.REASON_REQUIRED: ReasonRequired,
    Refusal.TOO_LATE_TO_CANCEL: TooLateToCancel,
    Refusal.NOT_CANCELLABLE: NotCancellable,
    Refusal.TOO_MANY_ITEMS: TooManyItems,
    Refusal.REQUEST_NOT_CANCELLABLE: RequestNotCancellable,
    Refusal.SERVICE_DISABLED: GPForbidden,
    Refusal.PATIENT_NOT_FOUND: PatientNotFound,
    Refusal.LINKAGE_FAILED: LinkageFailed,
    Refusal.NOT_FOUND: NotFoundInGPSystem,
    Refusal.SECTION_UNAVAILABLE: SectionUnavailable,
}

# Refusals the port has no error of their own for: the nearest error, with a
# detail the patient can act on.
_WITH_DETAIL: dict[Refusal, tuple[type[GPError], str]] = {
    Refusal.REASON_TOO_LONG: (
        ReasonRequired,
        "The reason you gave is longer than your practice accepts. Please shorten it.",
    ),
    Refusal.UNKNOWN_CANCELLATION_REASON: (
        NotFoundInGPSystem,
        "That cancellation reason is not one your practice uses.",
    ),
    Refusal.NOTE_TOO_LONG: (
        GPForbidden,
        "Your note to the practice is longer than it accepts. Please shorten it.",
    ),
    Refusal.INVALID_REQUEST: (
        GPForbidden,
        "Your GP practice's system did not accept what was sent. Please check it and "
        "try again, or contact your practice.",
    ),
}


def domain_error(profile: SupplierProfile, code: str, course_id: str | None = None) -> GPError:
    """The port's error for a supplier code, keeping the code in `supplier_code`."""
    refusal = profile.refusal(code)
    if refusal in _NOT_ORDERABLE:
        return CourseNotOrderable(_NOT_ORDERABLE[refusal], course_id=course_id, supplier_code=code)
    if refusal is Refusal.UNAVAILABLE:
        return GPSystemUnavailable(supplier_code=code)
    if refusal in _WITH_DETAIL:
        error_type, detail = _WITH_DETAIL[refusal]
        return error_type(detail, supplier_code=code)
    return _SIMPLE[refusal](supplier_code=code)


def get_profile(name: str | None) -> SupplierProfile:
    """The profile named in the practices file (`emis` when none is given)."""
    from app.adapters.sandbox.profiles import emis, tpp, vision

    profiles = {p.name: p for p in (emis.PROFILE, tpp.PROFILE, vision.PROFILE)}
    try:
        return profiles[name or "emis"]
    except KeyError:
        raise ValueError(
            f"unknown sandbox profile {name!r}; use one of {', '.join(sorted(profiles))}"
        ) from None
