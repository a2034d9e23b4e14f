"""Repeat prescriptions over GP Connect (FHIR R4): courses as MedicationRequest,
requests as Task (order, list, cancel)."""

from __future__ import annotations

from typing import Any

from app.adapters.gpconnect import fhir, fhir_prescriptions
from app.adapters.gpconnect import interactions as wire
from app.adapters.gpconnect.base import GPConnectBase, resource, wire_shape
from app.adapters.gpconnect.client import WRITE_SCOPE
from app.adapters.gpconnect.outcomes import Operation
from app.gp.errors import (
    CourseNotOrderable,
    GPForbidden,
    GPSystemUnavailable,
    NotAvailableAtPractice,
    NotFoundInGPSystem,
)
from app.gp.types import (
    Capability,
    Course,
    CourseKind,
    NotOrderableReason,
    Pharmacy,
    PrescriptionRequest,
    PrescriptionRequestStatus,
)


class PrescriptionsMixin(GPConnectBase):
    async def list_courses(self, patient_ref: str) -> list[Course]:
        nhs_number = await self._nhs_number(patient_ref)
        bundle = await self._clients.prescriptions.send(
            "GET", f"Patient/{nhs_number}/MedicationRequest", interaction=None
        )
        with wire_shape():
            return fhir_prescriptions.courses_from_bundle(resource(bundle, "Bundle"))

    async def _tasks(self, nhs_number: str) -> list[dict[str, Any]]:
        bundle = await self._clients.prescriptions.send(
            "GET", "Task", interaction=None, params=[("patient", nhs_number)]
        )
        with wire_shape():
            return [
                dict(task) for task in fhir.bundle_resources(resource(bundle, "Bundle"), "Task")
            ]

    async def list_prescription_requests(self, patient_ref: str) -> list[PrescriptionRequest]:
        tasks = await self._tasks(await self._nhs_number(patient_ref))
        with wire_shape():
            return fhir_prescriptions.requests_from_tasks(tasks, patient_ref=patient_ref)

    async def request_prescription(
        self, patient_ref: str, course_ids: list[str], *, note: str | None, actor_ref: str
    ) -> PrescriptionRequest:
        """POST one Task per course. Acute courses are refused before anything is sent:
        only repeat prescriptions can be reordered ("a request for a new issue of a
        repeat prescription", Patient Facing Prescriptions)."""
        nhs_number = await self._nhs_number(patient_ref)
        courses = {course.course_id: course for course in await self.list_courses(patient_ref)}
        for course_id in course_ids:
            course = courses.get(course_id)
            if course is None:
                raise NotFoundInGPSystem()
            if course.kind is CourseKind.ACUTE:
                raise CourseNotOrderable(NotOrderableReason.NOT_A_REPEAT, course_id=course_id)
        request_id = fhir_prescriptions.new_request_id()
        created: list[dict[str, Any]] = []
        for task in fhir_prescriptions.order_tasks(
            patient_ref,
            nhs_number,
            course_ids,
            note=note,
            actor_ref=actor_ref,
            request_id=request_id,
            authored=self._clock.now(),
        ):
            payload = await self._clients.prescriptions.send(
                "POST",
                "Task",
                interaction=None,
                operation=Operation.ORDER,
                scope=WRITE_SCOPE,
                body=task,
            )
            created.append(payload if isinstance(payload, dict) else task)
        with wire_shape():
            (request,) = fhir_prescriptions.requests_from_tasks(created, patient_ref=patient_ref)
        return request

    async def cancel_prescription_request(
        self, patient_ref: str, request_id: str, *, actor_ref: str
    ) -> PrescriptionRequest:
        """PATCH each of the request's Tasks to `cancelled` (only while `requested`)."""
        nhs_number = await self._nhs_number(patient_ref)
        members = [
            t
            for t in await self._tasks(nhs_number)
            if fhir_prescriptions.task_group(t) == request_id
        ]
        if not members:
            raise NotFoundInGPSystem()
        if any(task.get("status") != "requested" for task in members):
            raise GPForbidden(
                "This request is already being dealt with, so it cannot be cancelled online."
            )
        updated: list[dict[str, Any]] = []
        for task in members:
            payload = await self._clients.prescriptions.send(
                "PATCH",
                f"Task/{task['id']}",
                interaction=None,
                operation=Operation.CANCEL_ORDER,
                scope=WRITE_SCOPE,
                body=[{"op": "replace", "path": "/status", "value": "cancelled"}],
                content_type=wire.JSON_PATCH,
            )
            updated.append(
                payload if isinstance(payload, dict) else {**task, "status": "cancelled"}
            )
        with wire_shape():
            (request,) = fhir_prescriptions.requests_from_tasks(updated, patient_ref=patient_ref)
        if request.status is not PrescriptionRequestStatus.CANCELLED:
            raise GPSystemUnavailable(supplier_code="MALFORMED_RESPONSE")
        return request

    async def get_nominated_pharmacy(self, patient_ref: str) -> Pharmacy | None:
        raise NotAvailableAtPractice(Capability.NOMINATED_PHARMACY, supplier_code="NOT_SUPPORTED")

    async def set_nominated_pharmacy(
        self, patient_ref: str, pharmacy_ods_code: str, *, actor_ref: str
    ) -> Pharmacy:
        raise NotAvailableAtPractice(Capability.NOMINATED_PHARMACY, supplier_code="NOT_SUPPORTED")
