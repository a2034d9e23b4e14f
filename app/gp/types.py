"""Normalised domain types shared by every GP system adapter.

Datetimes are timezone-aware (UTC); dates are calendar dates. Identifiers are
the GP system's own opaque strings. `patient_ref` never leaves the service (API
clients see an HMAC-derived `patient_id`); slot and appointment ids are passed
back by clients as they are, and are only acted on for the patient they belong to.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
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


# Automatic prospective access to new record entries started on this date (NHS England).
AUTOMATIC_ACCESS_START = date(2023, 11, 1)


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
    # Switch on what a practice approved: historic or detailed coded record access, or a
    # new proxy relationship (`GPSystem.grant_historic_access` and the two after it).
    ACCESS_CHANGES = "access_changes"


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
    # With `record_level` full: full-record entries from this date (the automatic
    # start when not given), and older ones too when the practice granted historic access.
    record_from: date | None = None
    record_historic: bool = False


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


@dataclass(frozen=True, slots=True)
class ProxyGrant:
    """A proxy relationship a practice approved, to be recorded in its GP system.

    `actor_ref` is the staff member who approved it (their NHS CIS2 user id).
    `review_recorded` is set where the practice assessed a young person's competence
    before approving a parent: the review `Relationship.review_recorded` stands for.
    """

    user_ref: str  # the proxy, as the GP system knows them
    patient_ref: str
    kind: RelationshipKind
    permissions: Permissions
    starts_on: date
    ends_on: date | None
    review_recorded: bool
    actor_ref: str


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
    # What the slot is for, as the practice names it (GP Connect `Slot.serviceType`),
    # and the kind of session it is in (`Schedule.serviceCategory`); None where the
    # GP system does not say.
    slot_type: str | None = None
    schedule_type: str | None = None


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
    # The `Slot.slot_id` it was booked in, where the GP system says: a booking whose answer
    # was lost (its worker died) is found by it, and not made again.
    slot_id: str | None = None
    # Shown on a booking confirmation where the GP system gives them (GP Connect:
    # `Appointment.serviceType` and `serviceCategory`, the Location's address and the
    # Practitioner's gender, a FHIR AdministrativeGender code).
    service_type: str | None = None
    schedule_type: str | None = None
    location_address: str | None = None
    clinician_gender: str | None = None


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
    """A medicine on the patient's list, with the visibility flags the practice set.

    The flags are those of a record entry (`RecordEntry`), withheld online by the same
    rule (`app.records.policy.withheld_by_practice`). They have no default: an adapter
    says what its GP system reported, and one that cannot know says so where it builds
    the course.
    """

    course_id: str
    name: str
    dosage: str
    quantity: str
    kind: CourseKind
    last_issued_on: date | None = None
    review_due_on: date | None = None
    hidden: bool = field(kw_only=True)  # practice marked it not to be shown online
    third_party: bool = field(kw_only=True)  # refers to another person
    harmful: bool = field(kw_only=True)  # potentially harmful to the patient


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
class RecordGrants:
    """Which parts of the GP record someone may see online: independent grants.

    RCGP GP Online Services Toolkit and NHS England guidance: *summary
    information* (allergies, medications; any date), the *detailed coded record*
    (coded entries of any date, no free text or documents) and *prospective full
    access* (everything dated on or after `full_from`). `historic` adds full-record
    entries of any date, after a practice review. A wider grant includes the
    summary; prospective full access alone does not include older coded entries.
    """

    summary: bool = False
    detailed_coded: bool = False
    full_from: date | None = None
    historic: bool = False

    @property
    def shows_summary(self) -> bool:
        return self.summary or self.detailed_coded or self.has_full

    @property
    def has_full(self) -> bool:
        return self.full_from is not None or self.historic

    @property
    def level(self) -> RecordAccessLevel:
        """The widest level held (for display; the grants themselves decide)."""
        if self.has_full:
            return RecordAccessLevel.FULL
        if self.detailed_coded:
            return RecordAccessLevel.DETAILED
        if self.summary:
            return RecordAccessLevel.SUMMARY
        return RecordAccessLevel.NONE

    def capped_at(self, level: RecordAccessLevel) -> RecordGrants:
        """These grants, without any part above `level`."""
        allowed = RECORD_LEVEL_ORDER[: RECORD_LEVEL_ORDER.index(level) + 1]
        full = RecordAccessLevel.FULL in allowed
        return RecordGrants(
            summary=self.shows_summary and RecordAccessLevel.SUMMARY in allowed,
            detailed_coded=self.detailed_coded and RecordAccessLevel.DETAILED in allowed,
            full_from=self.full_from if full else None,
            historic=self.historic and full,
        )

    def within(self, other: RecordGrants) -> RecordGrants:
        """What both grant: nothing either of them withholds, field by field.

        The full record is covered on a date only where both cover it: historic on
        both sides is historic, else the later of the start dates that apply.
        """
        if self.historic and other.historic:
            full_from, historic = _later(self.full_from, other.full_from), True
        elif self.historic or other.historic:
            full_from, historic = other.full_from if self.historic else self.full_from, False
        elif self.full_from is not None and other.full_from is not None:
            full_from, historic = max(self.full_from, other.full_from), False
        else:
            full_from, historic = None, False
        return RecordGrants(
            summary=self.shows_summary and other.shows_summary,
            detailed_coded=self.detailed_coded and other.detailed_coded,
            full_from=full_from,
            historic=historic,
        )

    @classmethod
    def at_level(
        cls, level: RecordAccessLevel, *, full_from: date | None = None, historic: bool = False
    ) -> RecordGrants:
        """The grants a single proxy access level stands for. The grants are independent:
        the full record (from `full_from`, older entries only with `historic`) does not
        include the detailed coded record's older coded entries. Full without a start date
        or historic access covers no date: the caller supplies the start."""
        full = level is RecordAccessLevel.FULL
        return cls(
            summary=level is not RecordAccessLevel.NONE,
            detailed_coded=level is RecordAccessLevel.DETAILED,
            full_from=full_from if full else None,
            historic=full and historic,
        )


def _later(a: date | None, b: date | None) -> date | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


NO_RECORD_ACCESS = RecordGrants()


@dataclass(frozen=True, slots=True)
class RecordAccess:
    """The practice's online record settings for one patient."""

    grants: RecordGrants
    declined: bool = False  # SNOMED 1290331000000103: patient declined online access
    enhanced_review: bool = False  # SNOMED 1364731000000104: enhanced review indicated

    @property
    def level(self) -> RecordAccessLevel:
        return self.grants.level

    @property
    def prospective_from(self) -> date | None:
        return self.grants.full_from

    @property
    def historic_access(self) -> bool:
        return self.grants.historic


