"""Repeat prescriptions over GP Connect's patient-facing prescriptions API (FHIR R4):
courses as MedicationRequest, requests as Task (order and list; the API has no cancel)."""

from __future__ import annotations

import logging
from typing import Any

from app.adapters.gpconnect import fhir, fhir_prescriptions
from app.adapters.gpconnect.base import GPConnectBase, resource, wire_shape
from app.adapters.gpconnect.outcomes import Operation
from app.gp.errors import (
    CourseNotOrderable,
    GPError,
    GPSystemUnavailable,
    NotAvailableAtPractice,
    NotFoundInGPSystem,
    OrderPartlyPlaced,
)
from app.gp.types import (
    Capability,
    Course,
    CourseKind,
    NotOrderableReason,
    Pharmacy,
    PrescriptionRequest,
)

logger = logging.getLogger(__name__)


class PrescriptionsMixin(GPConnectBase):
    async def list_courses(self, patient_ref: str) -> list[Course]:
        nhs_number = self._nhs_number(patient_ref)
        bundle = await self._clients.prescriptions.send(
            "GET", f"Patient/{nhs_number}/MedicationRequest", nhs_number=nhs_number
        )
        with wire_shape():
            return fhir_prescriptions.courses_from_bundle(
                resource(bundle, "Bundle"), nhs_number=nhs_number
            )

    async def list_prescription_requests(self, patient_ref: str) -> list[PrescriptionRequest]:
        nhs_number = self._nhs_number(patient_ref)
        bundle = await self._clients.prescriptions.send(
            "GET", "Task", nhs_number=nhs_number, params=[("patient", nhs_number)]
        )
        with wire_shape():
            tasks = fhir.bundle_resources(resource(bundle, "Bundle"), "Task")
            return fhir_prescriptions.requests_from_tasks(
                tasks, patient_ref=patient_ref, nhs_number=nhs_number
            )

    async def request_prescription(
        self, patient_ref: str, course_ids: list[str], *, note: str | None, actor_ref: str
    ) -> PrescriptionRequest:
        """POST one Task per course: the API has no batch or transaction. Everything that can
        be checked is checked before the first POST (courses known, repeats only: "request
        the next issue of a repeat prescription"). If a later POST fails, the Tasks already
        made stand (the API defines no cancel) and read back as the patient's requests;
        `OrderPartlyPlaced` carries them."""
        if actor_ref != patient_ref:
            # The patient-facing API's end user is the patient themself (NHS login P9).
            raise NotAvailableAtPractice(
                Capability.PROXY_RELATIONSHIPS, supplier_code="PATIENT_ONLY"
            )
        # The patient's name for the Task's `display`: known since linkage, else read.
        patient = await self._patient(patient_ref)
        wanted = list(dict.fromkeys(course_ids))
        courses = {course.course_id: course for course in await self.list_courses(patient_ref)}
        for course_id in wanted:
            course = courses.get(course_id)
            if course is None:
                raise NotFoundInGPSystem()
            if course.kind is CourseKind.ACUTE:
                raise CourseNotOrderable(NotOrderableReason.NOT_A_REPEAT, course_id=course_id)
        group_id = fhir_prescriptions.new_uuid() if len(wanted) > 1 else None
        correlation_id = fhir_prescriptions.new_uuid()
        authored = self._clock.now()
        display = f"{patient.given_name} {patient.family_name}".strip() or None
        created: list[dict[str, Any]] = []
        for course_id in wanted:
            identifier = fhir_prescriptions.new_uuid()
            task = fhir_prescriptions.order_task(
                course_id,
                nhs_number=patient.nhs_number,
                patient_display=display,
                note=note,
                identifier=identifier,
                group_id=group_id,
                authored=authored,
            )
            try:
                payload = await self._clients.prescriptions.send(
                    "POST",
                    "Task",
                    nhs_number=patient.nhs_number,
                    operation=Operation.ORDER,
                    body=task,
                    # The platform de-duplicates on X-Request-ID: the Task's own UUID, so a
                    # re-send of this very Task can never make a second one.
                    request_id=identifier,
                    correlation_id=correlation_id,
                )
                if not isinstance(payload, dict) or not payload.get("id"):
                    raise GPSystemUnavailable(supplier_code="MALFORMED_RESPONSE")
            except GPError as error:
                if not created:
                    raise
                with wire_shape():
                    (placed,) = fhir_prescriptions.requests_from_tasks(
                        created, patient_ref=patient_ref, nhs_number=patient.nhs_number
                    )
                raise OrderPartlyPlaced(placed, total=len(wanted), cause=error) from None
            if group_id is not None and not payload.get("groupIdentifier"):
                logger.warning("GP Connect did not keep the order's groupIdentifier")
            # What was sent, with what the provider made of it (id, status) on top.
            created.append({**task, **payload})
        with wire_shape():
            (request,) = fhir_prescriptions.requests_from_tasks(
                created, patient_ref=patient_ref, nhs_number=patient.nhs_number
            )
        return request

    async def cancel_prescription_request(
        self, patient_ref: str, request_id: str, *, actor_ref: str
    ) -> PrescriptionRequest:
        """The patient-facing prescriptions API defines no cancel (POST and GET /Task only)."""
        raise NotAvailableAtPractice(
            Capability.CANCEL_PRESCRIPTION_REQUEST, supplier_code="NOT_SUPPORTED"
        )

    async def get_nominated_pharmacy(self, patient_ref: str) -> Pharmacy | None:
        raise NotAvailableAtPractice(Capability.NOMINATED_PHARMACY, supplier_code="NOT_SUPPORTED")

    async def set_nominated_pharmacy(
        self, patient_ref: str, pharmacy_ods_code: str, *, actor_ref: str
    ) -> Pharmacy:
        raise NotAvailableAtPractice(Capability.NOMINATED_PHARMACY, supplier_code="NOT_SUPPORTED")
