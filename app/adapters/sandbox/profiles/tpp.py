"""TPP SystmOne-like behaviour.

- No booking reason is taken online: a reason sent anyway is not stored.
- No cancellation reasons.
- The system refuses an online cancellation within one hour of the start,
  whatever the practice configures.
- A prescription request cannot be withdrawn online once it is sent.
- Errors are small positive numbers, as in SystmOne's client integration API.
"""

from __future__ import annotations

from datetime import timedelta

from app.adapters.sandbox.profiles import (
    CancellationReasons,
    PracticeDefaults,
    Refusal,
    SupplierProfile,
)
from app.gp.types import ALL_CAPABILITIES, BookingReasonPolicy, Capability

CODES = {
    Refusal.SLOT_TAKEN: "5",  # slot not available
    Refusal.BOOKING_LIMIT: "7",  # too many future appointments
    Refusal.OUTSIDE_WINDOW: "40",  # date outside the booking period
    Refusal.TOO_LATE_TO_CANCEL: "1102",  # within one hour of the start
    Refusal.NOT_CANCELLABLE: "1103",  # appointment cannot be cancelled
    Refusal.REASON_REQUIRED: "1104",
    Refusal.REASON_TOO_LONG: "1105",
    Refusal.UNKNOWN_CANCELLATION_REASON: "1106",
    Refusal.NOT_A_REPEAT: "20",
    Refusal.PENDING_REQUEST: "21",
    Refusal.REVIEW_OVERDUE: "22",
    Refusal.TOO_SOON: "23",
    Refusal.TOO_MANY_ITEMS: "24",
    Refusal.REQUEST_NOT_CANCELLABLE: "25",
    Refusal.NOTE_TOO_LONG: "26",
    Refusal.SERVICE_DISABLED: "9",
    Refusal.PATIENT_NOT_FOUND: "3",
    Refusal.LINKAGE_FAILED: "4",
    Refusal.NOT_FOUND: "6",
    Refusal.SECTION_UNAVAILABLE: "8",
    Refusal.INVALID_REQUEST: "2",  # a value the system cannot hold
    Refusal.UNAVAILABLE: "99",
}

PROFILE = SupplierProfile(
    name="tpp",
    codes=CODES,
    defaults=PracticeDefaults(
        booking_reason=BookingReasonPolicy.NOT_REQUESTED,
        max_future_appointments=3,
        booking_window_days=42,
        default_search_days=14,
        cancellation_cutoff_minutes=60,
        max_prescription_items=4,
        minimum_reorder_days=14,
    ),
    cancellation_reasons=CancellationReasons.NONE,
    minimum_cancellation_cutoff=timedelta(hours=1),
    stores_booking_reason=False,
    capabilities=ALL_CAPABILITIES - {Capability.CANCEL_PRESCRIPTION_REQUEST},
)
