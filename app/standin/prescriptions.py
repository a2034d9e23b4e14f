"""Prescriptions management (FHIR R4, UK Core; built with `fhir.resources` R4B models).

Courses are MedicationRequests with intent `plan` (and, for the last issue, one with
intent `order` based on it); a reorder is one Task per course, focus the course. The
port keeps no Task identifier or group: those the consumer sent are remembered here
(in memory), and otherwise derived from the request's id.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, time
from typing import Any, Final

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.task import Task

from app.clock import LONDON
from app.gp.types import Course, CourseKind, PrescriptionRequest, PrescriptionRequestStatus
from app.standin.calls import Answer, Call, Operation, json_body
from app.standin.outcomes import Refused
from app.standin.specification import API

NHS_NUMBER_SYSTEM: Final = "https://fhir.nhs.uk/Id/nhs-number"
RFC4122: Final = "https://tools.ietf.org/html/rfc4122"
SNOMED: Final = "http://snomed.info/sct"
RENEWAL_OF_PRESCRIPTION: Final = "103742009"
TASK_PROFILE: Final = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Task"
MEDICATION_REQUEST_PROFILE: Final = (
    "https://fhir.hl7.org.uk/StructureDefinition/UKCore-MedicationRequest"
)
COURSE_OF_THERAPY: Final = (
    "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy"
)
REPEAT_INFORMATION: Final = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-MedicationRepeatInformation"
)
ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
KINDS: Final = {
    CourseKind.REPEAT: "continuous",
    CourseKind.REPEAT_DISPENSING: "continuous-repeat-dispensing",
    CourseKind.ACUTE: "acute",
}
TASK_STATUSES: Final = {
    PrescriptionRequestStatus.REQUESTED: "requested",
    PrescriptionRequestStatus.APPROVED: "accepted",
    PrescriptionRequestStatus.REJECTED: "rejected",
    PrescriptionRequestStatus.ISSUED: "completed",
    PrescriptionRequestStatus.CANCELLED: "cancelled",
}
_TASK_NAMESPACE: Final = uuid.UUID("0b6c3f0e-7f4b-4d8e-9a51-6c2d1e7a9b30")


def _patient_reference(nhs_number: str) -> dict[str, Any]:
    return {
        "reference": f"Patient/{nhs_number}",
        "identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs_number},
    }


def _quantity(text: str) -> dict[str, Any] | None:
    found = re.match(r"\s*(\d+(?:\.\d+)?)\s*(.*)$", text)
    if found is None:
        return None
    number = float(found.group(1))
    return {"value": int(number) if number.is_integer() else number, "unit": found.group(2) or None}


def _course_resources(course: Course, nhs_number: str) -> list[MedicationRequest]:
    withheld = course.hidden or course.third_party or course.harmful
    meta: dict[str, Any] = {"profile": [MEDICATION_REQUEST_PROFILE]}
    if withheld:
        meta["security"] = [{"system": ACT_CODE, "code": "NOPAT"}]
    extension = None
    if course.review_due_on is not None:
        extension = [
            {
                "url": REPEAT_INFORMATION,
                "extension": [
                    {"url": "authorisationExpiryDate", "valueDateTime": course.review_due_on}
                ],
            }
        ]
    quantity = _quantity(course.quantity)
    plan = MedicationRequest(
        id=course.course_id,
        meta=meta,
        extension=extension,
        status="active",
        intent="plan",
        medicationCodeableConcept={"text": course.name},
        subject=_patient_reference(nhs_number),
        courseOfTherapyType={"coding": [{"system": COURSE_OF_THERAPY, "code": KINDS[course.kind]}]},
        dosageInstruction=[{"text": course.dosage}] if course.dosage else None,
        dispenseRequest={"quantity": quantity} if quantity else None,
    )
    resources = [plan]
    if course.last_issued_on is not None:
        resources.append(
            MedicationRequest(
                id=f"{course.course_id}-issue",
                meta=meta,
                status="completed",
                intent="order",
                medicationCodeableConcept={"text": course.name},
                subject=_patient_reference(nhs_number),
                basedOn=[{"reference": f"MedicationRequest/{course.course_id}"}],
                authoredOn=datetime.combine(course.last_issued_on, time(), LONDON),
            )
        )
    return resources


async def medication_requests(call: Call) -> Answer:
    registered = await call.patient(call.path_params["id"])
    courses = await registered.system.list_courses(registered.patient.patient_ref)
    intent = call.param("intent")
    resources = [
        resource
        for course in courses
        for resource in _course_resources(course, registered.patient.nhs_number)
        if intent is None or resource.intent == intent
    ]
    entries = [{"resource": resource} for resource in resources]
    bundle = Bundle(type="searchset", total=len(entries), entry=entries or None)
    return Answer(200, json_body(bundle))


def _identifier_key(request_id: str, course_id: str) -> str:
    return f"task-identifier:{request_id}:{course_id}"


def _group_key(request_id: str) -> str:
    return f"task-group:{request_id}"


def _tasks(request: PrescriptionRequest, nhs_number: str, call: Call) -> list[Task]:
    statuses = {item.course_id: item for item in request.items}
    group = call.directory.recall(_group_key(request.request_id))
    tasks = []
    for index, course_id in enumerate(request.course_ids):
        item = statuses.get(course_id)
        status = item.status if item is not None else request.status
        reason = (item.rejection_reason if item is not None else None) or request.rejection_reason
        identifier = call.directory.recall(_identifier_key(request.request_id, course_id)) or str(
            uuid.uuid5(_TASK_NAMESPACE, f"{request.request_id}:{course_id}")
        )
        task_id = (
            request.request_id
            if len(request.course_ids) == 1
            else f"{request.request_id}-{index + 1}"
        )
        tasks.append(
            Task(
                id=task_id,
                meta={"profile": [TASK_PROFILE]},
                identifier=[{"system": RFC4122, "value": identifier}],
                groupIdentifier={"system": RFC4122, "value": group} if group else None,
                status=TASK_STATUSES[status],
                intent="order",
                statusReason={"text": reason}
                if reason and status is PrescriptionRequestStatus.REJECTED
                else None,
                code={
                    "coding": [
                        {
                            "system": SNOMED,
                            "code": RENEWAL_OF_PRESCRIPTION,
                            "display": "Renewal of prescription",
                        }
                    ]
                },
                focus={"reference": f"MedicationRequest/{course_id}"},
                for_fhir=_patient_reference(nhs_number),
                requester=_patient_reference(nhs_number),
                authoredOn=request.requested_at,
                lastModified=request.requested_at,
                note=[{"authorString": "Patient", "text": request.note}] if request.note else None,
            )
        )
    return tasks


async def create_task(call: Call) -> Answer:
    task = call.resource(Task)
    if task.status != "requested" or task.intent != "order" or task.id is not None:
        raise Refused(422, "INVALID_RESOURCE", "A new Task: status requested, intent order")
    focus = (task.focus.reference or "") if task.focus else ""
    if not focus.startswith("MedicationRequest/"):
        raise Refused(422, "INVALID_RESOURCE", "Task.focus must be MedicationRequest/<id>")
    patient = task.for_fhir
    number = (patient.identifier.value if patient and patient.identifier else None) or (
        (patient.reference or "").removeprefix("Patient/") if patient else ""
    )
    registered = await call.patient(number or "")
    course_id = focus.removeprefix("MedicationRequest/")
    note = next((n.text for n in task.note or [] if n.text), None)
    placed = await registered.system.request_prescription(
        registered.patient.patient_ref,
        [course_id],
        note=note,
        actor_ref=registered.patient.patient_ref,
    )
    identifiers = [i.value for i in task.identifier or [] if i.system == RFC4122 and i.value]
    if identifiers:
        call.directory.remember(_identifier_key(placed.request_id, course_id), identifiers[0])
    if task.groupIdentifier is not None and task.groupIdentifier.value:
        call.directory.remember(_group_key(placed.request_id), task.groupIdentifier.value)
    created = _tasks(placed, registered.patient.nhs_number, call)[0]
    return Answer(201, json_body(created))


async def search_tasks(call: Call) -> Answer:
    registered = await call.patient(call.param("patient") or "")
    requests = await registered.system.list_prescription_requests(registered.patient.patient_ref)
    wanted_id, wanted_status = call.param("id"), call.param("status")
    tasks = [
        task
        for request in requests
        for task in _tasks(request, registered.patient.nhs_number, call)
        if (wanted_id is None or task.id == wanted_id)
        and (wanted_status is None or task.status == wanted_status)
    ]
    entries: list[Any] = [{"resource": task} for task in tasks]
    bundle = Bundle(type="searchset", total=len(entries), entry=entries or None)
    return Answer(200, json_body(bundle))


OPERATIONS: Final = (
    Operation(API.PRESCRIPTIONS, "GET", "/Patient/{id}/MedicationRequest", medication_requests),
    Operation(API.PRESCRIPTIONS, "POST", "/Task", create_task),
    Operation(API.PRESCRIPTIONS, "GET", "/Task", search_tasks),
)
