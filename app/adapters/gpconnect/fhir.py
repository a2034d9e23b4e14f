"""GP Connect FHIR resources ↔ domain types (pure functions, no I/O).

Resources are plain JSON dicts. Appointment Management and Access Record Structured
are FHIR STU3; Patient Facing Prescriptions is FHIR R4 (UK Core). Where the two
versions differ (e.g. `AllergyIntolerance.assertedDate` in STU3, `recordedDate` in R4)
both are read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from app.adapters.gpconnect import interactions as wire
from app.clock import LONDON
from app.gp.types import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    BookingRequest,
    Clinician,
    Course,
    CourseKind,
    Patient,
    PrescriptionRequest,
    PrescriptionRequestStatus,
    RecordEntry,
    RecordSection,
    Slot,
)

Resource = dict[str, Any]
JSON = Mapping[str, Any]


class MalformedResource(ValueError):
    """A resource lacks an element the adapter cannot do without (never holds patient data)."""


# --- small readers ------------------------------------------------------------------


def instant(value: str) -> datetime:
    """A FHIR instant/dateTime with offset → aware UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        # GP Connect SHALL send UK local time with an offset; tolerate its absence.
        parsed = parsed.replace(tzinfo=LONDON)
    return parsed.astimezone(UTC)


def wire_instant(value: datetime) -> str:
    """UK local time with offset (`yyyy-mm-ddThh:mm:ss+hh:mm`), as GP Connect sends them."""
    return value.astimezone(LONDON).isoformat(timespec="seconds")


def fhir_date(value: str | None) -> date | None:
    """A FHIR date or dateTime (possibly partial: `2019`, `2019-06`) → a date."""
    if not value:
        return None
    head = value[:10]
    parts = head.split("-")
    while len(parts) < 3:
        parts.append("01")
    return date(int(parts[0]), int(parts[1]), int(parts[2][:2]))


def ref_id(reference: JSON | None, resource_type: str | None = None) -> str | None:
    """`{"reference": "Practitioner/2"}` → "2" (optionally only of one type)."""
    text = (reference or {}).get("reference")
    if not isinstance(text, str) or "/" not in text:
        return None
    kind, _, ident = text.rstrip("/").rpartition("/")
    kind = kind.rpartition("/")[2]
    if resource_type and kind != resource_type:
        return None
    return ident.split("/_history")[0] or None


def extension(resource: JSON, url: str) -> JSON | None:
    for item in resource.get("extension") or []:
        if item.get("url") == url:
            found: JSON = item
            return found
    return None


def concept_text(concept: JSON | None) -> str | None:
    if not concept:
        return None
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if coding.get("display"):
            return str(coding["display"])
    return None


def concept_code(concept: JSON | None) -> str | None:
    for coding in (concept or {}).get("coding") or []:
        if coding.get("code"):
            return str(coding["code"])
    return None


def human_name(resource: JSON) -> tuple[str, str, str]:
    """(prefix, given, family) of the official name, else the first."""
    names = resource.get("name") or []
    if isinstance(names, Mapping):  # STU3 Practitioner.name was 0..1 in some examples
        names = [names]
    chosen: JSON = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    prefix = " ".join(chosen.get("prefix") or [])
    given = " ".join(chosen.get("given") or [])
    return prefix, given, str(chosen.get("family") or "")


def display_name(resource: JSON) -> str:
    return " ".join(part for part in human_name(resource) if part)


class ResourceIndex:
    """A Bundle's resources by `Type/id`, for following references."""

    def __init__(self, resources: Iterable[JSON]) -> None:
        self._by_ref: dict[str, JSON] = {}
        for resource in resources:
            kind, ident = resource.get("resourceType"), resource.get("id")
            if kind and ident:
                self._by_ref[f"{kind}/{ident}"] = resource

    @classmethod
    def of_bundle(cls, bundle: JSON) -> ResourceIndex:
        return cls(bundle_resources(bundle))

    def get(self, reference: JSON | None) -> JSON | None:
        text = (reference or {}).get("reference")
        if not isinstance(text, str):
            return None
        kind_id = "/".join(text.split("/_history")[0].rstrip("/").split("/")[-2:])
        return self._by_ref.get(kind_id)

    def add(self, resource: JSON) -> None:
        self._by_ref[f"{resource.get('resourceType')}/{resource.get('id')}"] = resource


