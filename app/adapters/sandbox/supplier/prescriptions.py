"""Repeat prescriptions: courses, requests for them, and the nominated pharmacy."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.adapters.sandbox import tables
from app.adapters.sandbox.profiles import Refusal
from app.adapters.sandbox.supplier.base import SupplierBase
from app.gp.types import (
    Capability,
    Course,
    CourseKind,
    Pharmacy,
    PrescriptionRequest,
    PrescriptionRequestStatus,
)

t = tables


class PrescriptionsMixin(SupplierBase):
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
