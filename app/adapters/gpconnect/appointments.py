"""Appointments over GP Connect Appointment Management 1.2.x (FHIR STU3): search free
slots, book, cancel (PUT with If-Match), list future appointments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from app.adapters.gpconnect import fhir
from app.adapters.gpconnect import interactions as wire
from app.adapters.gpconnect.base import GPConnectBase, resource, wire_shape
from app.adapters.gpconnect.client import ORGANISATION_READ_SCOPE, WRITE_SCOPE
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
        appointment_type: AppointmentType | None = None,
        clinician: str | None = None,
        limit: int | None = None,
    ) -> list[Slot]:
        """Free slots in [start, end), in two-week searches; past slots are left out
        because Book an appointment refuses them.

        GP Connect's Slot search has no count, and filters by type and clinician here,
        so `limit` does not shorten it: every slot found is returned.
        """
        start = max(start, self._clock.now())
        found: dict[str, Slot] = {}
        window_start = start
        while window_start < end:
            window_end = min(window_start + MAX_SLOT_SEARCH, end)
            for slot in await self._search_window(window_start, window_end):
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

    async def _search_window(self, start: datetime, end: datetime) -> list[Slot]:
        bundle = await self._clients.appointments.send(
            "GET",
            "Slot",
            interaction=wire.SEARCH_SLOTS,
            scope=ORGANISATION_READ_SCOPE,
            params=[
                ("start", f"ge{fhir.wire_instant(start)}"),
                ("end", f"le{fhir.wire_instant(end)}"),
                ("status", "free"),
                ("_include", "Slot:schedule"),
                ("_include:recurse", "Schedule:actor:Practitioner"),
                ("_include:recurse", "Schedule:actor:Location"),
                ("searchFilter", f"{wire.ODS_CODE_SYSTEM}|{self._organisation.ods_code}"),
            ],
        )
        with wire_shape():
            return fhir.slots_from_bundle(resource(bundle, "Bundle"))

    async def list_appointments(self, patient_ref: str) -> list[Appointment]:
        """Future appointments only: Retrieve a patient's appointments "has been restricted
        to future appointments" by GP Connect's information governance rules."""
        first_day = today(self._clock)
        bundle = await self._clients.appointments.send(
            "GET",
            f"Patient/{patient_ref}/Appointment",
            interaction=wire.SEARCH_PATIENT_APPOINTMENTS,
            params=[
                ("start", f"ge{first_day.isoformat()}"),
                ("start", f"le{(first_day + APPOINTMENT_HORIZON).isoformat()}"),
            ],
        )
        with wire_shape():
            resources = list(fhir.bundle_resources(resource(bundle, "Bundle"), "Appointment"))
            index = fhir.ResourceIndex.of_bundle(bundle)
        appointments = [await self._appointment(resource, index) for resource in resources]
        return sorted(appointments, key=lambda a: (a.start, a.appointment_id))

    async def _appointment(
        self, resource: Mapping[str, Any], index: fhir.ResourceIndex | None = None
    ) -> Appointment:
        """Map an Appointment, reading Practitioner and Location where it has no display."""
        index = index or fhir.ResourceIndex(())
        for actor in fhir.unresolved_participants(resource):
            if index.get(actor) is not None:
                continue
            for kind, interaction in (
                ("Practitioner", wire.READ_PRACTITIONER),
                ("Location", wire.READ_LOCATION),
            ):
                ident = fhir.ref_id(actor, kind)
                if ident:
                    # Display names only: a failed read must not turn a booking or
                    # cancellation that has already happened into an error.
                    try:
                        found = await self._clients.appointments.send(
                            "GET", f"{kind}/{ident}", interaction=interaction
                        )
                    except GPError:
                        continue
                    if isinstance(found, dict):
                        index.add(found)
        with wire_shape():
            return fhir.appointment_from_fhir(resource, index)

    async def book_appointment(self, request: BookingRequest) -> Appointment:
        try:
            key = fhir.SlotKey.decode(request.slot_id)
        except fhir.MalformedResource:
            raise NotFoundInGPSystem() from None
        body = fhir.appointment_to_fhir(request, key, self._organisation, self._clock.now())
        payload = await self._clients.appointments.send(
            "POST",
            "Appointment",
            interaction=wire.CREATE_APPOINTMENT,
            operation=Operation.BOOK,
            scope=WRITE_SCOPE,
            body=body,
        )
        appointment = await self._appointment(resource(payload, "Appointment"))
        return _with_booker(appointment, request)

    async def cancel_appointment(
        self, patient_ref: str, appointment_id: str, *, reason_code: str | None, actor_ref: str
    ) -> Appointment:
        """Read, then PUT the same resource with status `cancelled`, the cancellation-reason
        extension and `If-Match` of the version read (Cancel an appointment, 1.2.x)."""
        current = resource(
            await self._clients.appointments.send(
                "GET",
                f"Appointment/{appointment_id}",
                interaction=wire.READ_APPOINTMENT,
                operation=Operation.CANCEL,
            ),
            "Appointment",
        )
        with wire_shape():
            existing = fhir.appointment_from_fhir(current)
        if existing.patient_ref != patient_ref:
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
            interaction=wire.CANCEL_APPOINTMENT,
            operation=Operation.CANCEL,
            scope=WRITE_SCOPE,
            body=fhir.cancelled_copy(current, reason),
            extra_headers={"If-Match": fhir.etag(current)},
        )
        return await self._appointment(resource(payload, "Appointment"))

    async def list_cancellation_reasons(self) -> list[CancellationReason]:
        return []


def _with_booker(appointment: Appointment, request: BookingRequest) -> Appointment:
    """GP Connect has no element for who booked; keep what the caller told us."""
    return replace(
        appointment,
        booked_by_ref=request.actor_ref,
        telephone_number=request.telephone_number,
    )
