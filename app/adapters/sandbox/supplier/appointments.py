"""Free slots, booking, cancelling and the practice's cancellation reasons."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.adapters.sandbox import tables
from app.adapters.sandbox.profiles import CancellationReasons, Refusal
from app.adapters.sandbox.supplier.base import SupplierBase
from app.clock import on_englands_clock
from app.gp.types import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    BookingReasonPolicy,
    BookingRequest,
    CancellationReason,
    Clinician,
    Slot,
)

t = tables

# Built once, like the base's statements: building one costs more than running it.
APPOINTMENTS = (
    select(t.appointments)
    .where(t.appointments.c.patient_ref == bindparam("patient_ref"))
    .order_by(t.appointments.c.start)
)
# A practice's free slots in [start, end), earliest first.
FREE_SLOTS = (
    select(t.slots)
    .where(
        t.slots.c.ods_code == bindparam("ods_code"),
        t.slots.c.status == "free",
        t.slots.c.start >= bindparam("start"),
        t.slots.c.start < bindparam("end"),
    )
    .order_by(t.slots.c.start, t.slots.c.slot_id)
)
FIRST_FREE_SLOTS = FREE_SLOTS.limit(bindparam("limit"))


class AppointmentsMixin(SupplierBase):
    @staticmethod
    def _to_slot(row: Row[Any]) -> Slot:
        return Slot(
            slot_id=row.slot_id,
            start=row.start,
            end=row.end,
            type=AppointmentType(row.type),
            clinician=Clinician(name=row.clinician_name, role=row.clinician_role),
            location=row.location,
            session=row.session,
        )

    @staticmethod
    def _to_appointment(row: Row[Any]) -> Appointment:
        return Appointment(
            appointment_id=row.appointment_id,
            patient_ref=row.patient_ref,
            start=row.start,
            end=row.end,
            type=AppointmentType(row.type),
            clinician=Clinician(name=row.clinician_name, role=row.clinician_role),
            location=row.location,
            status=AppointmentStatus(row.status),
            reason=row.reason,
            telephone_number=row.telephone_number,
            booked_by_ref=row.booked_by_ref,
            cancellation_reason=row.cancellation_reason,
            version=str(row.version),
            slot_id=row.slot_id,
        )

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
        # A practice's free slots are the same whoever searches: `patient_ref` is unused.
        window: dict[str, Any] = {
            "ods_code": self.ods_code,
            "start": max(start, self._now()),
            "end": end,
            "limit": limit,
        }
        query = FREE_SLOTS if limit is None else FIRST_FREE_SLOTS
        if appointment_type is not None:
            query = query.where(t.slots.c.type == appointment_type.value)
        if clinician is not None:
            # "Name contains", as the API documents it: "shah" finds "Dr Priya Shah".
            query = query.where(
                t.slots.c.clinician_name.icontains(clinician.strip(), autoescape=True)
            )
        async with self._reader.connect() as connection:
            return [self._to_slot(row) for row in await connection.execute(query, window)]

    async def list_appointments(self, patient_ref: str) -> list[Appointment]:
        async with self._reader.connect() as connection:
            await self._patient(connection, patient_ref)
            rows = await connection.execute(APPOINTMENTS, {"patient_ref": patient_ref})
            return [self._to_appointment(row) for row in rows]

    async def book_appointment(self, request: BookingRequest) -> Appointment:
        now = self._now()
        # Checks that need no lock, read outside the booking's transaction: on SQLite a
        # transaction that reads before it writes can lose its snapshot.
        async with self._reader.connect() as connection:
            practice = await self._practice(connection)
            settings = self._settings(practice)
            if not settings.appointments_enabled:
                self._refuse(Refusal.SERVICE_DISABLED)
            await self._patient(connection, request.patient_ref)
            await self._patient(connection, request.actor_ref)
            slot = (
                await connection.execute(
                    select(t.slots).where(
                        t.slots.c.slot_id == request.slot_id,
                        t.slots.c.ods_code == self.ods_code,
                    )
                )
            ).first()
        if slot is None:
            self._refuse(Refusal.NOT_FOUND)
        if slot.start <= now or slot.start > on_englands_clock(now, settings.booking_window):
            self._refuse(Refusal.OUTSIDE_WINDOW)
        reason = (request.reason or "").strip() or None
        if settings.booking_reason is BookingReasonPolicy.MANDATORY and reason is None:
            self._refuse(Refusal.REASON_REQUIRED)
        if reason is not None and len(reason) > settings.booking_reason_max_length:
            self._refuse(Refusal.REASON_TOO_LONG)
        if not self.profile.stores_booking_reason:
            reason = None  # the system has nowhere to keep it

        appointment_id = f"{self.ods_code}-A-{uuid.uuid4().hex[:12]}"
        async with self._engine.begin() as connection:
            # Take the slot first: exactly one of any concurrent attempts matches
            # `status = 'free'`; the others see rowcount 0 and are refused.
            taken = await connection.execute(
                update(t.slots)
                .where(t.slots.c.slot_id == slot.slot_id, t.slots.c.status == "free")
                .values(status="booked")
            )
            if taken.rowcount != 1:
                self._refuse(Refusal.SLOT_TAKEN)
            await self._lock_patient(connection, request.patient_ref)
            booked = await connection.scalar(
                select(func.count())
                .select_from(t.appointments)
                .where(
                    t.appointments.c.patient_ref == request.patient_ref,
                    t.appointments.c.status == AppointmentStatus.BOOKED.value,
                    t.appointments.c.start > now,
                )
            )
            if (booked or 0) >= settings.max_future_appointments:
                self._refuse(Refusal.BOOKING_LIMIT)  # rolls back: the slot is free again
            values = {
                "appointment_id": appointment_id,
                "ods_code": self.ods_code,
                "patient_ref": request.patient_ref,
                "slot_id": slot.slot_id,
                "start": slot.start,
                "end": slot.end,
                "type": slot.type,
                "clinician_name": slot.clinician_name,
                "clinician_role": slot.clinician_role,
                "location": slot.location,
                "status": AppointmentStatus.BOOKED.value,
                "reason": reason,
                "telephone_number": request.telephone_number,
                "booked_by_ref": request.actor_ref,
                "cancellation_reason": None,
                "version": 1,
            }
            await connection.execute(t.appointments.insert().values(**values))
            booked_row = (
                await connection.execute(
                    select(t.appointments).where(t.appointments.c.appointment_id == appointment_id)
                )
            ).one()
        return self._to_appointment(booked_row)

    async def cancel_appointment(
        self, patient_ref: str, appointment_id: str, *, reason_code: str | None, actor_ref: str
    ) -> Appointment:
        now = self._now()
        async with self._reader.connect() as connection:
            settings = self._settings(await self._practice(connection))
            await self._patient(connection, patient_ref)
            row = (
                await connection.execute(
                    select(t.appointments).where(
                        t.appointments.c.appointment_id == appointment_id,
                        t.appointments.c.patient_ref == patient_ref,
                    )
                )
            ).first()
            reasons = await self._cancellation_reasons(connection)
        if row is None:
            self._refuse(Refusal.NOT_FOUND)
        if row.status != AppointmentStatus.BOOKED.value or row.start <= now:
            self._refuse(Refusal.NOT_CANCELLABLE)
        # TPP-like systems refuse within an hour whatever the practice says
        # (profile.minimum_cancellation_cutoff, folded into the settings).
        if row.start - now < settings.cancellation_cutoff:
            self._refuse(Refusal.TOO_LATE_TO_CANCEL)
        reason_text: str | None = None
        if reason_code is not None and reasons:
            matching = [reason.text for reason in reasons if reason.code == reason_code]
            if not matching:
                self._refuse(Refusal.UNKNOWN_CANCELLATION_REASON)
            reason_text = matching[0]
        async with self._engine.begin() as connection:
            cancelled = await connection.execute(
                update(t.appointments)
                .where(
                    t.appointments.c.appointment_id == appointment_id,
                    t.appointments.c.status == AppointmentStatus.BOOKED.value,
                )
                .values(
                    status=AppointmentStatus.CANCELLED.value,
                    cancellation_reason=reason_text,
                    version=t.appointments.c.version + 1,
                )
            )
            if cancelled.rowcount != 1:
                self._refuse(Refusal.NOT_CANCELLABLE)
            if row.slot_id is not None:
                await connection.execute(
                    update(t.slots).where(t.slots.c.slot_id == row.slot_id).values(status="free")
                )
            updated = (
                await connection.execute(
                    select(t.appointments).where(t.appointments.c.appointment_id == appointment_id)
                )
            ).one()
        return self._to_appointment(updated)

    async def _cancellation_reasons(self, connection: AsyncConnection) -> list[CancellationReason]:
        match self.profile.cancellation_reasons:
            case CancellationReasons.FIXED:
                return list(self.profile.fixed_cancellation_reasons)
            case CancellationReasons.NONE:
                return []
            case CancellationReasons.PRACTICE:
                rows = await connection.execute(
                    select(t.cancellation_reasons)
                    .where(t.cancellation_reasons.c.ods_code == self.ods_code)
                    .order_by(t.cancellation_reasons.c.code)
                )
                return [CancellationReason(code=row.code, text=row.text) for row in rows]

    async def list_cancellation_reasons(self) -> list[CancellationReason]:
        async with self._reader.connect() as connection:
            return await self._cancellation_reasons(connection)