def bundle_resources(bundle: JSON, resource_type: str | None = None) -> Iterator[JSON]:
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource")
        if isinstance(resource, Mapping) and (
            resource_type is None or resource.get("resourceType") == resource_type
        ):
            yield resource


# --- patient --------------------------------------------------------------------------


def nhs_number_of(resource: JSON) -> str | None:
    for identifier in resource.get("identifier") or []:
        if identifier.get("system") == wire.NHS_NUMBER_SYSTEM and identifier.get("value"):
            return str(identifier["value"])
    return None


def patient_from_fhir(resource: JSON, *, ods_code: str) -> Patient:
    nhs_number = nhs_number_of(resource)
    birth_date = fhir_date(resource.get("birthDate"))
    if not resource.get("id") or nhs_number is None or birth_date is None:
        raise MalformedResource("Patient lacks id, NHS number or birth date")
    _, given, family = human_name(resource)
    return Patient(
        patient_ref=str(resource["id"]),
        nhs_number=nhs_number,
        given_name=given.split(" ")[0] if given else "",
        family_name=family,
        birth_date=birth_date,
        ods_code=ods_code,
    )


# --- slots ------------------------------------------------------------------------------

_CHANNELS = {
    "in-person": AppointmentType.IN_PERSON,
    "telephone": AppointmentType.TELEPHONE,
    "video": AppointmentType.VIDEO,
}
_CHANNEL_CODES = {
    AppointmentType.IN_PERSON: "In-person",
    AppointmentType.TELEPHONE: "Telephone",
    AppointmentType.VIDEO: "Video",
}
SLOT_ID_SEPARATOR = "~"  # not in the FHIR id alphabet [A-Za-z0-9-.], so it cannot clash


def delivery_channel(resource: JSON) -> AppointmentType:
    """Extension-GPConnect-DeliveryChannel-2 (In-person | Telephone | Video)."""
    found = extension(resource, wire.DELIVERY_CHANNEL_EXT)
    code = str((found or {}).get("valueCode") or "").lower()
    return _CHANNELS.get(code, AppointmentType.IN_PERSON)


def channel_code(kind: AppointmentType) -> str:
    return _CHANNEL_CODES[kind]


def practitioner_role(resource: JSON) -> str:
    found = extension(resource, wire.PRACTITIONER_ROLE_EXT)
    return concept_text((found or {}).get("valueCodeableConcept")) or ""


@dataclass(frozen=True, slots=True)
class SlotKey:
    """What booking needs about a slot; GP Connect has no "read a slot" interaction,
    so the port's opaque `slot_id` carries it: `id~start~end~location~practitioner`."""

    slot_id: str
    start: datetime
    end: datetime
    location_id: str
    practitioner_id: str | None

    def encode(self) -> str:
        return SLOT_ID_SEPARATOR.join(
            [
                self.slot_id,
                str(int(self.start.timestamp())),
                str(int(self.end.timestamp())),
                self.location_id,
                self.practitioner_id or "",
            ]
        )

    @classmethod
    def decode(cls, value: str) -> SlotKey:
        parts = value.split(SLOT_ID_SEPARATOR)
        if len(parts) != 5 or not all(parts[:4]):
            raise MalformedResource("not a GP Connect slot id")
        try:
            start = datetime.fromtimestamp(int(parts[1]), UTC)
            end = datetime.fromtimestamp(int(parts[2]), UTC)
        except (ValueError, OverflowError) as exc:
            raise MalformedResource("not a GP Connect slot id") from exc
        return cls(parts[0], start, end, parts[3], parts[4] or None)


