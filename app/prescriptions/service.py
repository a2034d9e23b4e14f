"""Repeat prescription rules: what can be ordered now, ordering, cancelling, the pharmacy.

GP online rules (RCGP GP Online Services Toolkit, NHS England guidance): only
repeat courses can be ordered, not acute ones; not while a request for the same
course is pending; not when its medication review is overdue; not sooner than
the practice's re-order interval; at most the practice's number of items in one
request, with a note of bounded length (required where the practice asks).
The GP system enforces its own rules too; checking here first gives patients
the same clear answer whatever the supplier, and keeps the rules where a
supplier does not.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import record_completed
from app.audit.types import AuditAction
from app.clock import Clock
from app.cursors import ListCursors
from app.gp.at_once import both
from app.gp.errors import (
    CourseNotOrderable,
    NotFoundInGPSystem,
    OrderPartlyPlaced,
    RequestNotCancellable,
    TooManyItems,
)
from app.gp.port import require
from app.gp.types import (
    Capability,
    Course,
    CourseKind,
    NotOrderableReason,
    Pharmacy,
    PracticeSettings,
    PrescriptionRequest,
    PrescriptionRequestItem,
    PrescriptionRequestStatus,
)
from app.idempotency.locks import one_at_a_time
from app.patients.ids import IdKind, ShownIds
from app.patients.service import ActingFor
from app.pharmacies.port import PharmacyDirectory
from app.problems import InvalidCursor, Problem, ProblemKind
from app.records.policy import withheld_by_practice

# Acute courses are left out of the list: they can never be ordered online, and the
# patient's full medication history is in the GP record (docs/decisions/0005).
ORDERABLE_KINDS = frozenset({CourseKind.REPEAT, CourseKind.REPEAT_DISPENSING})


class PrescriptionProblem(Problem):
    """A request the service refuses before the GP system is asked."""

    title = "Prescription request not accepted"

    def __init__(self, kind: ProblemKind, detail: str | None = None, **extra: Any) -> None:
        self.status = kind.status
        self.code = kind.code
        super().__init__(detail or kind.detail, extra=extra or None)


def _refused(status: int, code: str, detail: str, **extra: Any) -> ProblemKind:
    return ProblemKind(status, code, PrescriptionProblem.title, detail, extra)


# The codes `PrescriptionProblem` is raised with, named for the OpenAPI document.
NOTE_REQUIRED = _refused(
    422,
    "note_required",
    "Your practice asks for a note with each request, for example if anything has "
    "changed since your last one.",
)
NOTE_TOO_LONG = _refused(422, "note_too_long", "Please keep your note to 500 characters or fewer.")
UNKNOWN_COURSE = _refused(
    422,
    "unknown_course",
    "We could not find some of these medicines in your repeat prescriptions. "
    "Refresh the list and choose again.",
    course_ids=["c-9999"],
)
UNKNOWN_PHARMACY = _refused(
    422,
    "unknown_pharmacy",
    "We could not find a pharmacy with that code. Search for your pharmacy and "
    "choose it from the list.",
)


class RequestedBy(StrEnum):
    """Who asked for a request, as the person reading it would put it."""

    YOU = "you"  # the signed-in user
    PATIENT = "patient"  # the patient themself, when someone else is reading
    PROXY = "proxy"  # someone else acting for the patient


class RequestNotCancellableReason(StrEnum):
    """Why a request cannot be cancelled online, in the words its reader would use."""

    ALREADY_CANCELLED = "already_cancelled"  # by the patient, a proxy or the practice
    NOT_OFFERED_BY_PRACTICE = "not_offered_by_practice"
    ALREADY_PROCESSED = "already_processed"  # approved, rejected or issued


@dataclass(frozen=True, slots=True)
class CourseView:
    course: Course
    not_orderable: NotOrderableReason | None
    orderable_from: date | None  # when `too_soon`: the first day it can be ordered

    @property
    def orderable(self) -> bool:
        return self.not_orderable is None


@dataclass(frozen=True, slots=True)
class RequestView:
    request: PrescriptionRequest
    items: tuple[PrescriptionRequestItem, ...]
    course_names: dict[str, str]
    requested_by: RequestedBy
    not_cancellable: RequestNotCancellableReason | None

    @property
    def cancellable(self) -> bool:
        return self.not_cancellable is None


@dataclass(frozen=True, slots=True)
class RequestPage:
    views: list[RequestView]
    next_cursor: str | None


# --- rules over plain values ------------------------------------------------------------


def withheld_course_ids(courses: list[Course]) -> frozenset[str]:
    """Medicines the practice withheld from the online record (the record's own rule)."""
    return frozenset(course.course_id for course in courses if withheld_by_practice(course))


def without_withheld(
    request: PrescriptionRequest, withheld: frozenset[str]
) -> PrescriptionRequest | None:
    """The request as it may be shown online, or None when it holds only withheld medicines.

    A withheld medicine is named nowhere online: its items are left out, and so is text
    written for the whole request (the note, the practice's reason), which may name it.
    Nothing marks what was left out.
    """
    if withheld.isdisjoint(request.course_ids) and withheld.isdisjoint(
        item.course_id for item in request.items
    ):
        return request
    course_ids = tuple(course_id for course_id in request.course_ids if course_id not in withheld)
    items = tuple(item for item in request.items if item.course_id not in withheld)
    if not course_ids and not items:
        return None
    return replace(request, course_ids=course_ids, items=items, note=None, rejection_reason=None)


def shown_online(
    courses: list[Course], requests: list[PrescriptionRequest], withheld: frozenset[str]
) -> tuple[list[Course], list[PrescriptionRequest]]:
    """The courses and requests without the medicines in `withheld`: a request of only
    those is left out whole, so the list, one request and its cancel answer as if it
    never existed."""
    shown = [course for course in courses if course.course_id not in withheld]
    return shown, [
        view for request in requests if (view := without_withheld(request, withheld)) is not None
    ]


@dataclass(frozen=True, slots=True)
class OnlineView:
    """A patient's courses and requests as shown online: without the medicines the
    practice withheld, and with the ids the API shows (`ShownIds`), never the GP
    system's own, whose sequence would show where something was left out."""

    courses: list[Course]
    requests: list[PrescriptionRequest]
    withheld: frozenset[str]  # GP course ids
    gp_ids: dict[str, str]  # a shown id (course or request) → the GP system's id

    @classmethod
    def of(
        cls, ids: ShownIds, courses: list[Course], requests: list[PrescriptionRequest]
    ) -> OnlineView:
        withheld = withheld_course_ids(courses)
        courses, requests = shown_online(courses, requests, withheld)
        gp_ids: dict[str, str] = {}
        for course in courses:
            gp_ids[ids.of(IdKind.COURSE, course.course_id)] = course.course_id
        for request in requests:
            gp_ids[ids.of(IdKind.PRESCRIPTION_REQUEST, request.request_id)] = request.request_id
        shown_courses = [
            replace(course, course_id=ids.of(IdKind.COURSE, course.course_id)) for course in courses
        ]
        return cls(shown_courses, [shown_request(ids, r) for r in requests], withheld, gp_ids)


def shown_request(ids: ShownIds, request: PrescriptionRequest) -> PrescriptionRequest:
    """A request (already without withheld medicines) with the ids the API shows."""
    return replace(
        request,
        request_id=ids.of(IdKind.PRESCRIPTION_REQUEST, request.request_id),
        course_ids=tuple(ids.of(IdKind.COURSE, c) for c in request.course_ids),
        items=tuple(
            replace(item, course_id=ids.of(IdKind.COURSE, item.course_id)) for item in request.items
        ),
    )


def pending_course_ids(requests: list[PrescriptionRequest]) -> set[str]:
    """Courses with a request the practice has not dealt with yet."""
    return {
        item.course_id
        for request in requests
        for item in items_of(request)
        if item.status is PrescriptionRequestStatus.REQUESTED
    }


def orderability(
    course: Course, practice: PracticeSettings, pending: set[str], today: date
) -> tuple[NotOrderableReason | None, date | None]:
    """Why `course` cannot be ordered today (and from when, if too soon), or (None, None)."""
    if course.kind not in ORDERABLE_KINDS:
        return NotOrderableReason.NOT_A_REPEAT, None
    if course.course_id in pending:
        return NotOrderableReason.PENDING_REQUEST, None
    # Due today is not yet overdue.
    if course.review_due_on is not None and course.review_due_on < today:
        return NotOrderableReason.REVIEW_OVERDUE, None
    if course.last_issued_on is not None:
        earliest = course.last_issued_on + practice.minimum_reorder_interval
        if today < earliest:
            return NotOrderableReason.TOO_SOON, earliest
    return None, None


def check_note(practice: PracticeSettings, note: str | None) -> str | None:
    """The practice's note policy: its maximum length, and whether it asks for one."""
    note = (note or "").strip() or None
    if note is None and practice.prescription_note_required:
        raise PrescriptionProblem(NOTE_REQUIRED)
    if note is not None and len(note) > practice.prescription_note_max_length:
        raise PrescriptionProblem(
            NOTE_TOO_LONG,
            f"Please keep your note to {practice.prescription_note_max_length} characters "
            "or fewer.",
        )
    return note


def items_of(request: PrescriptionRequest) -> tuple[PrescriptionRequestItem, ...]:
    """Each item with its own status where the GP system reports one, else the request's."""
    if request.items:
        return request.items
    return tuple(
        PrescriptionRequestItem(course_id, request.status, request.rejection_reason)
        for course_id in request.course_ids
    )


def _requested_by(acting: ActingFor, request: PrescriptionRequest) -> RequestedBy:
    if request.requested_by_ref == acting.actor_ref:
        return RequestedBy.YOU
    if request.requested_by_ref == acting.patient_ref:
        return RequestedBy.PATIENT
    return RequestedBy.PROXY


def _why_not_cancellable(
    acting: ActingFor, request: PrescriptionRequest
) -> RequestNotCancellableReason | None:
    """A cancelled request says so first: "already processed" would read, to the person
    who just cancelled it, as if the practice had got there before them."""
    if request.status is PrescriptionRequestStatus.CANCELLED:
        return RequestNotCancellableReason.ALREADY_CANCELLED
    if Capability.CANCEL_PRESCRIPTION_REQUEST not in acting.system.capabilities:
        return RequestNotCancellableReason.NOT_OFFERED_BY_PRACTICE
    if request.status is not PrescriptionRequestStatus.REQUESTED:
        return RequestNotCancellableReason.ALREADY_PROCESSED
    return None


def _view(acting: ActingFor, request: PrescriptionRequest, courses: list[Course]) -> RequestView:
    return RequestView(
        request=request,
        items=items_of(request),
        course_names={course.course_id: course.name for course in courses},
        requested_by=_requested_by(acting, request),
        not_cancellable=_why_not_cancellable(acting, request),
    )


# --- courses ---------------------------------------------------------------------------


async def _gp_courses_and_requests(
    acting: ActingFor,
) -> tuple[list[Course], list[PrescriptionRequest]]:
    """As the GP system holds them, withheld medicines included: never shown as they are."""
    # Two reads the GP system answers independently: ask at once.
    return await both(
        acting.system.list_courses(acting.patient_ref),
        acting.system.list_prescription_requests(acting.patient_ref),
    )


async def _courses_and_requests(acting: ActingFor) -> OnlineView:
    """What may be shown online: a medicine the practice withheld is in neither."""
    courses, requests = await _gp_courses_and_requests(acting)
    return OnlineView.of(acting.ids, courses, requests)


async def list_courses(acting: ActingFor, *, today: date) -> list[CourseView]:
    """Repeat and repeat-dispensing courses, each with whether it can be ordered now."""
    online = await _courses_and_requests(acting)
    pending = pending_course_ids(online.requests)
    views = []
    for course in online.courses:
        if course.kind not in ORDERABLE_KINDS:
            continue
        reason, orderable_from = orderability(course, acting.profile.practice, pending, today)
        views.append(CourseView(course, reason, orderable_from))
    return sorted(views, key=lambda view: view.course.name.casefold())


# --- requests ---------------------------------------------------------------------------


async def request_repeats(
    acting: ActingFor,
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    *,
    today: date,
    course_ids: list[str],
    note: str | None,
) -> RequestView:
    """Order repeats of `course_ids`, after every rule has passed for every one of them."""
    practice = acting.profile.practice
    wanted = list(dict.fromkeys(course_ids))
    if len(wanted) > practice.max_prescription_items:
        raise TooManyItems(
            f"Your practice accepts up to {practice.max_prescription_items} medicines in one "
            "request. Please send the rest in another request."
        )
    note = check_note(practice, note)
    # One request at a time per patient: two at once for the same course (different
    # Idempotency-Keys, different workers) cannot both find it not yet pending.
    async with one_at_a_time(sessions, f"prescriptions:{acting.patient_id}"):
        online = await _courses_and_requests(acting)
        by_id = {course.course_id: course for course in online.courses}
        unknown = [course_id for course_id in wanted if course_id not in by_id]
        if unknown:
            raise PrescriptionProblem(
                UNKNOWN_COURSE,
                course_ids=unknown,
            )
        pending = pending_course_ids(online.requests)
        for course_id in wanted:
            reason, orderable_from = orderability(by_id[course_id], practice, pending, today)
            if reason is not None:
                raise CourseNotOrderable(reason, course_id=course_id, orderable_from=orderable_from)
        try:
            placed = await acting.system.request_prescription(
                acting.patient_ref,
                [online.gp_ids[course_id] for course_id in wanted],
                note=note,
                actor_ref=acting.actor_ref,
            )
        except CourseNotOrderable as refused:
            # The GP system names the course by its own id; the patient knows the shown one.
            if refused.course_id is not None:
                refused.course_id = acting.ids.of(IdKind.COURSE, refused.course_id)
            raise
        except OrderPartlyPlaced as partly:
            # What was placed stands: it is audited like any request, then the patient
            # is told what was and was not requested (by the ids they were shown).
            partly.placed = shown_request(acting.ids, partly.placed)
            await record_completed(
                session,
                clock,
                acting.audit_event(AuditAction.PRESCRIPTION_REQUESTED, partly.placed.request_id),
            )
            raise
    created = shown_request(acting.ids, placed)
    await record_completed(
        session, clock, acting.audit_event(AuditAction.PRESCRIPTION_REQUESTED, created.request_id)
    )
    return _view(acting, created, online.courses)


def _sort_key(request: PrescriptionRequest) -> tuple[str, str]:
    return request.requested_at.isoformat(), request.request_id


def page_requests(
    requests: list[PrescriptionRequest], cursors: ListCursors, *, cursor: str | None, limit: int
) -> tuple[list[PrescriptionRequest], str | None]:
    """Newest first; each page starts after the cursor's request, so none is shown twice."""
    ordered = sorted(requests, key=_sort_key, reverse=True)
    if cursor is not None:
        after = cursors.read(cursor)
        if len(after) != 2:
            raise InvalidCursor()
        ordered = [request for request in ordered if _sort_key(request) < after]
    page = ordered[:limit]
    return page, cursors.issue(*_sort_key(page[-1])) if len(ordered) > limit else None


async def list_requests(acting: ActingFor, *, cursor: str | None, limit: int) -> RequestPage:
    online = await _courses_and_requests(acting)
    cursors = acting.cursors("prescription-requests")
    page, next_cursor = page_requests(online.requests, cursors, cursor=cursor, limit=limit)
    return RequestPage([_view(acting, request, online.courses) for request in page], next_cursor)


def _find(requests: list[PrescriptionRequest], request_id: str) -> PrescriptionRequest:
    # Looked up among this patient's own requests: another patient's id is simply not there.
    for request in requests:
        if request.request_id == request_id:
            return request
    raise NotFoundInGPSystem("We could not find this prescription request.")


async def get_request(acting: ActingFor, request_id: str) -> RequestView:
    online = await _courses_and_requests(acting)
    return _view(acting, _find(online.requests, request_id), online.courses)


async def cancel_request(
    acting: ActingFor, session: AsyncSession, clock: Clock, *, request_id: str
) -> RequestView:
    """Withdraw a request the practice has not dealt with yet, where its system allows."""
    require(acting.system, Capability.CANCEL_PRESCRIPTION_REQUEST)
    online = await _courses_and_requests(acting)
    request = _find(online.requests, request_id)
    if request.status is not PrescriptionRequestStatus.REQUESTED:
        raise RequestNotCancellable()
    cancelled = await acting.system.cancel_prescription_request(
        acting.patient_ref, online.gp_ids[request_id], actor_ref=acting.actor_ref
    )
    await record_completed(
        session, clock, acting.audit_event(AuditAction.PRESCRIPTION_REQUEST_CANCELLED, request_id)
    )
    # Shown as it was found: without the medicines the practice withheld.
    shown = without_withheld(cancelled, online.withheld)
    return _view(acting, shown_request(acting.ids, shown) if shown else request, online.courses)


# --- the nominated pharmacy ------------------------------------------------------------------


async def nominated_pharmacy(acting: ActingFor) -> Pharmacy | None:
    require(acting.system, Capability.NOMINATED_PHARMACY)
    return await acting.system.get_nominated_pharmacy(acting.patient_ref)


async def nominate_pharmacy(
    acting: ActingFor,
    session: AsyncSession,
    clock: Clock,
    directory: PharmacyDirectory,
    *,
    ods_code: str,
) -> Pharmacy:
    """Change the nominated pharmacy (the patient only: see `ActingForPharmacyChange`).

    Only a pharmacy the directory lists (one that takes electronic prescriptions) can
    be nominated; the GP system checks the code again.
    """
    require(acting.system, Capability.NOMINATED_PHARMACY)
    ods_code = ods_code.strip().upper()
    if await directory.get(ods_code) is None:
        raise PrescriptionProblem(UNKNOWN_PHARMACY)
    try:
        pharmacy = await acting.system.set_nominated_pharmacy(
            acting.patient_ref, ods_code, actor_ref=acting.actor_ref
        )
    except NotFoundInGPSystem:
        raise PrescriptionProblem(UNKNOWN_PHARMACY) from None
    await record_completed(
        session, clock, acting.audit_event(AuditAction.PHARMACY_NOMINATED, pharmacy.ods_code)
    )
    return pharmacy
