"""GP Connect patient-facing prescriptions (FHIR R4, UK Core) resources ↔ domain types:
courses as MedicationRequest, requests as Task (pure functions, no I/O).

Shapes follow the examples of the API's OpenAPI specification (GET
/Patient/{NHS number}/MedicationRequest, POST /Task, GET /Task?patient=)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime

from app.adapters.gpconnect import interactions as wire
from app.adapters.gpconnect.fhir import (
    JSON,
    Resource,
    _first,
    bundle_resources,
    concept_text,
    extension,
    fhir_date,
    instant,
    ref_id,
)

# The patient-facing prescriptions API defines no use of security labels: a provider is
# expected to leave confidential items out, as the structured record does (with its
# `confidential-items` warning). Where one is sent labelled all the same, it is withheld,
# failing closed, by the Access Record's rule for documents.
from app.adapters.gpconnect.fhir_documents import withheld_from_patient
from app.gp.types import (
    Course,
    CourseKind,
    PrescriptionRequest,
    PrescriptionRequestStatus,
)

_COURSE_KINDS = {
    "acute": CourseKind.ACUTE,
    "continuous": CourseKind.REPEAT,
    "continuous-repeat-dispensing": CourseKind.REPEAT_DISPENSING,
}
_ISSUE_INTENTS = frozenset({"order", "original-order", "instance-order", "reflex-order"})


def course_kind(resource: JSON) -> CourseKind:
    """courseOfTherapyType: acute | continuous (repeat) | continuous-repeat-dispensing.
    Anything else counts as acute, so that it is never orderable by mistake."""
    for coding in (resource.get("courseOfTherapyType") or {}).get("coding") or []:
        kind = _COURSE_KINDS.get(str(coding.get("code")))
        if kind is not None:
            return kind
    return CourseKind.ACUTE


def _quantity(resource: JSON) -> str:
    quantity = (resource.get("dispenseRequest") or {}).get("quantity") or {}
    value = quantity.get("value")
    if value is None:
        return ""
    number = f"{value:g}" if isinstance(value, float) else str(value)
    unit = quantity.get("unit") or quantity.get("code") or ""
    return f"{number} {unit}".strip()


def _review_due(resource: JSON) -> date | None:
    repeat = extension(resource, wire.REPEAT_INFORMATION_EXT)
    for item in (repeat or {}).get("extension") or []:
        if item.get("url") == "authorisationExpiryDate":
            return fhir_date(item.get("valueDateTime") or item.get("valueDate"))
    return None


def courses_from_bundle(bundle: JSON, *, nhs_number: str) -> list[Course]:
    """Authorised courses (`intent` plan) with the latest issue (`intent` order, basedOn).
    Only the patient's own: a MedicationRequest whose `subject` is someone else is dropped.
    A course is hidden when the provider labelled it, or any issue of it, not for the
    patient (`withheld_from_patient`)."""
    requests = [
        r
        for r in bundle_resources(bundle, "MedicationRequest")
        if names_patient(r.get("subject"), nhs_number)
    ]
    last_issue: dict[str, date] = {}
    labelled_plans: set[str] = set()
    for issue in requests:
        if issue.get("intent") not in _ISSUE_INTENTS:
            continue
        issued = fhir_date(issue.get("authoredOn"))
        for based_on in issue.get("basedOn") or []:
            plan_id = ref_id(based_on, "MedicationRequest")
            if plan_id and withheld_from_patient(issue):
                labelled_plans.add(plan_id)
            if plan_id and issued and (plan_id not in last_issue or issued > last_issue[plan_id]):
                last_issue[plan_id] = issued
    courses = []
    for plan in requests:
        if plan.get("intent") != "plan" or plan.get("status") != "active" or not plan.get("id"):
            continue
        dosage = _first(plan.get("dosageInstruction")) or {}
        courses.append(
            Course(
                course_id=str(plan["id"]),
                name=concept_text(plan.get("medicationCodeableConcept"))
                or str((plan.get("medicationReference") or {}).get("display") or ""),
                dosage=str(dosage.get("text") or ""),
                quantity=_quantity(plan),
                kind=course_kind(plan),
                last_issued_on=last_issue.get(str(plan["id"])),
                review_due_on=_review_due(plan),
                hidden=withheld_from_patient(plan) or str(plan["id"]) in labelled_plans,
                # GP Connect carries no third-party or harmful flags: a provider leaves
                # such items out itself.
                third_party=False,
                harmful=False,
            )
        )
    return courses


_TASK_STATUS = {
    "requested": PrescriptionRequestStatus.REQUESTED,
    "received": PrescriptionRequestStatus.REQUESTED,
    "accepted": PrescriptionRequestStatus.APPROVED,
    "in-progress": PrescriptionRequestStatus.APPROVED,
    "ready": PrescriptionRequestStatus.APPROVED,
    "on-hold": PrescriptionRequestStatus.REQUESTED,
    "completed": PrescriptionRequestStatus.ISSUED,
    "rejected": PrescriptionRequestStatus.REJECTED,
    "failed": PrescriptionRequestStatus.REJECTED,
    "cancelled": PrescriptionRequestStatus.CANCELLED,
    "entered-in-error": PrescriptionRequestStatus.CANCELLED,
}
PENDING_TASK_STATUSES = frozenset({"requested", "received", "accepted", "in-progress", "on-hold"})


def task_group(task: JSON) -> str:
    """The request a Task belongs to: the order's groupIdentifier when it has one (several
    courses ordered together), else the Task itself (one course, as the API models it)."""
    group = (task.get("groupIdentifier") or {}).get("value")
    identifiers = task.get("identifier") or [{}]
    return str(group or task.get("id") or identifiers[0].get("value"))


def new_uuid() -> str:
    return str(uuid.uuid4())


def names_patient(reference: JSON | None, nhs_number: str) -> bool:
    """Whether a Reference is the patient: the API names them by NHS number, as
    `Patient/<NHS number>` and an `nhs-number` identifier."""
    if not reference:
        return False
    identifier = reference.get("identifier") or {}
    if identifier.get("system") == wire.NHS_NUMBER_SYSTEM:
        return identifier.get("value") == nhs_number
    return ref_id(reference, "Patient") == nhs_number


def _patient_reference(nhs_number: str, display: str | None) -> Resource:
    reference: Resource = {
        "reference": f"Patient/{nhs_number}",
        "identifier": {"system": wire.NHS_NUMBER_SYSTEM, "value": nhs_number},
    }
    if display:
        reference["display"] = display
    return reference


def _fhir_instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def order_task(
    course_id: str,
    *,
    nhs_number: str,
    patient_display: str | None,
    note: str | None,
    identifier: str,
    group_id: str | None,
    authored: datetime,
) -> Resource:
    """The POST /Task body for one course, as the specification's example shows it: UK
    Core Task, a UUID identifier, `code` "Renewal of prescription", `focus` the course
    (MedicationRequest, intent plan), `for` and `requester` the patient by NHS number, the
    note authored by the Patient. `group_id` (Task.groupIdentifier) ties together the
    Tasks of one order of several courses; a single course needs none."""
    task: Resource = {
        "resourceType": "Task",
        "meta": {"profile": [wire.UK_CORE_TASK_PROFILE]},
        "identifier": [{"system": wire.RFC4122_SYSTEM, "value": identifier}],
        "status": "requested",
        "intent": "order",
        "code": {
            "coding": [
                {
                    "system": wire.SNOMED_SYSTEM,
                    "code": wire.RENEWAL_OF_PRESCRIPTION,
                    "display": "Renewal of prescription",
                }
            ]
        },
        "focus": {"reference": f"MedicationRequest/{course_id}"},
        "for": _patient_reference(nhs_number, patient_display),
        "authoredOn": _fhir_instant(authored),
        "lastModified": _fhir_instant(authored),
        "requester": _patient_reference(nhs_number, patient_display),
    }
    if group_id is not None:
        task["groupIdentifier"] = {"system": wire.RFC4122_SYSTEM, "value": group_id}
    if note:
        task["note"] = [{"authorString": "Patient", "text": note}]
    return task


def patient_tasks(tasks: Iterable[JSON], nhs_number: str) -> list[JSON]:
    """Only Tasks whose `for` names this patient: another patient's request is never shown,
    whatever the search returned."""
    return [task for task in tasks if names_patient(task.get("for"), nhs_number)]


def _requested_by(task: JSON, *, patient_ref: str, nhs_number: str) -> str:
    """The patient's own requests are theirs (`requester` is them by NHS number); anyone
    else (practice staff ordering for them) keeps the provider's reference."""
    requester = task.get("requester")
    if names_patient(requester, nhs_number):
        return patient_ref
    identifier = (requester or {}).get("identifier") or {}
    return ref_id(requester) or str(identifier.get("value") or "practice")