def slots_from_bundle(bundle: JSON) -> list[Slot]:
    """A Search for free slots searchset (Slot + Schedule + Practitioner + Location)."""
    index = ResourceIndex.of_bundle(bundle)
    slots: list[Slot] = []
    for resource in bundle_resources(bundle, "Slot"):
        if resource.get("status") != "free":
            continue
        schedule = index.get(resource.get("schedule")) or {}
        actors = schedule.get("actor") or []
        location_ref = next((a for a in actors if ref_id(a, "Location")), None)
        practitioner_ref = next((a for a in actors if ref_id(a, "Practitioner")), None)
        location = index.get(location_ref) or {}
        practitioner = index.get(practitioner_ref)
        location_id = ref_id(location_ref, "Location")
        if not resource.get("id") or location_id is None:
            continue  # unbookable: booking needs the Location participant
        start, end = instant(resource["start"]), instant(resource["end"])
        role = practitioner_role(schedule)
        key = SlotKey(
            str(resource["id"]),
            start,
            end,
            location_id,
            ref_id(practitioner_ref, "Practitioner"),
        )
        slots.append(
            Slot(
                slot_id=key.encode(),
                start=start,
                end=end,
                type=delivery_channel(resource),
                clinician=Clinician(
                    name=display_name(practitioner) if practitioner else (role or "Practice team"),
                    role=role,
                ),
                location=str(location.get("name") or (location_ref or {}).get("display") or ""),
                session=concept_text(_first(schedule.get("serviceCategory")))
                or concept_text(_first(resource.get("serviceType")))
                or str(schedule.get("comment") or ""),
            )
        )
    return sorted(slots, key=lambda slot: (slot.start, slot.slot_id))


def _first(value: Any) -> JSON | None:
    if isinstance(value, list):
        return value[0] if value else None
    return value if isinstance(value, Mapping) else None


# --- appointments -------------------------------------------------------------------

_APPOINTMENT_STATUS = {
    "booked": AppointmentStatus.BOOKED,
    "pending": AppointmentStatus.BOOKED,
    "arrived": AppointmentStatus.BOOKED,
    "fulfilled": AppointmentStatus.ATTENDED,
    "noshow": AppointmentStatus.DID_NOT_ATTEND,
    "cancelled": AppointmentStatus.CANCELLED,
    "entered-in-error": AppointmentStatus.CANCELLED,
}


def participant_ref(resource: JSON, resource_type: str) -> JSON | None:
    for participant in resource.get("participant") or []:
        actor = participant.get("actor")
        if ref_id(actor, resource_type):
            found: JSON = actor
            return found
    return None


def appointment_from_fhir(resource: JSON, index: ResourceIndex | None = None) -> Appointment:
    """A GPConnect-Appointment-1. `index` resolves participants that carry no display
    (consumers "SHALL use Read practitioner / Read location" for those)."""
    index = index or ResourceIndex(())
    patient = participant_ref(resource, "Patient")
    if not resource.get("id") or patient is None:
        raise MalformedResource("Appointment lacks id or patient participant")
    practitioner_actor = participant_ref(resource, "Practitioner")
    location_actor = participant_ref(resource, "Location")
    practitioner = index.get(practitioner_actor)
    location = index.get(location_actor)
    role = practitioner_role(resource)
    clinician_name = (
        (display_name(practitioner) if practitioner else None)
        or (practitioner_actor or {}).get("display")
        or role
        or "Practice team"
    )
    cancellation = extension(resource, wire.CANCELLATION_REASON_EXT)
    return Appointment(
        appointment_id=str(resource["id"]),
        patient_ref=str(ref_id(patient, "Patient")),
        start=instant(resource["start"]),
        end=instant(resource["end"]),
        type=delivery_channel(resource),
        clinician=Clinician(name=str(clinician_name), role=role),
        location=str((location or {}).get("name") or (location_actor or {}).get("display") or ""),
        status=_APPOINTMENT_STATUS.get(str(resource.get("status")), AppointmentStatus.BOOKED),
        reason=resource.get("description") or None,
        cancellation_reason=(cancellation or {}).get("valueString"),
        version=str((resource.get("meta") or {}).get("versionId") or "1"),
    )


