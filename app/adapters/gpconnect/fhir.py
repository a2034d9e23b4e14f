"""GP Connect FHIR resources ↔ domain types (pure functions, no I/O): shared readers,
patients, slots and appointments. Prescriptions are in `fhir_prescriptions.py`, the
structured record in `fhir_record.py`.

Resources are plain JSON dicts. Appointment Management and Access Record Structured
are FHIR STU3; Patient Facing Prescriptions is FHIR R4 (UK Core). Where the two
versions differ (e.g. `AllergyIntolerance.assertedDate` in STU3, `recordedDate` in R4)
both are read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
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
    Patient,
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
SLOT_ID_SEPARATOR = "~"  # not in the FHIR id alphabet [A-Za-z0-9-.], so it cannot clash


def delivery_channel(resource: JSON) -> AppointmentType:
    """Extension-GPConnect-DeliveryChannel-2 (In-person | Telephone | Video)."""
    found = extension(resource, wire.DELIVERY_CHANNEL_EXT)
    code = str((found or {}).get("valueCode") or "").lower()
    return _CHANNELS.get(code, AppointmentType.IN_PERSON)


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
                slot_type=concept_text(_first(resource.get("serviceType"))),
                schedule_type=concept_text(_first(schedule.get("serviceCategory"))),
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
        slot_id=booked_slot_id(resource, location_actor, practitioner_actor),
        service_type=concept_text(_first(resource.get("serviceType"))),
        schedule_type=concept_text(_first(resource.get("serviceCategory"))),
        location_address=address_text((location or {}).get("address")),
        clinician_gender=_GENDERS.get(str((practitioner or {}).get("gender") or "")),
    )


# FHIR AdministrativeGender; `unknown` says nothing worth showing.
_GENDERS = {"male": "male", "female": "female", "other": "other"}


def address_text(address: Any) -> str | None:
    """A FHIR Address on one line: its lines, city, district and postcode, each once
    (STU3 Location.address is one Address; a list is read for its first)."""
    chosen = _first(address)
    if not chosen:
        return None
    parts: list[str] = [str(line) for line in chosen.get("line") or [] if line]
    parts += [str(chosen[key]) for key in ("city", "district", "postalCode") if chosen.get(key)]
    unique: list[str] = []
    for part in (part.strip() for part in parts):
        if part and part.casefold() not in (kept.casefold() for kept in unique):
            unique.append(part)
    if unique:
        return ", ".join(unique)
    return str(chosen["text"]) if chosen.get("text") else None


def booked_slot_id(
    resource: JSON, location_actor: JSON | None, practitioner_actor: JSON | None
) -> str | None:
    """The port's id of the one slot an appointment was booked in, as `slots_from_bundle`
    makes it from the slot; None where the appointment does not say."""
    slots = [ref_id(reference, "Slot") for reference in resource.get("slot") or []]
    location_id = ref_id(location_actor, "Location")
    if len(slots) != 1 or slots[0] is None or location_id is None:
        return None
    start, end = instant(resource["start"]), instant(resource["end"])
    practitioner_id = ref_id(practitioner_actor, "Practitioner")
    return SlotKey(slots[0], start, end, location_id, practitioner_id).encode()


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