def requests_from_tasks(
    tasks: Iterable[JSON], *, patient_ref: str, nhs_number: str
) -> list[PrescriptionRequest]:
    """The patient's Tasks grouped into the port's prescription requests, newest first.
    A Task the provider labelled not for the patient is left out (the port's requests carry
    no flags): it names a medicine withheld from them (`withheld_from_patient`)."""
    groups: dict[str, list[JSON]] = {}
    for task in patient_tasks(tasks, nhs_number):
        if withheld_from_patient(task):
            continue
        groups.setdefault(task_group(task), []).append(task)
    requests = []
    for group_id, members in groups.items():
        first = members[0]
        statuses = {str(task.get("status")) for task in members}
        requests.append(
            PrescriptionRequest(
                request_id=group_id,
                patient_ref=patient_ref,
                course_ids=tuple(
                    course for task in members if (course := ref_id(task.get("focus")))
                ),
                status=_group_status(statuses),
                requested_at=instant(str(first.get("authoredOn"))),
                requested_by_ref=_requested_by(
                    first, patient_ref=patient_ref, nhs_number=nhs_number
                ),
                note=next(
                    (n.get("text") for task in members for n in task.get("note") or []), None
                ),
                rejection_reason=next(
                    (
                        concept_text(task.get("statusReason"))
                        for task in members
                        if task.get("status") in ("rejected", "failed")
                    ),
                    None,
                ),
            )
        )
    return sorted(requests, key=lambda r: r.requested_at, reverse=True)


def _group_status(statuses: set[str]) -> PrescriptionRequestStatus:
    """One status for a request whose courses may be at different stages: the least
    advanced wins, so a request never looks done while a course is still pending."""
    order = [
        PrescriptionRequestStatus.REQUESTED,
        PrescriptionRequestStatus.APPROVED,
        PrescriptionRequestStatus.REJECTED,
        PrescriptionRequestStatus.ISSUED,
        PrescriptionRequestStatus.CANCELLED,
    ]
    mapped = {_TASK_STATUS.get(s, PrescriptionRequestStatus.REQUESTED) for s in statuses}
    return min(mapped, key=order.index)


def pending_courses(tasks: Iterable[JSON]) -> set[str]:
    return {
        course
        for task in tasks
        if task.get("status") in PENDING_TASK_STATUSES and (course := ref_id(task.get("focus")))
    }