def unresolved_participants(resource: JSON) -> list[JSON]:
    """Practitioner and Location participants with no display, to be read separately."""
    found: list[JSON] = []
    for kind in ("Practitioner", "Location"):
        actor = participant_ref(resource, kind)
        if actor is not None and not actor.get("display"):
            found.append(actor)
    return found


@dataclass(frozen=True, slots=True)
class BookingOrganisation:
    """The consumer organisation, sent in the Extension-GPConnect-BookingOrganisation-1."""

    ods_code: str
    name: str
    telephone: str


DESCRIPTION_MAX = 100  # Book an appointment: "Consumers SHALL impose a limit of 100 characters"
DEFAULT_DESCRIPTION = "Booked online by the patient"


def booking_description(request: BookingRequest) -> str:
    """Appointment.description: the summary label, plus any temporary contact number
    ("patient temporary contact details SHALL be included within description")."""
    parts = [request.reason or DEFAULT_DESCRIPTION]
    if request.telephone_number:
        parts.append(f"Tel: {request.telephone_number}")
    return " | ".join(parts)[:DESCRIPTION_MAX]


def appointment_to_fhir(
    request: BookingRequest, key: SlotKey, organisation: BookingOrganisation, created: datetime
) -> Resource:
    """The POST /Appointment body (Book an appointment, GPConnect-Appointment-1).

    `Appointment.reason` is deliberately absent: the spec says consumers SHALL NOT use it.
    """
    participants: list[Resource] = [
        {"actor": {"reference": f"Patient/{request.patient_ref}"}, "status": "accepted"},
        {"actor": {"reference": f"Location/{key.location_id}"}, "status": "accepted"},
    ]
    if key.practitioner_id:
        participants.append(
            {"actor": {"reference": f"Practitioner/{key.practitioner_id}"}, "status": "accepted"}
        )
    return {
        "resourceType": "Appointment",
        "meta": {"profile": [wire.APPOINTMENT_PROFILE]},
        "contained": [
            {
                "resourceType": "Organization",
                "id": "1",
                "meta": {"profile": [wire.ORGANIZATION_PROFILE]},
                "identifier": [{"system": wire.ODS_CODE_SYSTEM, "value": organisation.ods_code}],
                "name": organisation.name,
                "telecom": [{"system": "phone", "value": organisation.telephone}],
            }
        ],
        "extension": [
            {"url": wire.BOOKING_ORGANISATION_EXT, "valueReference": {"reference": "#1"}}
        ],
        "status": "booked",
        "description": booking_description(request),
        "start": wire_instant(key.start),
        "end": wire_instant(key.end),
        "slot": [{"reference": f"Slot/{key.slot_id}"}],
        "created": wire_instant(created),
        "participant": participants,
    }


def cancelled_copy(resource: JSON, reason_text: str) -> Resource:
    """Cancel an appointment: the read resource with only `status` and the
    cancellation-reason extension changed ("any other change SHALL be rejected")."""
    body = dict(resource)
    extensions = [
        item
        for item in body.get("extension") or []
        if item.get("url") != wire.CANCELLATION_REASON_EXT
    ]
    extensions.append({"url": wire.CANCELLATION_REASON_EXT, "valueString": reason_text})
    body["extension"] = extensions
    body["status"] = "cancelled"
    return body


def etag(resource: JSON) -> str:
    """If-Match value for a resource's current version (weak ETag, as the spec's example)."""
    return f'W/"{(resource.get("meta") or {}).get("versionId") or "1"}"'


# --- prescriptions (R4) ---------------------------------------------------------------

_COURSE_KINDS = {
    "acute": CourseKind.ACUTE,
    "continuous": CourseKind.REPEAT,
    "continuous-repeat-dispensing": CourseKind.REPEAT_DISPENSING,
}
_ISSUE_INTENTS = frozenset({"order", "original-order", "instance-order", "reflex-order"})


