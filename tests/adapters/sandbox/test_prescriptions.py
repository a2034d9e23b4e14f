"""Repeat prescriptions and the nominated pharmacy through the port."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from app.adapters.sandbox import SandboxFactory, SandboxGPSystem
from app.gp import errors
from app.gp.types import (
    Capability,
    Course,
    CourseKind,
    NotOrderableReason,
    PrescriptionRequestStatus,
)
from tests.adapters.sandbox.conftest import PersonaLookup


def by_name(courses: list[Course], prefix: str) -> Course:
    return next(course for course in courses if course.name.startswith(prefix))


async def test_courses_and_request_statuses(emis: SandboxGPSystem, persona: PersonaLookup) -> None:
    patient = persona("adult-full", "A81001").patient_ref
    courses = await emis.list_courses(patient)
    assert {c.kind for c in courses} == set(CourseKind)
    requests = await emis.list_prescription_requests(patient)
    statuses = {r.status for r in requests}
    assert statuses >= {"requested", "approved", "rejected", "issued"}
    rejected = next(r for r in requests if r.status is PrescriptionRequestStatus.REJECTED)
    assert rejected.rejection_reason


@pytest.mark.parametrize(
    ("prefix", "reason", "code"),
    [
        ("Amoxicillin", NotOrderableReason.NOT_A_REPEAT, "-1201"),
        ("Atorvastatin", NotOrderableReason.PENDING_REQUEST, "-1202"),
        ("Omeprazole", NotOrderableReason.REVIEW_OVERDUE, "-1203"),
        ("Salbutamol", NotOrderableReason.TOO_SOON, "-1204"),
    ],
)
async def test_not_orderable(
    emis: SandboxGPSystem, persona: PersonaLookup, prefix: str, reason: NotOrderableReason,
    code: str,
) -> None:  # fmt: skip
    patient = persona("adult-full", "A81001").patient_ref
    course = by_name(await emis.list_courses(patient), prefix)
    with pytest.raises(errors.CourseNotOrderable) as refused:
        await emis.request_prescription(patient, [course.course_id], note=None, actor_ref=patient)
    assert (refused.value.reason, refused.value.course_id) == (reason, course.course_id)
    assert refused.value.supplier_code == code


async def test_request_then_pending_then_cancel(
    emis: SandboxGPSystem, persona: PersonaLookup
) -> None:
    patient = persona("adult-full", "A81001").patient_ref
    course = by_name(await emis.list_courses(patient), "Amlodipine")
    request = await emis.request_prescription(
        patient, [course.course_id], note="Running low", actor_ref=patient
    )
    assert (request.status, request.course_ids, request.note) == (
        PrescriptionRequestStatus.REQUESTED, (course.course_id,), "Running low",
    )  # fmt: skip
    with pytest.raises(errors.CourseNotOrderable) as pending:
        await emis.request_prescription(patient, [course.course_id], note=None, actor_ref=patient)
    assert pending.value.supplier_code == "-1202"
    cancelled = await emis.cancel_prescription_request(
        patient, request.request_id, actor_ref=patient
    )
    assert cancelled.status is PrescriptionRequestStatus.CANCELLED
    with pytest.raises(errors.RequestNotCancellable) as again:
        await emis.cancel_prescription_request(patient, request.request_id, actor_ref=patient)
    assert again.value.supplier_code == "-1206"
    with pytest.raises(errors.NotFoundInGPSystem):
        await emis.cancel_prescription_request(patient, "missing", actor_ref=patient)
    assert request.request_id in {
        r.request_id for r in await emis.list_prescription_requests(patient)
    }


async def test_listing_requests_is_the_same_statements_however_long_the_history(
    factory: SandboxFactory, emis: SandboxGPSystem, persona: PersonaLookup
) -> None:
    # Each pooled connection prepares and keeps every distinct statement it runs: a
    # statement whose text grew with the patient's history made a new one per request
    # ordered, and worker memory grew for as long as the soak ran (make soak).
    patient = persona("adult-full", "A81001").patient_ref
    course = by_name(await emis.list_courses(patient), "Amlodipine")
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(args[2])  # (connection, cursor, statement, ...)

    async def listing() -> set[str]:
        statements.clear()
        event.listen(factory.database.engine.sync_engine, "before_cursor_execute", seen)
        try:
            await emis.list_prescription_requests(patient)
        finally:
            event.remove(factory.database.engine.sync_engine, "before_cursor_execute", seen)
        return set(statements)

    before = await listing()
    for _ in range(3):
        ordered = await emis.request_prescription(
            patient, [course.course_id], note="Running low", actor_ref=patient
        )
        await emis.cancel_prescription_request(patient, ordered.request_id, actor_ref=patient)
    assert await listing() == before


async def test_too_many_items(vision: SandboxGPSystem, persona: PersonaLookup) -> None:
    patient = persona("adult-full", "C83003").patient_ref
    ids = [c.course_id for c in await vision.list_courses(patient)]  # seven; the limit is five
    with pytest.raises(errors.TooManyItems) as refused:
        await vision.request_prescription(patient, ids, note=None, actor_ref=patient)
    assert refused.value.supplier_code == "-45"


async def test_carer_orders_for_a_care_home_resident(
    tpp: SandboxGPSystem, persona: PersonaLookup
) -> None:
    carer = persona("carer")
    resident = carer.acts_for[0].patient_ref
    relationship = next(
        r
        for r in await tpp.list_relationships(carer.patient_ref)
        if r.patient.patient_ref == resident
    )
    assert relationship.permissions.prescriptions
    assert not relationship.permissions.appointments
    assert relationship.permissions.record_level == "none"
    courses = await tpp.list_courses(resident)
    request = await tpp.request_prescription(
        resident, [by_name(courses, "Donepezil").course_id], note=None,
        actor_ref=carer.patient_ref,
    )  # fmt: skip
    assert request.requested_by_ref == carer.patient_ref


async def test_nominated_pharmacy(emis: SandboxGPSystem, persona: PersonaLookup) -> None:
    olivia = persona("adult-full", "A81001").patient_ref
    james = persona("proxy-parent").patient_ref
    assert (await emis.get_nominated_pharmacy(olivia)).ods_code == "FAA01"  # type: ignore[union-attr]
    assert await emis.get_nominated_pharmacy(james) is None
    chosen = await emis.set_nominated_pharmacy(james, "fee05", actor_ref=james)
    assert chosen.name == "Online Dispensary"
    assert await emis.get_nominated_pharmacy(james) == chosen
    with pytest.raises(errors.NotFoundInGPSystem) as unknown:
        await emis.set_nominated_pharmacy(james, "FZZ99", actor_ref=james)
    assert unknown.value.supplier_code == "-1104"


async def test_a_system_without_request_cancelling_declares_and_refuses_it(
    emis: SandboxGPSystem, tpp: SandboxGPSystem, persona: PersonaLookup
) -> None:
    assert Capability.CANCEL_PRESCRIPTION_REQUEST in emis.capabilities
    assert Capability.CANCEL_PRESCRIPTION_REQUEST not in tpp.capabilities
    patient = persona("adult-full", "B82002").patient_ref
    with pytest.raises(errors.NotAvailableAtPractice) as refused:
        await tpp.cancel_prescription_request(patient, "any", actor_ref=patient)
    assert refused.value.capability is Capability.CANCEL_PRESCRIPTION_REQUEST
