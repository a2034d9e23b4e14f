"""Appointments management (FHIR STU3): free slots, book, list, read and cancel.

The patient is `Patient/<NHS number>`; slots are those of the practice the token's
patient is registered at (under open access: the `searchFilter` ODS code, or the first
practice served). Resources are built and read with `fhir.resources` (STU3 models).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any, Final

from fhir.resources.STU3.appointment import Appointment as FhirAppointment
from fhir.resources.STU3.bundle import Bundle
from fhir.resources.STU3.location import Location
from fhir.resources.STU3.practitioner import Practitioner
from fhir.resources.STU3.schedule import Schedule
from fhir.resources.STU3.slot import Slot as FhirSlot

from app.clock import LONDON
from app.gp.types import Appointment, AppointmentStatus, AppointmentType, BookingRequest, Slot
from app.standin.calls import Answer, Call, Operation, json_body
from app.standin.outcomes import Refused
from app.standin.specification import API

APPOINTMENT_PROFILE: Final = "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-Appointment-1"
SLOT_PROFILE: Final = "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-Slot-1"
SCHEDULE_PROFILE: Final = "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-Schedule-1"
DELIVERY_CHANNEL: Final = (
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-DeliveryChannel-2"
)
PRACTITIONER_ROLE: Final = (
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-PractitionerRole-1"
)
CANCELLATION_REASON: Final = "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-AppointmentCancellationReason-1"
ODS_FILTER: Final = "https://fhir.nhs.uk/Id/ods-organization-code|"
CHANNELS: Final = {
    AppointmentType.IN_PERSON: "In-person",
    AppointmentType.TELEPHONE: "Telephone",
    AppointmentType.VIDEO: "Video",
}
STATUSES: Final = {
    AppointmentStatus.BOOKED: "booked",
    AppointmentStatus.CANCELLED: "cancelled",
    AppointmentStatus.ATTENDED: "fulfilled",
    AppointmentStatus.DID_NOT_ATTEND: "noshow",
}
TELEPHONE_MARK: Final = " | Tel: "  # how the consumer adds a contact number to description


def local_id(*parts: str) -> str:
    """A stable logical id for something the port names but gives no id (a clinician)."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def search_bound(value: str | None, *, upper: bool) -> datetime:
    """`ge2026-10-15` / `le2026-10-20` (a date or an instant) → an instant in UTC."""
    if not value or value[:2] not in {"ge", "gt", "le", "lt", "eq"}:
        raise Refused(400, "INVALID_PARAMETER", "start and end need a prefix (ge, le…)")
    text = value[2:]
    try:
        if "T" in text:
            return datetime.fromisoformat(text)
        day = datetime.fromisoformat(text).date()
    except ValueError:
        raise Refused(400, "INVALID_PARAMETER", "start and end must be dates") from None
    instant = datetime.combine(day + timedelta(days=1 if upper else 0), time(), LONDON)
    return instant


def _slot(slot: Slot) -> FhirSlot:
    return FhirSlot(
        id=slot.slot_id,
        meta={"profile": [SLOT_PROFILE]},
        extension=[{"url": DELIVERY_CHANNEL, "valueCode": CHANNELS[slot.type]}],
        serviceType=[{"text": slot.session}],
        schedule={"reference": f"Schedule/{_schedule_id(slot)}"},
        status="free",
        start=slot.start,
        end=slot.end,
    )


def _role(role: str) -> list[dict[str, Any]]:
    """The clinician's role, on a Schedule and an Appointment as in the document's examples
    (the sandbox knows it as text, not as an SDS job role code)."""
    return [{"url": PRACTITIONER_ROLE, "valueCodeableConcept": {"text": role}}] if role else []


def _schedule_id(slot: Slot) -> str:
    return local_id(slot.clinician.name, slot.location, slot.session)


def _practitioner(name: str, role: str) -> Practitioner:
    given, _, family = name.rpartition(" ")
    return Practitioner(
        id=local_id(name),
        name=[{"family": family or name, "given": given.split() or None, "text": name}],
        qualification=[{"code": {"text": role}}] if role else None,
    )


def _location(name: str) -> Location:
    return Location(id=local_id(name), name=name)