def course_kind(resource: JSON) -> CourseKind:
    """courseOfTherapyType: acute | continuous (repeat) | continuous-repeat-dispensing.
    Anything else counts as acute, so that it is never orderable by mistake."""
    for coding in (resource.get("courseOfTherapyType") or {}).get("coding") or []:
        kind = _COURSE_KINDS.get(str(coding.get("code")))
        if kind is not None:
            return kind
    return CourseKind.ACUTE


def _quantity(resource: JSON) -> str:
    quantity = (resource.get("dispenseRequest") or {}).get("quantity") or {}
    value = quantity.get("value")
    if value is None:
        return ""
    number = f"{value:g}" if isinstance(value, float) else str(value)
    unit = quantity.get("unit") or quantity.get("code") or ""
    return f"{number} {unit}".strip()


def _review_due(resource: JSON) -> date | None:
    repeat = extension(resource, wire.REPEAT_INFORMATION_EXT)
    for item in (repeat or {}).get("extension") or []:
        if item.get("url") == "authorisationExpiryDate":
            return fhir_date(item.get("valueDateTime") or item.get("valueDate"))
    return None


def courses_from_bundle(bundle: JSON) -> list[Course]:
    """Authorised courses (`intent` plan) with the latest issue (`intent` order, basedOn)."""
    requests = list(bundle_resources(bundle, "MedicationRequest"))
    last_issue: dict[str, date] = {}
    for issue in requests:
        if issue.get("intent") not in _ISSUE_INTENTS:
            continue
        issued = fhir_date(issue.get("authoredOn"))
        for based_on in issue.get("basedOn") or []:
            plan_id = ref_id(based_on, "MedicationRequest")
            if plan_id and issued and (plan_id not in last_issue or issued > last_issue[plan_id]):
                last_issue[plan_id] = issued
    courses = []
    for plan in requests:
        if plan.get("intent") != "plan" or plan.get("status") != "active" or not plan.get("id"):
            continue
        dosage = _first(plan.get("dosageInstruction")) or {}
        courses.append(
            Course(
                course_id=str(plan["id"]),
                name=concept_text(plan.get("medicationCodeableConcept"))
                or str((plan.get("medicationReference") or {}).get("display") or ""),
                dosage=str(dosage.get("text") or ""),
                quantity=_quantity(plan),
                kind=course_kind(plan),
                last_issued_on=last_issue.get(str(plan["id"])),
                review_due_on=_review_due(plan),
            )
        )
    return courses


_TASK_STATUS = {
    "requested": PrescriptionRequestStatus.REQUESTED,
    "received": PrescriptionRequestStatus.REQUESTED,
    "accepted": PrescriptionRequestStatus.APPROVED,
    "in-progress": PrescriptionRequestStatus.APPROVED,
    "ready": PrescriptionRequestStatus.APPROVED,
    "on-hold": PrescriptionRequestStatus.REQUESTED,
    "completed": PrescriptionRequestStatus.ISSUED,
    "rejected": PrescriptionRequestStatus.REJECTED,
    "failed": PrescriptionRequestStatus.REJECTED,
    "cancelled": PrescriptionRequestStatus.CANCELLED,
    "entered-in-error": PrescriptionRequestStatus.CANCELLED,
}
PENDING_TASK_STATUSES = frozenset({"requested", "received", "accepted", "in-progress", "on-hold"})


def task_group(task: JSON) -> str:
    """The request a Task belongs to: its groupIdentifier (one Task per course), else itself."""
    group = (task.get("groupIdentifier") or {}).get("value")
    return str(group or task.get("id"))


def new_request_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def order_tasks(
    patient_ref: str,
    nhs_number: str,
    course_ids: Sequence[str],
    *,
    note: str | None,
    actor_ref: str,
    request_id: str,
    authored: datetime,
) -> list[Resource]:
    """POST /Task bodies: one per course, `focus` → the course (MedicationRequest, intent
    plan), sharing a groupIdentifier so that they read back as one request."""
    requester_type = "Patient" if actor_ref == patient_ref else "RelatedPerson"
    tasks = []
    for course_id in course_ids:
        task: Resource = {
            "resourceType": "Task",
            "groupIdentifier": {"system": wire.REQUEST_GROUP_SYSTEM, "value": request_id},
            "status": "requested",
            "intent": "order",
            "focus": {"reference": f"MedicationRequest/{course_id}"},
            "for": {"identifier": {"system": wire.NHS_NUMBER_SYSTEM, "value": nhs_number}},
            "authoredOn": authored.astimezone(UTC).isoformat(timespec="seconds"),
            "requester": {"reference": f"{requester_type}/{actor_ref}"},
        }
        if note:
            task["note"] = [{"text": note}]
        tasks.append(task)
    return tasks


