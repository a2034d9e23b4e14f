"""Appointments over GP Connect's patient-facing Appointments API (FHIR STU3, the
patient's own access token): search free slots, book, cancel (PUT), list future
appointments. The patient is addressed by NHS number (`Patient/{NHS number}`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from app.adapters.gpconnect import apis, fhir
from app.adapters.gpconnect import interactions as wire
from app.adapters.gpconnect.base import GPConnectBase, resource, wire_shape
from app.adapters.gpconnect.outcomes import Operation
from app.clock import today
from app.gp.errors import GPError, NotCancellable, NotFoundInGPSystem
from app.gp.types import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    BookingRequest,
    CancellationReason,
    Slot,
)

# Search for free slots: "SHALL request a maximum date range covering a two week period".
MAX_SLOT_SEARCH = timedelta(days=14)
# Longer than any appointment slot: consecutive two-week searches overlap by this much.
SLOT_SEARCH_OVERLAP = timedelta(hours=12)
# Retrieve a patient's appointments needs an explicit future range; a year covers any booking.
APPOINTMENT_HORIZON = timedelta(days=366)

DEFAULT_CANCELLATION_TEXT = "Cancelled online by the patient"


class AppointmentsMixin(GPConnectBase):
    async def search_slots(
        self,
        start: datetime,
        end: datetime,
        *,
        patient_ref: str,
        appointment_type: AppointmentType | None = None,
        clinician: str | None = None,
        limit: int | None = None,
    ) -> list[Slot]:
        """Free slots in [start, end), in two-week searches; past slots are left out
        because Book an appointment refuses them.

        GP Connect's Slot search has no count, and filters by type and clinician here,
        so `limit` does not shorten it: every slot found is returned.

        The Appointments API is user-restricted: the search is made with the access
        token of `patient_ref`, the patient who would be booked, and of no one else.
        """
        nhs_number = self._nhs_number(patient_ref)
        start = max(start, self._clock.now())
        found: dict[str, Slot] = {}
        window_start = start
        while window_start < end:
            window_end = min(window_start + MAX_SLOT_SEARCH, end)
            for slot in await self._search_window(window_start, window_end, nhs_number):
                found[slot.slot_id] = slot
            if window_end >= end:
                break
            # A search returns slots that start and end inside its range, so a slot
            # across the boundary is in neither window unless the next one overlaps.
            window_start = window_end - SLOT_SEARCH_OVERLAP
        wanted = (clinician or "").casefold()
        return sorted(
            (
                slot
                for slot in found.values()
                if start <= slot.start < end
                and (appointment_type is None or slot.type is appointment_type)
                and (not wanted or wanted in slot.clinician.name.casefold())
            ),
            key=lambda slot: (slot.start, slot.slot_id),
        )

    async def _search_window(self, start: datetime, end: datetime, nhs_number: str) -> list[Slot]:
        params: list[tuple[str, str]] = [
            ("start", f"ge{fhir.wire_instant(start)}"),
            ("end", f"le{fhir.wire_instant(end)}"),
            ("status", "free"),
            *apis.SLOT_INCLUDES,
        ]
        # No `searchFilter`. The appointments document makes it optional and allows only
        # `…/ods-organization-code|A20047` (one example ODS code, a placeholder no
        # consumer could honestly send) or the organisation type `gp-practice`, which a
        # patient's app is not. Sending our own ODS code would be refused by the
        # document, so the search names no booking organisation: the platform knows the
        # patient from the access token, and the booking itself still names us.
        bundle = await self._clients.appointments.send(
            "GET", "Slot", nhs_number=nhs_number, params=params
        )
        with wire_shape():
            return fhir.slots_from_bundle(resource(bundle, "Bundle"))

    async def list_appointments(self, patient_ref: str) -> list[Appointment]:
        """Future appointments only (from today to a year ahead), with their Practitioner and
        Location included: the patient-facing API has no read of either."""
        nhs_number = self._nhs_number(patient_ref)
        first_day = today(self._clock)
        bundle = await self._clients.appointments.send(
            "GET",
            f"Patient/{nhs_number}/Appointment",
            nhs_number=nhs_number,
            params=[
                ("start", f"ge{first_day.isoformat()}"),
                ("start", f"le{(first_day + APPOINTMENT_HORIZON).isoformat()}"),
                *apis.APPOINTMENT_INCLUDES,
            ],
        )
        with wire_shape():
            index = fhir.ResourceIndex.of_bundle(resource(bundle, "Bundle"))
            appointments = [
                fhir.appointment_from_fhir(item, index)
                for item in fhir.bundle_resources(bundle, "Appointment")
            ]
        # Only the patient's own: another patient's entry in the answer is dropped.
        mine = [a for a in appointments if a.patient_ref == nhs_number]
        return sorted(mine, key=lambda a: (a.start, a.appointment_id))

    async def _appointment(
        self, answer: Mapping[str, Any], *, nhs_number: str, correlation_id: str
    ) -> Appointment:
        """Map an Appointment a POST or PUT returned. Where a Practitioner or Location has
        no display, the appointment is read again with them included; display names only,
        so a failed read never turns a booking or cancellation made into an error."""
        index = included_in(answer)
        if any(index.get(actor) is None for actor in fhir.unresolved_participants(answer)):
            try:
                found = await self._clients.appointments.send(
                    "GET",
                    f"Appointment/{answer.get('id')}",
                    nhs_number=nhs_number,
                    params=list(apis.APPOINTMENT_INCLUDES),
                    correlation_id=correlation_id,
                )
            except GPError:
                found = None
            for item in included_resources(found):
                index.add(item)
        with wire_shape():
            return fhir.appointment_from_fhir(answer, index)

    async def book_appointment(self, request: BookingRequest) -> Appointment:
        """POST /Appointment. Its X-Request-ID is kept for the one re-send a refused token
        allows, so that re-send can never book twice."""
        try:
            key = fhir.SlotKey.decode(request.slot_id)
        except fhir.MalformedResource:
            raise NotFoundInGPSystem() from None
        nhs_number = self._nhs_number(request.patient_ref)
        body = fhir.appointment_to_fhir(request, key, self._organisation, self._clock.now())
        correlation_id = str(uuid.uuid4())
        payload = await self._clients.appointments.send(
            "POST",
            "Appointment",
            nhs_number=nhs_number,
            operation=Operation.BOOK,
            body=body,
            correlation_id=correlation_id,
        )
        appointment = await self._appointment(
            resource(payload, "Appointment"), nhs_number=nhs_number, correlation_id=correlation_id
        )
        return _with_booker(appointment, request)

    async def cancel_appointment(
        self, patient_ref: str, appointment_id: str, *, reason_code: str | None, actor_ref: str
    ) -> Appointment:
        """Read, then PUT the specification's cancel body: the appointment as read, with
        `status` cancelled and the cancellation-reason extension (its example)."""
        nhs_number = self._nhs_number(patient_ref)
        correlation_id = str(uuid.uuid4())
        current = resource(
            await self._clients.appointments.send(
                "GET",
                f"Appointment/{appointment_id}",
                nhs_number=nhs_number,
                operation=Operation.CANCEL,
                correlation_id=correlation_id,
            ),
            "Appointment",
        )
        with wire_shape():
            existing = fhir.appointment_from_fhir(current)
        if existing.patient_ref != nhs_number:
            # Another patient's appointment is, for this patient, one that does not exist.
            raise NotFoundInGPSystem()
        if existing.status is not AppointmentStatus.BOOKED:
            raise NotCancellable(supplier_code=f"STATUS {current.get('status')}")
        if existing.start <= self._clock.now():
            # "The consumer SHALL only cancel future appointments."
            raise NotCancellable("Only future appointments can be cancelled online.")
        reason = DEFAULT_CANCELLATION_TEXT + (f" ({reason_code})" if reason_code else "")
        payload = await self._clients.appointments.send(
            "PUT",
            f"Appointment/{appointment_id}",
            nhs_number=nhs_number,
            operation=Operation.CANCEL,
            body=cancellation_body(current, reason),
            correlation_id=correlation_id,
        )
        return await self._appointment(
            resource(payload, "Appointment"), nhs_number=nhs_number, correlation_id=correlation_id
        )

    async def list_cancellation_reasons(self) -> list[CancellationReason]:
        return []


# The cancel body: the specification's example carries exactly these elements of the
# appointment as read (with `status` and the cancellation reason changed).
CANCEL_ELEMENTS = (
    "resourceType",
    "id",
    "meta",
    "status",
    "description",
    "start",
    "end",
    "slot",
    "created",
    "participant",
)


def cancellation_body(current: Mapping[str, Any], reason_text: str) -> dict[str, Any]:
    """PUT /Appointment/{id}: the read appointment's elements of the specification's
    example (`meta.versionId` among them: the version being cancelled), `status`
    cancelled and one AppointmentCancellationReason extension. Extensions other than the
    reason are left out, as the example leaves them; nothing else is changed."""
    body = {name: current[name] for name in CANCEL_ELEMENTS if name in current}
    body["extension"] = [{"url": wire.CANCELLATION_REASON_EXT, "valueString": reason_text}]
    body["status"] = "cancelled"
    return body


def included_resources(answer: Any) -> Iterator[dict[str, Any]]:
    """Resources an Appointment read with `_include:recurse` brings: a searchset Bundle's
    entries, or (as the specification's example shows) participants carrying a
    `resource` in place of an `actor`."""
    if not isinstance(answer, dict):
        return
    if answer.get("resourceType") == "Bundle":
        for entry in answer.get("entry") or []:
            item = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(item, dict) and item.get("resourceType") != "Appointment":
                yield item
        return
    for participant in answer.get("participant") or []:
        item = participant.get("resource") if isinstance(participant, dict) else None
        if isinstance(item, dict) and item.get("resourceType") and item.get("id"):
            yield item


def included_in(answer: Mapping[str, Any]) -> fhir.ResourceIndex:
    index = fhir.ResourceIndex(())
    for item in included_resources(dict(answer)):
        index.add(item)
    return index


def _with_booker(appointment: Appointment, request: BookingRequest) -> Appointment:
    """GP Connect has no element for who booked; keep what the caller told us."""
    return replace(
        appointment,
        booked_by_ref=request.actor_ref,
        telephone_number=request.telephone_number,
    )
