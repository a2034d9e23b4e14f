"""Normalised domain types shared by every GP system adapter.

Datetimes are timezone-aware (UTC); dates are calendar dates. Identifiers are
the GP system's own opaque strings. `patient_ref` never leaves the service (API
clients see an HMAC-derived `patient_id`); slot and appointment ids are passed
back by clients as they are, and are only acted on for the patient they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum


class AppointmentType(StrEnum):
    IN_PERSON = "in_person"
    TELEPHONE = "telephone"
    VIDEO = "video"


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    DID_NOT_ATTEND = "did_not_attend"


class BookingReasonPolicy(StrEnum):
    """Whether the practice asks for a reason when a patient books."""

    NOT_REQUESTED = "not_requested"
    OPTIONAL = "optional"
    MANDATORY = "mandatory"


class RecordAccessLevel(StrEnum):
    """Online record access levels (RCGP GP Online Services Toolkit)."""

    NONE = "none"
    SUMMARY = "summary"  # allergies, medications, adverse reactions
    DETAILED = "detailed"  # detailed coded record
    FULL = "full"  # adds free text, consultations and documents


RECORD_LEVEL_ORDER = [
    RecordAccessLevel.NONE,
    RecordAccessLevel.SUMMARY,
    RecordAccessLevel.DETAILED,
    RecordAccessLevel.FULL,
]


def lower_record_level(a: RecordAccessLevel, b: RecordAccessLevel) -> RecordAccessLevel:
    return min(a, b, key=RECORD_LEVEL_ORDER.index)


class RelationshipKind(StrEnum):
    SELF = "self"
    PARENT = "parent"  # parent or guardian of a child
    CARER = "carer"  # carer, including care-home staff
    RELATIVE = "relative"  # adult family member acting for an adult
    OTHER = "other"


class CourseKind(StrEnum):
    REPEAT = "repeat"
    REPEAT_DISPENSING = "repeat_dispensing"
    ACUTE = "acute"


class PrescriptionRequestStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    ISSUED = "issued"
    CANCELLED = "cancelled"


class NotOrderableReason(StrEnum):
    PENDING_REQUEST = "request_pending"
    REVIEW_OVERDUE = "review_overdue"
    NOT_A_REPEAT = "not_a_repeat"
    TOO_SOON = "too_soon"


class RecordSection(StrEnum):
    ALLERGIES = "allergies"
    MEDICATIONS = "medications"
    PROBLEMS = "problems"
    IMMUNISATIONS = "immunisations"
    TEST_RESULTS = "test_results"
    CONSULTATIONS = "consultations"
    DOCUMENTS = "documents"


class Capability(StrEnum):
    """What a GP system may or may not offer, beyond what every system does.

    Adapters declare theirs (`GPSystem.capabilities`); services check before
    calling, so a missing one is a plain "not available at your practice",
    never a call that is bound to fail.
    """

    LINK_BY_CREDENTIALS = "link_by_credentials"  # NHS login's GP linkage credentials
    PROXY_RELATIONSHIPS = "proxy_relationships"  # proxies, not only the user's own record
    CANCEL_PRESCRIPTION_REQUEST = "cancel_prescription_request"
    NOMINATED_PHARMACY = "nominated_pharmacy"  # view and change it
    RECORD_ACCESS_SETTINGS = "record_access_settings"  # the practice's record access grants
    DOCUMENTS = "documents"
    PRACTICE_MESSAGES = "practice_messages"  # e.g. record corrections


ALL_CAPABILITIES: frozenset[Capability] = frozenset(Capability)


class MessageKind(StrEnum):
    RECORD_CORRECTION = "record_correction"
    ACCESS_APPLICATION = "access_application"


# --- identity and linkage -------------------------------------------------


@dataclass(frozen=True, slots=True)
class GPCredentials:
    """NHS login's `gp_integration_credentials` claim (P9 users only)."""

    gp_user_id: str
    gp_linkage_key: str
    ods_code: str


@dataclass(frozen=True, slots=True)
class DemographicMatch:
    """What identifies a patient when there are no GP credentials."""

    nhs_number: str
    ods_code: str
    family_name: str
    birth_date: date


@dataclass(frozen=True, slots=True)
class LinkedUser:
    """The signed-in person as their practice's GP system knows them."""

    user_ref: str  # also the patient_ref of the user's own record
    ods_code: str
    nhs_number: str


@dataclass(frozen=True, slots=True)
class Patient:
    patient_ref: str
    nhs_number: str
    given_name: str
    family_name: str
    birth_date: date
    ods_code: str


