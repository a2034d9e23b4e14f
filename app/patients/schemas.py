from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from app.audit.types import AuditAction, AuditOutcome
from app.gp.types import (
    BookingReasonPolicy,
    PracticeSettings,
    RecordAccessLevel,
    RelationshipKind,
)
from app.patients.rules import EXPLANATIONS, AgeBand, ServiceAccess, Unavailable
from app.schemas import ResponseBody


class PracticeSummary(ResponseBody):
    ods_code: str = Field(examples=["A81001"])
    name: str


class Me(ResponseBody):
    given_name: str | None = Field(description="From the GP record; absent until linked.")
    family_name: str | None
    nhs_number_masked: str | None = Field(
        description="Only the last four digits are shown.", examples=["*** *** 7890"]
    )
    identity_level: Literal["P0", "P5", "P9"]
    practice: PracticeSummary | None
    session_expires_at: datetime = Field(
        description="When this session ends unless used again (idle or absolute, earlier)."
    )


class ServiceState(ResponseBody):
    allowed: bool
    reason: Unavailable | None = Field(default=None, description="Why not, as a stable code.")
    explanation: str | None = Field(default=None, description="Why not, in plain English.")

    @classmethod
    def of(cls, access: ServiceAccess) -> ServiceState:
        reason = access.unavailable
        return cls(
            allowed=access.allowed,
            reason=reason,
            explanation=EXPLANATIONS[reason] if reason else None,
        )


class RecordState(ServiceState):
    level: RecordAccessLevel


class Services(ResponseBody):
    appointments: ServiceState
    prescriptions: ServiceState
    record: RecordState
    change_pharmacy: ServiceState
    access_log: ServiceState


class LinkedProfile(ResponseBody):
    patient_id: str = Field(description="Opaque id for `/v1/patients/{patient_id}/…` routes.")
    display_name: str
    age_band: AgeBand
    relationship: RelationshipKind = Field(description="`self`, or how the user acts for them.")
    practice: PracticeSummary
    available: bool = Field(description="False when access for this person is paused or ended.")
    unavailable_reason: Unavailable | None = None
    unavailable_explanation: str | None = None
    services: Services


class LinkedProfiles(ResponseBody):
    items: list[LinkedProfile]


class PracticePolicy(ResponseBody):
    """What the patient's practice offers online, so apps can ask the right questions."""

    ods_code: str
    name: str
    appointments_enabled: bool
    prescriptions_enabled: bool
    record_enabled: bool
    booking_reason: BookingReasonPolicy = Field(
        description="Whether a reason is asked for when booking: not requested, optional "
        "or mandatory."
    )
    booking_reason_max_length: int
    max_future_appointments: int
    booking_window_days: int = Field(description="How many days ahead a patient may book.")
    default_search_days: int
    cancellation_cutoff_minutes: int = Field(
        description="No online cancellation closer than this to the start."
    )
    has_cancellation_reasons: bool
    max_prescription_items: int
    prescription_note_max_length: int
    prescription_note_required: bool = Field(
        description="Whether the practice asks for a note with each prescription request."
    )

    @classmethod
    def of(cls, practice: PracticeSettings) -> PracticePolicy:
        return cls(
            ods_code=practice.ods_code,
            name=practice.name,
            appointments_enabled=practice.appointments_enabled,
            prescriptions_enabled=practice.prescriptions_enabled,
            record_enabled=practice.record_enabled,
            booking_reason=practice.booking_reason,
            booking_reason_max_length=practice.booking_reason_max_length,
            max_future_appointments=practice.max_future_appointments,
            booking_window_days=practice.booking_window.days,
            default_search_days=practice.default_search_window.days,
            cancellation_cutoff_minutes=int(practice.cancellation_cutoff.total_seconds() // 60),
            has_cancellation_reasons=practice.has_cancellation_reasons,
            max_prescription_items=practice.max_prescription_items,
            prescription_note_max_length=practice.prescription_note_max_length,
            prescription_note_required=practice.prescription_note_required,
        )


class AccessLogEntry(ResponseBody):
    occurred_at: datetime
    action: AuditAction
    by: Literal["patient", "proxy"] = Field(
        description="The patient themself, or someone acting for them."
    )
    relationship: RelationshipKind | None = Field(
        default=None, description="For a proxy: how they act for the patient."
    )
    target: str | None = Field(default=None, description="What was acted on, e.g. a section.")
    outcome: AuditOutcome = Field(description="Whether it was done or refused.")


class AccessLog(ResponseBody):
    items: list[AccessLogEntry]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page.")
