"""The simulated supplier layer: one set of rules for every profile.

It plays the GP system's side: it reads and writes the sandbox tables and
refuses with the supplier's own error code (`SupplierError`). What differs by
supplier comes from the `SupplierProfile` and the practice's stored policy;
nothing here names a supplier.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator
from datetime import date, datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import LargeBinary, bindparam, func, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.adapters.sandbox import tables
from app.adapters.sandbox.profiles import CancellationReasons, Refusal, SupplierProfile
from app.clock import Clock, on_englands_clock, today
from app.db import autocommit
from app.gp.errors import NotAvailableAtPractice
from app.gp.types import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    BookingReasonPolicy,
    BookingRequest,
    CancellationReason,
    Capability,
    Clinician,
    Course,
    CourseKind,
    DemographicMatch,
    Document,
    DocumentContent,
    GPCredentials,
    LinkedUser,
    Patient,
    Permissions,
    Pharmacy,
    PracticeMessage,
    PracticeSettings,
    PrescriptionRequest,
    PrescriptionRequestStatus,
    RecordAccess,
    RecordAccessLevel,
    RecordEntry,
    RecordGrants,
    RecordSection,
    Relationship,
    RelationshipKind,
    ResultValue,
    Slot,
)

t = tables


class SupplierError(Exception):
    """A refusal in the supplier's own words: its error code."""

    def __init__(self, code: str, *, course_id: str | None = None) -> None:
        self.code = code
        self.course_id = course_id
        super().__init__(f"supplier error {code}")


# The statements behind the most frequent calls, built once: building a statement
# costs more CPU than running it, on the event loop the service shares.
PRACTICE = select(t.practices).where(t.practices.c.ods_code == bindparam("ods_code"))
PATIENT = select(t.patients).where(
    t.patients.c.patient_ref == bindparam("patient_ref"),
    t.patients.c.ods_code == bindparam("ods_code"),
)
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
# How much of a document one read takes: what a GP system sends in one piece.
DOCUMENT_CHUNK_BYTES = 64 * 1024