def requests_from_tasks(tasks: Iterable[JSON], *, patient_ref: str) -> list[PrescriptionRequest]:
    """Tasks grouped into the port's prescription requests, newest first."""
    groups: dict[str, list[JSON]] = {}
    for task in tasks:
        groups.setdefault(task_group(task), []).append(task)
    requests = []
    for group_id, members in groups.items():
        first = members[0]
        statuses = {str(task.get("status")) for task in members}
        requests.append(
            PrescriptionRequest(
                request_id=group_id,
                patient_ref=patient_ref,
                course_ids=tuple(
                    course for task in members if (course := ref_id(task.get("focus")))
                ),
                status=_group_status(statuses),
                requested_at=instant(str(first.get("authoredOn"))),
                requested_by_ref=ref_id(first.get("requester")) or patient_ref,
                note=next(
                    (n.get("text") for task in members for n in task.get("note") or []), None
                ),
                rejection_reason=next(
                    (
                        concept_text(task.get("statusReason"))
                        for task in members
                        if task.get("status") in ("rejected", "failed")
                    ),
                    None,
                ),
            )
        )
    return sorted(requests, key=lambda r: r.requested_at, reverse=True)


def _group_status(statuses: set[str]) -> PrescriptionRequestStatus:
    """One status for a request whose courses may be at different stages: the least
    advanced wins, so a request never looks done while a course is still pending."""
    order = [
        PrescriptionRequestStatus.REQUESTED,
        PrescriptionRequestStatus.APPROVED,
        PrescriptionRequestStatus.REJECTED,
        PrescriptionRequestStatus.ISSUED,
        PrescriptionRequestStatus.CANCELLED,
    ]
    mapped = {_TASK_STATUS.get(s, PrescriptionRequestStatus.REQUESTED) for s in statuses}
    return min(mapped, key=order.index)


def pending_courses(tasks: Iterable[JSON]) -> set[str]:
    return {
        course
        for task in tasks
        if task.get("status") in PENDING_TASK_STATUSES and (course := ref_id(task.get("focus")))
    }


# --- the structured record (STU3) -----------------------------------------------------

SECTION_LISTS: dict[RecordSection, str] = {
    RecordSection.ALLERGIES: wire.LIST_ALLERGIES,
    RecordSection.MEDICATIONS: wire.LIST_MEDICATIONS,
    RecordSection.PROBLEMS: wire.LIST_PROBLEMS,
    RecordSection.IMMUNISATIONS: wire.LIST_IMMUNISATIONS,
    RecordSection.CONSULTATIONS: wire.LIST_CONSULTATIONS,
    RecordSection.TEST_RESULTS: wire.LIST_INVESTIGATIONS,
}
_FILED_REPORT_STATUSES = frozenset({"final", "amended", "corrected", "appended"})


def structured_record_parameters(nhs_number: str, section: RecordSection) -> Resource:
    """The $gpc.getstructuredrecord Parameters asking for one clinical area."""
    part: dict[RecordSection, Resource] = {
        RecordSection.ALLERGIES: {
            "name": "includeAllergies",
            "part": [{"name": "includeResolvedAllergies", "valueBoolean": True}],
        },
        RecordSection.MEDICATIONS: {
            "name": "includeMedication",
            "part": [{"name": "includePrescriptionIssues", "valueBoolean": False}],
        },
        RecordSection.PROBLEMS: {"name": "includeProblems"},
        RecordSection.IMMUNISATIONS: {"name": "includeImmunisations"},
        RecordSection.CONSULTATIONS: {"name": "includeConsultations"},
        RecordSection.TEST_RESULTS: {"name": "includeInvestigations"},
    }
    return {
        "resourceType": "Parameters",
        "meta": {"profile": [wire.STRUCTURED_RECORD_PARAMETERS_PROFILE]},
        "parameter": [
            {
                "name": "patientNHSNumber",
                "valueIdentifier": {"system": wire.NHS_NUMBER_SYSTEM, "value": nhs_number},
            },
            part[section],
        ],
    }