async def search_slots(call: Call) -> Answer:
    start = search_bound(call.param("start"), upper=False)
    end = search_bound(call.param("end"), upper=True)
    if call.holder is not None:
        holder = await call.holder_patient()
        system, searcher = holder.system, holder.patient.patient_ref
    else:
        wanted = [
            f[len(ODS_FILTER) :] for f in call.params("searchFilter") if f.startswith(ODS_FILTER)
        ]
        try:
            system = call.directory.practice(wanted[0] if wanted else None)
        except KeyError:
            raise Refused(404, "NO_RECORD_FOUND", "No such practice here") from None
        # Open access names no patient; the sandbox's free slots are the practice's.
        searcher = ""
    slots = await system.search_slots(start, end, patient_ref=searcher)
    recurse = set(call.params("_include:recurse"))
    entries: list[Any] = [{"resource": _slot(slot)} for slot in slots]
    schedules: dict[str, Slot] = {_schedule_id(slot): slot for slot in slots}
    for schedule_id, slot in schedules.items():
        entries.append(
            {
                "resource": Schedule(
                    id=schedule_id,
                    meta={"profile": [SCHEDULE_PROFILE]},
                    extension=_role(slot.clinician.role) or None,
                    serviceCategory={"text": slot.session},
                    actor=[
                        {"reference": f"Location/{local_id(slot.location)}"},
                        {"reference": f"Practitioner/{local_id(slot.clinician.name)}"},
                    ],
                )
            }
        )
    if "Schedule:actor:Practitioner" in recurse:
        clinicians = {slot.clinician.name: slot.clinician.role for slot in slots}
        entries += [{"resource": _practitioner(n, r)} for n, r in clinicians.items()]
    if "Schedule:actor:Location" in recurse:
        entries += [{"resource": _location(name)} for name in {slot.location for slot in slots}]
    bundle = Bundle(type="searchset", total=len(slots), entry=entries or None)
    return Answer(200, json_body(bundle))