class SimulatedSupplier:
    """One practice's simulated clinical system."""

    def __init__(
        self, engine: AsyncEngine, profile: SupplierProfile, ods_code: str, clock: Clock
    ) -> None:
        self._engine = engine
        # Reads run outside a transaction: one round trip each, not BEGIN, the
        # statement and ROLLBACK. Writes keep their transactions (`_engine.begin()`).
        self._reader = autocommit(engine)
        self.profile = profile
        self.ods_code = ods_code
        self._clock = clock

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.profile.capabilities

    def _refuse(self, refusal: Refusal, *, course_id: str | None = None) -> NoReturn:
        raise SupplierError(self.profile.code(refusal), course_id=course_id)

    def _require(self, capability: Capability) -> None:
        # A system without the feature has no call for it at all.
        if capability not in self.profile.capabilities:
            raise NotAvailableAtPractice(capability, supplier_code="NOT_SUPPORTED")

    # --- reading helpers ------------------------------------------------------

    async def _practice(self, connection: AsyncConnection) -> Row[Any]:
        row = (await connection.execute(PRACTICE, {"ods_code": self.ods_code})).first()
        if row is None:
            self._refuse(Refusal.UNAVAILABLE)
        return row

    async def _patient(self, connection: AsyncConnection, patient_ref: str) -> Row[Any]:
        row = (
            await connection.execute(
                PATIENT, {"patient_ref": patient_ref, "ods_code": self.ods_code}
            )
        ).first()
        if row is None:
            self._refuse(Refusal.PATIENT_NOT_FOUND)
        return row

    async def _lock_patient(self, connection: AsyncConnection, patient_ref: str) -> None:
        """Serialise writes for one patient (booking limit, pending requests).

        A write rather than SELECT … FOR UPDATE so that SQLite, which has no row
        locks, takes its database write lock here too.
        """
        result = await connection.execute(
            update(t.patients)
            .where(t.patients.c.patient_ref == patient_ref, t.patients.c.ods_code == self.ods_code)
            .values(lock_version=t.patients.c.lock_version + 1)
        )
        if result.rowcount != 1:
            self._refuse(Refusal.PATIENT_NOT_FOUND)

    def _now(self) -> datetime:
        return self._clock.now()

    def _today(self) -> date:
        return today(self._clock)

    def _settings(self, practice: Row[Any]) -> PracticeSettings:
        cutoff = max(
            timedelta(minutes=practice.cancellation_cutoff_minutes),
            self.profile.minimum_cancellation_cutoff,
        )
        return PracticeSettings(
            ods_code=practice.ods_code,
            name=practice.name,
            appointments_enabled=practice.appointments_enabled,
            prescriptions_enabled=practice.prescriptions_enabled,
            record_enabled=practice.record_enabled,
            booking_reason=BookingReasonPolicy(practice.booking_reason),
            booking_reason_max_length=practice.booking_reason_max_length,
            max_future_appointments=practice.max_future_appointments,
            booking_window=timedelta(days=practice.booking_window_days),
            default_search_window=timedelta(days=practice.default_search_days),
            cancellation_cutoff=cutoff,
            has_cancellation_reasons=self.profile.cancellation_reasons
            is not CancellationReasons.NONE,
            max_prescription_items=practice.max_prescription_items,
            prescription_note_max_length=practice.prescription_note_max_length,
            minimum_reorder_interval=timedelta(days=practice.minimum_reorder_days),
            prescription_note_required=practice.prescription_note_required,
        )

    # --- linkage and people ---------------------------------------------------

    async def link_by_credentials(self, credentials: GPCredentials) -> LinkedUser:
        if credentials.ods_code.upper() != self.ods_code:
            self._refuse(Refusal.LINKAGE_FAILED)
        async with self._reader.connect() as connection:
            row = (
                await connection.execute(
                    select(t.patients).where(
                        t.patients.c.ods_code == self.ods_code,
                        t.patients.c.gp_user_id == credentials.gp_user_id,
                        t.patients.c.gp_linkage_key == credentials.gp_linkage_key,
                    )
                )
            ).first()
        if row is None:
            self._refuse(Refusal.LINKAGE_FAILED)
        return LinkedUser(
            user_ref=row.patient_ref, ods_code=self.ods_code, nhs_number=row.nhs_number
        )

    async def link_by_demographics(self, match: DemographicMatch) -> LinkedUser:
        if match.ods_code.upper() != self.ods_code:
            self._refuse(Refusal.PATIENT_NOT_FOUND)
        async with self._reader.connect() as connection:
            row = (
                await connection.execute(
                    select(t.patients).where(
                        t.patients.c.ods_code == self.ods_code,
                        t.patients.c.nhs_number == match.nhs_number,
                        func.lower(t.patients.c.family_name) == match.family_name.strip().lower(),
                        t.patients.c.birth_date == match.birth_date,
                    )
                )
            ).first()
        if row is None:
            self._refuse(Refusal.PATIENT_NOT_FOUND)
        return LinkedUser(
            user_ref=row.patient_ref, ods_code=self.ods_code, nhs_number=row.nhs_number
        )

    def _to_patient(self, row: Row[Any]) -> Patient:
        return Patient(
            patient_ref=row.patient_ref,
            nhs_number=row.nhs_number,
            given_name=row.given_name,
            family_name=row.family_name,
            birth_date=row.birth_date,
            ods_code=row.ods_code,
        )

    async def get_patient(self, patient_ref: str) -> Patient:
        async with self._reader.connect() as connection:
            return self._to_patient(await self._patient(connection, patient_ref))

    async def list_relationships(self, user_ref: str) -> list[Relationship]:
        async with self._reader.connect() as connection:
            user = await self._patient(connection, user_ref)
            rows = (
                await connection.execute(
                    select(
                        t.patients,
                        t.relationships.c.kind,
                        t.relationships.c.appointments,
                        t.relationships.c.prescriptions,
                        t.relationships.c.record_level.label("proxy_record_level"),
                        t.relationships.c.record_from,
                        t.relationships.c.record_historic,
                        t.relationships.c.starts_on,
                        t.relationships.c.ends_on,
                        t.relationships.c.review_recorded,
                    )
                    .join(t.patients, t.patients.c.patient_ref == t.relationships.c.patient_ref)
                    .where(t.relationships.c.user_ref == user_ref)
                    .order_by(t.patients.c.patient_ref)
                )
            ).all()
        own = Relationship(
            patient=self._to_patient(user),
            kind=RelationshipKind.SELF,
            permissions=Permissions(
                appointments=True,
                prescriptions=True,
                record_level=self._grants(user).level,
            ),
        )
        return [own] + [
            Relationship(
                patient=self._to_patient(row),
                kind=RelationshipKind(row.kind),
                permissions=Permissions(
                    appointments=row.appointments,
                    prescriptions=row.prescriptions,
                    record_level=RecordAccessLevel(row.proxy_record_level),
                    record_from=row.record_from,
                    record_historic=row.record_historic,
                ),
                starts_on=row.starts_on,
                ends_on=row.ends_on,
                review_recorded=row.review_recorded,
            )
            for row in rows
        ]

    async def get_practice_settings(self) -> PracticeSettings:
        async with self._reader.connect() as connection:
            return self._settings(await self._practice(connection))

    # --- appointments -----------------------------------------------------------

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
        appointment_type: AppointmentType | None = None,
        clinician: str | None = None,
        limit: int | None = None,
    ) -> list[Slot]:
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

    # --- prescriptions ------------------------------------------------------------

    @staticmethod
    def _to_course(row: Row[Any]) -> Course:
        return Course(
            course_id=row.course_id,
            name=row.name,
            dosage=row.dosage,
            quantity=row.quantity,
            kind=CourseKind(row.kind),
            last_issued_on=row.last_issued_on,
            review_due_on=row.review_due_on,
            hidden=row.hidden,
            third_party=row.third_party,
            harmful=row.harmful,
        )

    async def list_courses(self, patient_ref: str) -> list[Course]:
        async with self._reader.connect() as connection:
            await self._patient(connection, patient_ref)
            rows = await connection.execute(
                select(t.courses)
                .where(t.courses.c.patient_ref == patient_ref)
                .order_by(t.courses.c.course_id)
            )
            return [self._to_course(row) for row in rows]

    async def _requests(
        self, connection: AsyncConnection, patient_ref: str, request_id: str | None = None
    ) -> list[PrescriptionRequest]:
        requests = t.prescription_requests
        chosen = [requests.c.patient_ref == patient_ref]
        if request_id is not None:
            chosen.append(requests.c.request_id == request_id)
        rows = (
            await connection.execute(
                select(requests).where(*chosen).order_by(requests.c.requested_at.desc())
            )
        ).all()
        # Their items, found by the same filter rather than by a list of the ids just read:
        # a list's length is part of the statement's text, so each request in a patient's
        # history made a new statement, which every pooled connection prepared and kept.
        items = (
            await connection.execute(
                select(t.prescription_request_items)
                .where(
                    t.prescription_request_items.c.request_id.in_(
                        select(requests.c.request_id).where(*chosen)
                    )
                )
                .order_by(t.prescription_request_items.c.position)
            )
        ).all()
        by_request: dict[str, list[str]] = {}
        for item in items:
            by_request.setdefault(item.request_id, []).append(item.course_id)
        return [
            PrescriptionRequest(
                request_id=row.request_id,
                patient_ref=row.patient_ref,
                course_ids=tuple(by_request.get(row.request_id, ())),
                status=PrescriptionRequestStatus(row.status),
                requested_at=row.requested_at,
                requested_by_ref=row.requested_by_ref,
                note=row.note,
                rejection_reason=row.rejection_reason,
            )
            for row in rows
        ]

    async def list_prescription_requests(self, patient_ref: str) -> list[PrescriptionRequest]:
        async with self._reader.connect() as connection:
            await self._patient(connection, patient_ref)
            return await self._requests(connection, patient_ref)

    async def request_prescription(
        self, patient_ref: str, course_ids: list[str], *, note: str | None, actor_ref: str
    ) -> PrescriptionRequest:
        now = self._now()
        async with self._reader.connect() as connection:
            settings = self._settings(await self._practice(connection))
            await self._patient(connection, actor_ref)
        if not settings.prescriptions_enabled:
            self._refuse(Refusal.SERVICE_DISABLED)
        wanted = list(dict.fromkeys(course_ids))
        if not wanted:
            self._refuse(Refusal.NOT_FOUND)
        if len(wanted) > settings.max_prescription_items:
            self._refuse(Refusal.TOO_MANY_ITEMS)
        note = (note or "").strip() or None
        if note is not None and len(note) > settings.prescription_note_max_length:
            self._refuse(Refusal.NOTE_TOO_LONG)
        request_id = f"{self.ods_code}-R-{uuid.uuid4().hex[:12]}"
        async with self._engine.begin() as connection:
            # Lock first, so two requests for one course cannot both pass "pending".
            await self._lock_patient(connection, patient_ref)
            courses = {
                row.course_id: row
                for row in await connection.execute(
                    select(t.courses).where(
                        t.courses.c.patient_ref == patient_ref, t.courses.c.course_id.in_(wanted)
                    )
                )
            }
            pending = set(
                (
                    await connection.execute(
                        select(t.prescription_request_items.c.course_id)
                        .join(t.prescription_requests)
                        .where(
                            t.prescription_requests.c.patient_ref == patient_ref,
                            t.prescription_requests.c.status
                            == PrescriptionRequestStatus.REQUESTED.value,
                        )
                    )
                ).scalars()
            )
            today_ = self._today()
            for course_id in wanted:
                course = courses.get(course_id)
                if course is None:
                    self._refuse(Refusal.NOT_FOUND, course_id=course_id)
                if course.kind == CourseKind.ACUTE.value:
                    self._refuse(Refusal.NOT_A_REPEAT, course_id=course_id)
                if course_id in pending:
                    self._refuse(Refusal.PENDING_REQUEST, course_id=course_id)
                if course.review_due_on is not None and course.review_due_on < today_:
                    self._refuse(Refusal.REVIEW_OVERDUE, course_id=course_id)
                if (
                    course.last_issued_on is not None
                    and today_ - course.last_issued_on < settings.minimum_reorder_interval
                ):
                    self._refuse(Refusal.TOO_SOON, course_id=course_id)
            await connection.execute(
                t.prescription_requests.insert().values(
                    request_id=request_id,
                    patient_ref=patient_ref,
                    status=PrescriptionRequestStatus.REQUESTED.value,
                    requested_at=now,
                    requested_by_ref=actor_ref,
                    note=note,
                    rejection_reason=None,
                )
            )
            await connection.execute(
                t.prescription_request_items.insert(),
                [
                    {"request_id": request_id, "course_id": course_id, "position": position}
                    for position, course_id in enumerate(wanted)
                ],
            )
        return PrescriptionRequest(
            request_id=request_id,
            patient_ref=patient_ref,
            course_ids=tuple(wanted),
            status=PrescriptionRequestStatus.REQUESTED,
            requested_at=now,
            requested_by_ref=actor_ref,
            note=note,
        )

    async def cancel_prescription_request(
        self, patient_ref: str, request_id: str, *, actor_ref: str
    ) -> PrescriptionRequest:
        self._require(Capability.CANCEL_PRESCRIPTION_REQUEST)
        async with self._engine.begin() as connection:
            await self._lock_patient(connection, patient_ref)
            found = await self._requests(connection, patient_ref, request_id)
            if not found:
                self._refuse(Refusal.NOT_FOUND)
            changed = await connection.execute(
                update(t.prescription_requests)
                .where(
                    t.prescription_requests.c.request_id == request_id,
                    t.prescription_requests.c.status == PrescriptionRequestStatus.REQUESTED.value,
                )
                .values(status=PrescriptionRequestStatus.CANCELLED.value)
            )
            if changed.rowcount != 1:
                self._refuse(Refusal.REQUEST_NOT_CANCELLABLE)
            return (await self._requests(connection, patient_ref, request_id))[0]

    async def get_nominated_pharmacy(self, patient_ref: str) -> Pharmacy | None:
        async with self._reader.connect() as connection:
            patient = await self._patient(connection, patient_ref)
            if patient.nominated_pharmacy is None:
                return None
            row = (
                await connection.execute(
                    select(t.pharmacies).where(
                        t.pharmacies.c.ods_code == patient.nominated_pharmacy
                    )
                )
            ).one()
        return Pharmacy(ods_code=row.ods_code, name=row.name, address=row.address)

    async def set_nominated_pharmacy(
        self, patient_ref: str, pharmacy_ods_code: str, *, actor_ref: str
    ) -> Pharmacy:
        async with self._engine.begin() as connection:
            row = (
                await connection.execute(
                    select(t.pharmacies).where(
                        t.pharmacies.c.ods_code == pharmacy_ods_code.strip().upper()
                    )
                )
            ).first()
            if row is None:
                self._refuse(Refusal.NOT_FOUND)
            await self._lock_patient(connection, patient_ref)
            await connection.execute(
                update(t.patients)
                .where(t.patients.c.patient_ref == patient_ref)
                .values(nominated_pharmacy=row.ods_code)
            )
        return Pharmacy(ods_code=row.ods_code, name=row.name, address=row.address)

    # --- the record -------------------------------------------------------------

    async def get_record_access(self, patient_ref: str) -> RecordAccess:
        async with self._reader.connect() as connection:
            patient = await self._patient(connection, patient_ref)
        return RecordAccess(
            grants=self._grants(patient),
            declined=patient.declined,
            enhanced_review=patient.enhanced_review,
        )

    @staticmethod
    def _grants(patient: Row[Any]) -> RecordGrants:
        return RecordGrants(
            summary=patient.record_summary,
            detailed_coded=patient.record_detailed_coded,
            full_from=patient.prospective_from,
            historic=patient.historic_access,
        )

    async def _check_section(
        self, connection: AsyncConnection, patient_ref: str, section: RecordSection
    ) -> None:
        patient = await self._patient(connection, patient_ref)
        if section.value in patient.unavailable_sections.split():
            self._refuse(Refusal.SECTION_UNAVAILABLE)

    async def list_record_entries(
        self, patient_ref: str, section: RecordSection
    ) -> list[RecordEntry]:
        async with self._reader.connect() as connection:
            await self._check_section(connection, patient_ref, section)
            rows = await connection.execute(
                select(t.record_entries)
                .where(
                    t.record_entries.c.patient_ref == patient_ref,
                    t.record_entries.c.section == section.value,
                )
                .order_by(t.record_entries.c.recorded_on.desc(), t.record_entries.c.entry_id)
            )
            return [
                RecordEntry(
                    entry_id=row.entry_id,
                    section=RecordSection(row.section),
                    recorded_on=row.recorded_on,
                    term=row.term,
                    code=row.code,
                    detail=row.detail,
                    result=None
                    if row.result_text is None
                    else ResultValue(
                        text=row.result_text,
                        number=row.result_number,
                        unit=row.result_unit,
                        range_low=row.range_low,
                        range_high=row.range_high,
                        range_text=row.range_text,
                    ),
                    hidden=row.hidden,
                    third_party=row.third_party,
                    harmful=row.harmful,
                    filed=row.filed,
                )
                for row in rows
            ]

    async def list_documents(self, patient_ref: str) -> list[Document]:
        async with self._reader.connect() as connection:
            await self._check_section(connection, patient_ref, RecordSection.DOCUMENTS)
            rows = await connection.execute(
                select(
                    t.documents.c.document_id,
                    t.documents.c.title,
                    t.documents.c.recorded_on,
                    t.documents.c.content_type,
                    t.documents.c.hidden,
                    t.documents.c.third_party,
                    t.documents.c.harmful,
                    func.length(t.documents.c.data).label("size_bytes"),
                )
                .where(t.documents.c.patient_ref == patient_ref)
                .order_by(t.documents.c.recorded_on.desc(), t.documents.c.document_id)
            )
            return [
                Document(
                    document_id=row.document_id,
                    title=row.title,
                    recorded_on=row.recorded_on,
                    content_type=row.content_type,
                    hidden=row.hidden,
                    third_party=row.third_party,
                    harmful=row.harmful,
                    size_bytes=row.size_bytes,
                )
                for row in rows
            ]

    async def get_document_content(self, patient_ref: str, document_id: str) -> DocumentContent:
        async with self._reader.connect() as connection:
            await self._patient(connection, patient_ref)
            row = (
                await connection.execute(
                    select(
                        t.documents.c.content_type,
                        func.length(t.documents.c.data).label("size_bytes"),
                    ).where(
                        t.documents.c.document_id == document_id,
                        t.documents.c.patient_ref == patient_ref,
                    )
                )
            ).first()
        if row is None:
            self._refuse(Refusal.NOT_FOUND)
        return DocumentContent(
            content_type=row.content_type,
            chunks=self._document_chunks(patient_ref, document_id),
            size_bytes=row.size_bytes,
        )

    async def _document_chunks(
        self, patient_ref: str, document_id: str
    ) -> AsyncGenerator[bytes, None]:
        """The stored bytes one slice per read, as a GP system sends a file: the whole
        document is never in memory at once."""
        start = 1  # SQL counts from 1
        while True:
            async with self._reader.connect() as connection:
                piece = await connection.scalar(
                    select(
                        func.substr(
                            t.documents.c.data, start, DOCUMENT_CHUNK_BYTES, type_=LargeBinary
                        )
                    ).where(
                        t.documents.c.document_id == document_id,
                        t.documents.c.patient_ref == patient_ref,
                    )
                )
            if piece is None:
                self._refuse(Refusal.NOT_FOUND)  # removed while it was being read
            if piece:
                yield bytes(piece)
            if len(piece) < DOCUMENT_CHUNK_BYTES:
                return
            start += len(piece)

    # --- messages -------------------------------------------------------------------

    async def send_message(self, patient_ref: str, message: PracticeMessage) -> str:
        message_id = f"{self.ods_code}-M-{uuid.uuid4().hex[:12]}"
        async with self._engine.begin() as connection:
            await self._patient(connection, patient_ref)
            await connection.execute(
                t.messages.insert().values(
                    message_id=message_id,
                    ods_code=self.ods_code,
                    patient_ref=patient_ref,
                    kind=message.kind.value,
                    subject=message.subject,
                    body=message.body,
                    actor_ref=message.actor_ref,
                    attributes=json.dumps(message.attributes, sort_keys=True),
                    received_at=self._now(),
                )
            )
        return message_id