@dataclass(frozen=True, slots=True)
class ResultValue:
    """A test result's value as the laboratory reported it."""

    text: str  # as reported: "38", "<0.5", "Negative"
    number: float | None = None  # when the value is a plain number
    unit: str | None = None
    range_low: float | None = None
    range_high: float | None = None
    range_text: str | None = None  # as reported, e.g. "20 - 41"


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
    code: str | None = None  # a clinical code (SNOMED CT): what makes it a coded entry
    detail: str | None = None  # free text (notes, comments); dosage for medications
    result: ResultValue | None = None  # test results: the value, unit and reference range
    resolved: bool = False  # no longer current: an ended allergy, a past problem or medicine
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
    size_bytes: int | None = None  # as the GP system declares it, where it does


@dataclass(frozen=True, slots=True)
class DocumentContent:
    """A document as the GP system sends it: its bytes arrive in `chunks` (each no larger
    than the adapter's read size), so that no reader need hold the whole document.

    `size_bytes` is the size the GP system declares with the content, where it does; it
    may be wrong, so a reader counts what arrives. Close `chunks` when stopping early.
    """

    content_type: str
    chunks: AsyncGenerator[bytes, None]
    size_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class PracticeMessage:
    """A structured message to the practice; its text is passed on, never logged."""

    kind: MessageKind
    subject: str
    body: str
    actor_ref: str
    attributes: dict[str, str] = field(default_factory=dict)