def appointment_resource(appointment: Appointment, nhs_number: str) -> FhirAppointment:
    extensions: list[dict[str, Any]] = [
        *_role(appointment.clinician.role),
        {"url": DELIVERY_CHANNEL, "valueCode": CHANNELS[appointment.type]},
    ]
    if appointment.cancellation_reason:
        extensions.append(
            {"url": CANCELLATION_REASON, "valueString": appointment.cancellation_reason}
        )
    description = appointment.reason
    if appointment.telephone_number:
        description = f"{description or ''}{TELEPHONE_MARK}{appointment.telephone_number}"
    minutes = int((appointment.end - appointment.start).total_seconds() // 60)
    return FhirAppointment(
        id=appointment.appointment_id,
        meta={"versionId": appointment.version, "profile": [APPOINTMENT_PROFILE]},
        extension=extensions,
        status=STATUSES[appointment.status],
        description=description,
        start=appointment.start,
        end=appointment.end,
        minutesDuration=minutes or None,
        slot=[{"reference": f"Slot/{appointment.slot_id}"}] if appointment.slot_id else None,
        participant=[
            {"actor": {"reference": f"Patient/{nhs_number}"}, "status": "accepted"},
            {
                "actor": {
                    "reference": f"Practitioner/{local_id(appointment.clinician.name)}",
                    "display": appointment.clinician.name,
                },
                "status": "accepted",
            },
            {
                "actor": {
                    "reference": f"Location/{local_id(appointment.location)}",
                    "display": appointment.location,
                },
                "status": "accepted",
            },
        ],
    )


def _patient_number(resource: FhirAppointment) -> str:
    for participant in resource.participant or []:
        reference = (participant.actor.reference or "") if participant.actor else ""
        if reference.startswith("Patient/"):
            return reference.removeprefix("Patient/")
    raise Refused(422, "INVALID_RESOURCE", "The appointment names no Patient participant")


async def book(call: Call) -> Answer:
    resource = call.resource(FhirAppointment)
    if resource.id is not None:
        raise Refused(422, "INVALID_RESOURCE", "A new appointment must not have an id")
    slots = [item.reference or "" for item in resource.slot or []]
    if len(slots) != 1 or not slots[0].startswith("Slot/"):
        raise Refused(422, "INVALID_RESOURCE", "Book one Slot (slot[0] must be Slot/<id>)")
    registered = await call.patient(_patient_number(resource))
    reason, _, telephone = (resource.description or "").partition(TELEPHONE_MARK)
    booked = await registered.system.book_appointment(
        BookingRequest(
            patient_ref=registered.patient.patient_ref,
            slot_id=slots[0].removeprefix("Slot/"),
            actor_ref=registered.patient.patient_ref,
            reason=reason.strip() or None,
            telephone_number=telephone.strip() or None,
        )
    )
    call.directory.remember(_owner_key(booked.appointment_id), registered.patient.nhs_number)
    body = json_body(appointment_resource(booked, registered.patient.nhs_number))
    return Answer(201, body)


async def list_for_patient(call: Call) -> Answer:
    registered = await call.patient(call.path_params["id"])
    bounds = call.params("start")
    lower = next((search_bound(b, upper=False) for b in bounds if b[:2] in {"ge", "gt"}), None)
    upper = next((search_bound(b, upper=True) for b in bounds if b[:2] in {"le", "lt"}), None)
    appointments = await registered.system.list_appointments(registered.patient.patient_ref)
    chosen = [
        appointment
        for appointment in appointments
        if (lower is None or appointment.start >= lower)
        and (upper is None or appointment.start < upper)
    ]
    nhs = registered.patient.nhs_number
    for appointment in chosen:
        call.directory.remember(_owner_key(appointment.appointment_id), nhs)
    entries = [{"resource": appointment_resource(item, nhs)} for item in chosen]
    bundle = Bundle(type="searchset", total=len(chosen), entry=entries or None)
    return Answer(200, json_body(bundle))


async def _own_appointment(call: Call, nhs_number: str | None = None) -> tuple[Appointment, str]:
    """The appointment in the path, if it is the patient's (under open access, whoever's
    this stand-in last saw it listed or booked for)."""
    owner = nhs_number or call.holder or call.directory.recall(_owner_key(call.path_params["id"]))
    if owner is None:
        raise Refused(404, "NO_RECORD_FOUND", "No such appointment")
    registered = await call.patient(owner)
    appointments = await registered.system.list_appointments(registered.patient.patient_ref)
    for appointment in appointments:
        if appointment.appointment_id == call.path_params["id"]:
            return appointment, registered.patient.nhs_number
    raise Refused(404, "NO_RECORD_FOUND", "No such appointment for this patient")


async def read(call: Call) -> Answer:
    appointment, nhs_number = await _own_appointment(call)
    return Answer(200, json_body(appointment_resource(appointment, nhs_number)))


async def cancel(call: Call) -> Answer:
    resource = call.resource(FhirAppointment)
    if resource.id != call.path_params["id"] or resource.status != "cancelled":
        raise Refused(422, "INVALID_RESOURCE", "Send the appointment with status cancelled")
    appointment, nhs_number = await _own_appointment(call, _patient_number(resource))
    reason = next(
        (e.valueString for e in resource.extension or [] if e.url == CANCELLATION_REASON), None
    )
    registered = await call.patient(nhs_number)
    cancelled = await registered.system.cancel_appointment(
        registered.patient.patient_ref,
        appointment.appointment_id,
        reason_code=None,
        actor_ref=registered.patient.patient_ref,
    )
    if reason:
        cancelled = _with_reason(cancelled, reason)
    return Answer(200, json_body(appointment_resource(cancelled, nhs_number)))


def _owner_key(appointment_id: str) -> str:
    return f"appointment-owner:{appointment_id}"


def _with_reason(appointment: Appointment, reason: str) -> Appointment:
    return replace(appointment, cancellation_reason=appointment.cancellation_reason or reason)


OPERATIONS: Final = (
    Operation(API.APPOINTMENTS, "GET", "/Slot", search_slots),
    Operation(API.APPOINTMENTS, "POST", "/Appointment", book),
    Operation(API.APPOINTMENTS, "GET", "/Patient/{id}/Appointment", list_for_patient),
    Operation(API.APPOINTMENTS, "GET", "/Appointment/{id}", read),
    Operation(API.APPOINTMENTS, "PUT", "/Appointment/{id}", cancel),
)