# --- practice ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PracticeSettings:
    """A practice's online services policy, as its GP system reports it."""

    ods_code: str
    name: str
    appointments_enabled: bool
    prescriptions_enabled: bool
    record_enabled: bool
    booking_reason: BookingReasonPolicy
    booking_reason_max_length: int
    max_future_appointments: int
    booking_window: timedelta  # how far ahead a patient may book
    default_search_window: timedelta  # what a slot search shows by default
    cancellation_cutoff: timedelta  # no online cancellation closer to the start than this
    has_cancellation_reasons: bool
    max_prescription_items: int
    prescription_note_max_length: int
    minimum_reorder_interval: timedelta  # "too soon" after the last issue
    prescription_note_required: bool = False  # the practice asks for a note with each request


# --- proxy access -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Permissions:
    appointments: bool
    prescriptions: bool
    record_level: RecordAccessLevel


@dataclass(frozen=True, slots=True)
class Relationship:
    """Someone the user may act for: themself, or a patient they are a proxy for."""

    patient: Patient
    kind: RelationshipKind
    permissions: Permissions
    starts_on: date | None = None
    ends_on: date | None = None
    # The practice has recorded a review allowing a parent's access to continue
    # past the local review age (it never continues past 16).
    review_recorded: bool = False


# --- appointments -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Clinician:
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class Slot:
    slot_id: str
    start: datetime
    end: datetime
    type: AppointmentType
    clinician: Clinician
    location: str
    session: str


@dataclass(frozen=True, slots=True)
class Appointment:
    appointment_id: str
    patient_ref: str
    start: datetime
    end: datetime
    type: AppointmentType
    clinician: Clinician
    location: str
    status: AppointmentStatus
    reason: str | None = None
    telephone_number: str | None = None
    booked_by_ref: str | None = None
    cancellation_reason: str | None = None
    version: str = "1"  # the GP system's version tag (GP Connect uses it for If-Match)


@dataclass(frozen=True, slots=True)
class BookingRequest:
    patient_ref: str
    slot_id: str
    actor_ref: str  # who is booking: the patient or their proxy
    reason: str | None = None
    telephone_number: str | None = None


@dataclass(frozen=True, slots=True)
class CancellationReason:
    code: str
    text: str


# --- prescriptions ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Course:
    course_id: str
    name: str
    dosage: str
    quantity: str
    kind: CourseKind
    last_issued_on: date | None = None
    review_due_on: date | None = None


@dataclass(frozen=True, slots=True)
class PrescriptionRequestItem:
    """One course in a request, with its own status where the GP system keeps one."""

    course_id: str
    status: PrescriptionRequestStatus
    rejection_reason: str | None = None


@dataclass(frozen=True, slots=True)
class PrescriptionRequest:
    request_id: str
    patient_ref: str
    course_ids: tuple[str, ...]
    status: PrescriptionRequestStatus  # the request as a whole
    requested_at: datetime
    requested_by_ref: str
    note: str | None = None
    rejection_reason: str | None = None
    # Per course, where the GP system tracks each on its own (GP Connect: one Task each);
    # empty where every item shares the request's status.
    items: tuple[PrescriptionRequestItem, ...] = ()


@dataclass(frozen=True, slots=True)
class Pharmacy:
    ods_code: str
    name: str
    address: str
    # What a directory knows besides; a GP system's answer may leave them out.
    postcode: str | None = None
    phone: str | None = None


# --- the record -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordAccess:
    """The practice's online record settings for one patient."""

    level: RecordAccessLevel
    prospective_from: date | None  # entries on or after this date are visible
    historic_access: bool  # older entries too, after a practice review
    declined: bool  # SNOMED 1290331000000103: patient declined online access
    enhanced_review: bool  # SNOMED 1364731000000104: enhanced review indicated


@dataclass(frozen=True, slots=True)
class RecordEntry:
    """One coded entry with the visibility flags the practice set.

    Adapters return entries as the GP system holds them; the record service
    decides what a patient may see.
    """

    entry_id: str
    section: RecordSection
    recorded_on: date
    term: str
    code: str | None = None
    detail: str | None = None  # free text or a result value
    hidden: bool = False  # practice marked it not to be shown online
    third_party: bool = False  # refers to another person
    harmful: bool = False  # potentially harmful to the patient
    filed: bool = True  # test results: reviewed and filed by a clinician


@dataclass(frozen=True, slots=True)
class Document:
    document_id: str
    title: str
    recorded_on: date
    content_type: str
    hidden: bool = False
    third_party: bool = False
    harmful: bool = False


@dataclass(frozen=True, slots=True)
class DocumentContent:
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class PracticeMessage:
    """A structured message to the practice; its text is passed on, never logged."""

    kind: MessageKind
    subject: str
    body: str
    actor_ref: str
    attributes: dict[str, str] = field(default_factory=dict)