def record_entries_from_bundle(bundle: JSON, section: RecordSection) -> list[RecordEntry]:
    """The entries of one section's List in a structured record Bundle, newest first.

    Confidential items are withheld by the provider (it never sends them), so nothing
    returned is marked hidden; GP Connect carries no third-party or harmful flags.
    """
    list_code = SECTION_LISTS[section]
    index = ResourceIndex.of_bundle(bundle)
    entries: list[RecordEntry] = []
    for lst in bundle_resources(bundle, "List"):
        if concept_code(lst.get("code")) != list_code:
            continue
        for item in lst.get("entry") or []:
            resource = index.get(item.get("item"))
            if resource is not None:
                entry = _entry(resource, section, index)
                if entry is not None:
                    entries.append(entry)
    return sorted(entries, key=lambda e: (e.recorded_on, e.entry_id), reverse=True)


def _entry(resource: JSON, section: RecordSection, index: ResourceIndex) -> RecordEntry | None:
    kind = resource.get("resourceType")
    code = resource.get("code")
    detail: str | None = None
    filed = True
    if kind == "AllergyIntolerance":
        when = resource.get("assertedDate") or resource.get("recordedDate")
        when = when or resource.get("onsetDateTime")
        detail = _notes(resource)
    elif kind == "MedicationStatement":
        medication = index.get(resource.get("medicationReference")) or {}
        code = medication.get("code") or resource.get("medicationCodeableConcept")
        when = resource.get("dateAsserted") or (resource.get("effectivePeriod") or {}).get("start")
        detail = (_first(resource.get("dosage")) or {}).get("text")
    elif kind == "Condition":
        when = resource.get("assertedDate") or resource.get("recordedDate")
        when = when or resource.get("onsetDateTime")
        detail = _notes(resource)
    elif kind == "Immunization":
        code = resource.get("vaccineCode")
        when = resource.get("date") or resource.get("occurrenceDateTime")
    elif kind == "Encounter":
        code = _first(resource.get("type"))
        when = (resource.get("period") or {}).get("start")
    elif kind in ("DiagnosticReport", "Observation"):
        when = resource.get("issued") or resource.get("effectiveDateTime")
        filed = resource.get("status") in _FILED_REPORT_STATUSES
        detail = _result_values(resource, index)
    else:
        return None
    recorded_on = fhir_date(when)
    if recorded_on is None or not resource.get("id"):
        return None
    return RecordEntry(
        entry_id=str(resource["id"]),
        section=section,
        recorded_on=recorded_on,
        term=concept_text(code) or "",
        code=concept_code(code),
        detail=detail or None,
        filed=filed,
    )


def _notes(resource: JSON) -> str | None:
    texts = [str(note.get("text")) for note in resource.get("note") or [] if note.get("text")]
    return "; ".join(texts) or None


def _value(observation: JSON) -> str | None:
    quantity = observation.get("valueQuantity")
    if quantity:
        return f"{quantity.get('value')} {quantity.get('unit') or ''}".strip()
    return observation.get("valueString") or concept_text(observation.get("valueCodeableConcept"))


def _result_values(resource: JSON, index: ResourceIndex) -> str | None:
    if resource.get("resourceType") == "Observation":
        return _value(resource)
    values = []
    for reference in resource.get("result") or []:
        observation = index.get(reference)
        if observation:
            value = _value(observation)
            name = concept_text(observation.get("code"))
            if value:
                values.append(f"{name}: {value}" if name else value)
    return "; ".join(values) or resource.get("conclusion") or None
