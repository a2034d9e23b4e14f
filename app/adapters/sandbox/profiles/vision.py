"""Vision-like behaviour.

- A booking reason is optional.
- Each practice configures its own cancellation reasons.
- Errors are small negative numbers, as in Vision's online services API.
"""

from __future__ import annotations

from app.adapters.sandbox.profiles import (
    CancellationReasons,
    PracticeDefaults,
    Refusal,
    SupplierProfile,
)
from app.gp.types import BookingReasonPolicy

CODES = {
    Refusal.SLOT_TAKEN: "-21",  # slot already booked
    Refusal.BOOKING_LIMIT: "-25",  # patient booking limit exceeded
    Refusal.OUTSIDE_WINDOW: "-26",
    Refusal.REASON_REQUIRED: "-27",
    Refusal.REASON_TOO_LONG: "-28",
    Refusal.TOO_LATE_TO_CANCEL: "-31",
    Refusal.NOT_CANCELLABLE: "-32",
    Refusal.UNKNOWN_CANCELLATION_REASON: "-33",
    Refusal.NOT_A_REPEAT: "-41",
    Refusal.PENDING_REQUEST: "-42",
    Refusal.REVIEW_OVERDUE: "-43",
    Refusal.TOO_SOON: "-44",
    Refusal.TOO_MANY_ITEMS: "-45",
    Refusal.REQUEST_NOT_CANCELLABLE: "-46",
    Refusal.NOTE_TOO_LONG: "-47",
    Refusal.SERVICE_DISABLED: "-15",
    Refusal.PATIENT_NOT_FOUND: "-10",
    Refusal.LINKAGE_FAILED: "-11",
    Refusal.NOT_FOUND: "-12",
    Refusal.SECTION_UNAVAILABLE: "-13",
    Refusal.INVALID_REQUEST: "-2",  # a value the system cannot hold
    Refusal.UNAVAILABLE: "-1",
}

PROFILE = SupplierProfile(
    name="vision",
    codes=CODES,
    defaults=PracticeDefaults(
        booking_reason=BookingReasonPolicy.OPTIONAL,
        booking_reason_max_length=250,
        max_future_appointments=2,
        booking_window_days=35,
        default_search_days=21,
        cancellation_cutoff_minutes=24 * 60,
        max_prescription_items=5,
        minimum_reorder_days=21,
        prescription_note_required=True,
    ),
    cancellation_reasons=CancellationReasons.PRACTICE,
)
