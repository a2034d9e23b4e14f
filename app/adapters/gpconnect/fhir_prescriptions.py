"""Patient Facing Prescriptions (FHIR R4, UK Core) resources ↔ domain types: courses as
MedicationRequest, requests as Task (pure functions, no I/O)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
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


def courses_from_bundle(bundle: JSON) -> list[Course]:
    """Authorised courses (`intent` plan) with the latest issue (`intent` order, basedOn)."""
    requests = list(bundle_resources(bundle, "MedicationRequest"))
    last_issue: dict[str, date] = {}
    for issue in requests:
        if issue.get("intent") not in _ISSUE_INTENTS:
            continue
        issued = fhir_date(issue.get("authoredOn"))
        for based_on in issue.get("basedOn") or []:
            plan_id = ref_id(based_on, "MedicationRequest")
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
    """The request a Task belongs to: its groupIdentifier (one Task per course), else itself."""
    group = (task.get("groupIdentifier") or {}).get("value")
    return str(group or task.get("id"))


def new_request_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def order_tasks(
    patient_ref: str,
    nhs_number: str,
    course_ids: Sequence[str],
    *,
    note: str | None,
    actor_ref: str,
    request_id: str,
    authored: datetime,
) -> list[Resource]:
    """POST /Task bodies: one per course, `focus` → the course (MedicationRequest, intent
    plan), sharing a groupIdentifier so that they read back as one request."""
    requester_type = "Patient" if actor_ref == patient_ref else "RelatedPerson"
    tasks = []
    for course_id in course_ids:
        task: Resource = {
            "resourceType": "Task",
            "groupIdentifier": {"system": wire.REQUEST_GROUP_SYSTEM, "value": request_id},
            "status": "requested",
            "intent": "order",
            "focus": {"reference": f"MedicationRequest/{course_id}"},
            "for": {"identifier": {"system": wire.NHS_NUMBER_SYSTEM, "value": nhs_number}},
            "authoredOn": authored.astimezone(UTC).isoformat(timespec="seconds"),
            "requester": {"reference": f"{requester_type}/{actor_ref}"},
        }
        if note:
            task["note"] = [{"text": note}]
        tasks.append(task)
    return tasks


def requests_from_tasks(tasks: Iterable[JSON], *, patient_ref: str) -> list[PrescriptionRequest]:
    """Tasks grouped into the port's prescription requests, newest first."""
    groups: dict[str, list[JSON]] = {}
    for task in tasks:
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
                requested_by_ref=ref_id(first.get("requester")) or patient_ref,
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
