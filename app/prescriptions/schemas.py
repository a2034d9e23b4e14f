from __future__ import annotations

from datetime import date, datetime

from fastapi.openapi.models import Example
from pydantic import Field

from app.gp.errors import CourseNotOrderable
from app.gp.types import CourseKind, NotOrderableReason, Pharmacy, PrescriptionRequestStatus
from app.prescriptions.service import (
    CourseView,
    RequestedBy,
    RequestNotCancellableReason,
    RequestView,
)
from app.schemas import RequestBody, ResponseBody

COURSE_ID = Field(min_length=1, max_length=128)
MAX_COURSES_PER_REQUEST = 50  # far above any practice's limit; the practice's is checked too


class CourseOut(ResponseBody):
    course_id: str = Field(description="Pass this back to order the medicine.")
    name: str = Field(examples=["Amlodipine 5mg tablets"])
    dosage: str = Field(examples=["One tablet daily"])
    quantity: str = Field(examples=["28 tablets"])
    kind: CourseKind = Field(description="`repeat` or `repeat_dispensing`.")
    last_issued_on: date | None
    review_due_on: date | None = Field(description="When the medication review is due.")
    orderable: bool = Field(description="Whether it can be ordered now.")
    reason: NotOrderableReason | None = Field(
        default=None, description="Why it cannot be ordered now, when it cannot."
    )
    reason_detail: str | None = Field(
        default=None, description="The same, in words a patient can act on."
    )
    orderable_from: date | None = Field(
        default=None, description="When `too_soon`: the first day it can be ordered."
    )

    @classmethod
    def of(cls, view: CourseView) -> CourseOut:
        c = view.course
        detail = None
        if view.not_orderable is not None:
            detail = CourseNotOrderable(
                view.not_orderable, orderable_from=view.orderable_from
            ).detail
        return cls(
            course_id=c.course_id,
            name=c.name,
            dosage=c.dosage,
            quantity=c.quantity,
            kind=c.kind,
            last_issued_on=c.last_issued_on,
            review_due_on=c.review_due_on,
            orderable=view.orderable,
            reason=view.not_orderable,
            reason_detail=detail,
            orderable_from=view.orderable_from,
        )


class CourseList(ResponseBody):
    items: list[CourseOut] = Field(
        description="Repeat and repeat-dispensing medicines, by name. One-off (acute) "
        "medicines cannot be ordered online and are not listed; they are in the GP record."
    )


class PrescriptionRequestIn(RequestBody):
    course_ids: list[str] = Field(
        min_length=1,
        max_length=MAX_COURSES_PER_REQUEST,
        description="The medicines to order, from `GET …/prescriptions/courses`. The "
        "practice's own maximum (`max_prescription_items` in `GET …/practice`) applies.",
    )
    note: str | None = Field(
        default=None,
        max_length=2000,
        description="A note to the practice. Its maximum length, and whether it is asked "
        "for, are in `GET …/practice`.",
    )


class RequestItemOut(ResponseBody):
    course_id: str
    name: str | None = Field(description="The medicine, while it is on the repeat list.")
    status: PrescriptionRequestStatus
    rejection_reason: str | None = Field(
        default=None, description="The practice's reason, when it rejected this medicine."
    )


class PrescriptionRequestOut(ResponseBody):
    request_id: str
    requested_at: datetime
    status: PrescriptionRequestStatus = Field(description="The request as a whole.")
    items: list[RequestItemOut]
    note: str | None
    rejection_reason: str | None = None
    requested_by: RequestedBy = Field(
        description="`you`; `patient` (the patient themself); or `proxy` (someone else "
        "acting for them)."
    )
    cancellable: bool
    not_cancellable_reason: RequestNotCancellableReason | None = Field(
        default=None,
        description="Why `cancellable` is false: `already_cancelled`; "
        "`not_offered_by_practice` (the practice's system cannot withdraw a request online: "
        "contact the practice); or `already_processed` (the practice has approved, rejected "
        "or issued it).",
    )

    @classmethod
    def of(cls, view: RequestView) -> PrescriptionRequestOut:
        r = view.request
        return cls(
            request_id=r.request_id,
            requested_at=r.requested_at,
            status=r.status,
            items=[
                RequestItemOut(
                    course_id=item.course_id,
                    name=view.course_names.get(item.course_id),
                    status=item.status,
                    rejection_reason=item.rejection_reason,
                )
                for item in view.items
            ],
            note=r.note,
            rejection_reason=r.rejection_reason,
            requested_by=view.requested_by,
            cancellable=view.cancellable,
            not_cancellable_reason=view.not_cancellable,
        )


class PrescriptionRequestList(ResponseBody):
    items: list[PrescriptionRequestOut] = Field(description="Newest first.")
    next_cursor: str | None = Field(
        description="More requests follow: pass this as `cursor` for the next page."
    )


class NominatedPharmacyOut(ResponseBody):
    ods_code: str = Field(examples=["FAA01"])
    name: str
    address: str

    @classmethod
    def of(cls, pharmacy: Pharmacy) -> NominatedPharmacyOut:
        return cls(ods_code=pharmacy.ods_code, name=pharmacy.name, address=pharmacy.address)


class NominatedPharmacy(ResponseBody):
    pharmacy: NominatedPharmacyOut | None = Field(
        description="Where the patient's prescriptions are sent; none when not nominated."
    )


class NominationIn(RequestBody):
    ods_code: str = Field(
        pattern=r"^[A-Za-z0-9]{3,10}$",
        description="The pharmacy's ODS code, from `GET /v1/pharmacies`.",
        examples=["FAA01"],
    )


# Course ids are opaque and differ between patients (app.patients.ids): these are two
# medicines that Olivia Harrison (adult-full, A81001), as whom the README's Swagger UI
# walk-through signs in, may order under `make run`'s defaults. For anyone else, take
# ids from `GET …/prescriptions/courses` (tests/api/test_request_examples.py).
REQUEST_EXAMPLES: dict[str, Example] = {
    "one": {
        "summary": "One medicine",
        "description": "A `course_id` from `GET …/prescriptions/courses` whose `orderable` "
        "is true.",
        "value": {"course_ids": ["dmpnxs2x2rc5w65vtwxnmt2hpq"]},
    },
    "with_note": {
        "summary": "Two medicines, with a note (which Harbour Lane, C83003, requires)",
        "description": "`course_id`s from `GET …/prescriptions/courses` whose `orderable` is true.",
        "value": {
            "course_ids": ["dmpnxs2x2rc5w65vtwxnmt2hpq", "tiyoto5iktwomedtbxlbf3xnc4"],
            "note": "Going on holiday on the 12th, could I collect before then?",
        },
    },
}
NOMINATION_EXAMPLES: dict[str, Example] = {
    "pharmacy": {
        "summary": "A pharmacy found with GET /v1/pharmacies",
        "value": {"ods_code": "FAA01"},
    },
}
