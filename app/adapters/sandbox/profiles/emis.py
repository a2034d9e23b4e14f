"""EMIS Web-like behaviour.

- The practice decides whether a booking reason is asked for; the seeded
  practice makes it mandatory.
- Cancellation reasons are one fixed list built into the system.
- Errors are negative numbers in the -1xxx range, as in EMIS's partner API.
"""

from __future__ import annotations

from app.adapters.sandbox.profiles import (
    CancellationReasons,
    PracticeDefaults,
    Refusal,
    SupplierProfile,
)
from app.gp.types import BookingReasonPolicy, CancellationReason

CODES = {
    Refusal.SLOT_TAKEN: "-1152",  # slot no longer available
    Refusal.BOOKING_LIMIT: "-1153",  # maximum future appointments reached
    Refusal.OUTSIDE_WINDOW: "-1154",  # slot outside the bookable period
    Refusal.REASON_REQUIRED: "-1155",  # booking reason missing
    Refusal.TOO_LATE_TO_CANCEL: "-1156",  # inside the practice's cancellation cut-off
    Refusal.NOT_CANCELLABLE: "-1157",  # in the past or not booked
    Refusal.REASON_TOO_LONG: "-1158",
    Refusal.UNKNOWN_CANCELLATION_REASON: "-1159",
    Refusal.NOT_A_REPEAT: "-1201",
    Refusal.PENDING_REQUEST: "-1202",
    Refusal.REVIEW_OVERDUE: "-1203",
    Refusal.TOO_SOON: "-1204",
    Refusal.TOO_MANY_ITEMS: "-1205",
    Refusal.REQUEST_NOT_CANCELLABLE: "-1206",
    Refusal.NOTE_TOO_LONG: "-1207",
    Refusal.SERVICE_DISABLED: "-1030",
    Refusal.PATIENT_NOT_FOUND: "-1101",
    Refusal.LINKAGE_FAILED: "-1102",
    Refusal.NOT_FOUND: "-1104",
    Refusal.SECTION_UNAVAILABLE: "-1105",
    Refusal.INVALID_REQUEST: "-1001",  # a value the system cannot hold
    Refusal.UNAVAILABLE: "-1000",
}

CANCELLATION_REASONS = (
    CancellationReason(code="1", text="No longer required"),
    CancellationReason(code="2", text="Unable to attend"),
    CancellationReason(code="3", text="Booked in error"),
    CancellationReason(code="4", text="Feeling better"),
)

PROFILE = SupplierProfile(
    name="emis",
    codes=CODES,
    defaults=PracticeDefaults(
        booking_reason=BookingReasonPolicy.MANDATORY,
        booking_reason_max_length=150,
        max_future_appointments=2,
        booking_window_days=28,
        default_search_days=14,
        cancellation_cutoff_minutes=0,
        max_prescription_items=6,
        minimum_reorder_days=21,
    ),
    cancellation_reasons=CancellationReasons.FIXED,
    fixed_cancellation_reasons=CANCELLATION_REASONS,
)
