"""The closed set of errors a GP system adapter may raise.

Adapters translate their supplier's error codes into these; `app/problems.py`
maps each to an HTTP problem in one table. `detail` is written for patients.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import ClassVar

from app.gp.types import Capability, NotOrderableReason, PrescriptionRequest


class GPError(Exception):
    """Base class: a GP system refused or could not do what was asked."""

    code: str = "gp_error"  # stable; an instance may narrow it (CourseNotOrderable)
    default_detail: ClassVar[str] = "Your GP practice's system could not do that."

    def __init__(self, detail: str | None = None, *, supplier_code: str | None = None) -> None:
        self.detail = detail or self.default_detail
        # The supplier's own code, kept for logs and support; never shown to patients.
        self.supplier_code = supplier_code
        super().__init__(self.detail)


class SlotUnavailable(GPError):
    code = "slot_unavailable"
    default_detail = "This appointment has just been taken. Please choose another time."


class SlotNotFound(GPError):
    """A slot the GP system does not offer: never offered, or withdrawn since it was
    listed. Not `NotFoundInGPSystem`: the answer is to list the free slots again."""

    code = "slot_not_found"
    default_detail = (
        "That appointment slot does not exist or is no longer offered. "
        "Please look at the free appointments again and choose one."
    )


class BookingLimitReached(GPError):
    code = "booking_limit_reached"
    default_detail = (
        "You already have the most appointments your practice allows you to book online. "
        "Cancel one, or contact your practice."
    )


class OutsideBookingWindow(GPError):
    code = "outside_booking_window"
    default_detail = "Your practice does not let you book this far ahead, or in the past."


class TooLateToCancel(GPError):
    code = "too_late_to_cancel"
    default_detail = (
        "It is too close to the appointment to cancel it online. Please call your practice."
    )


class NotCancellable(GPError):
    code = "not_cancellable"
    default_detail = "This appointment cannot be cancelled online."


class RequestNotCancellable(GPError):
    """A prescription request no longer waiting for the practice: dealt with, or cancelled
    already (by another cancel a moment earlier, say)."""

    code = "request_not_cancellable"
    default_detail = (
        "This request has already been cancelled, or your practice has already dealt with "
        "it, so it cannot be cancelled online. Check its status in your prescription requests."
    )


class ReasonRequired(GPError):
    code = "reason_required"
    default_detail = "Your practice asks for a reason when you book this appointment."


class CourseNotOrderable(GPError):
    """Its `code` is the reason (`request_pending`, `review_overdue`, `too_soon`,
    `not_a_repeat`), so each refusal has a stable problem code of its own."""

    code = "course_not_orderable"
    default_detail = "This medicine cannot be ordered online at the moment."

    _DETAILS: ClassVar[dict[NotOrderableReason, str]] = {
        NotOrderableReason.PENDING_REQUEST: (
            "You have already requested this medicine and your practice is dealing with it."
        ),
        NotOrderableReason.REVIEW_OVERDUE: (
            "This medicine is due a review. Please contact your practice before ordering it."
        ),
        NotOrderableReason.NOT_A_REPEAT: (
            "This medicine is not a repeat prescription, so it cannot be ordered online."
        ),
        NotOrderableReason.TOO_SOON: "It is too soon to order this medicine again.",
    }

    def __init__(
        self,
        reason: NotOrderableReason,
        *,
        course_id: str | None = None,
        orderable_from: date | None = None,
        supplier_code: str | None = None,
    ) -> None:
        self.reason = reason
        self.code = reason.value
        self.course_id = course_id
        self.orderable_from = orderable_from
        detail = self._DETAILS[reason]
        if orderable_from is not None:
            detail += f" You can order it from {orderable_from:%-d %B %Y}."
        super().__init__(detail, supplier_code=supplier_code)


class TooManyItems(GPError):
    code = "too_many_items"
    default_detail = "You have asked for more medicines than your practice allows in one request."


class PatientNotFound(GPError):
    code = "patient_not_found"
    default_detail = "Your GP practice's system could not find your record."


class LinkageFailed(GPError):
    code = "linkage_failed"
    default_detail = (
        "We could not connect you to your GP practice's system. "
        "Please contact your practice to set up online services."
    )


class LinkageMethodUnsupported(LinkageFailed):
    """The GP system cannot link by NHS login's GP credentials; use demographics instead."""


class NotFoundInGPSystem(GPError):
    """An appointment, course, request or document the GP system does not hold."""

    code = "not_found"
    default_detail = "We could not find what you asked for."


class GPForbidden(GPError):
    code = "gp_forbidden"
    default_detail = "Your GP practice does not allow this online."


class SectionUnavailable(GPError):
    """The GP system cannot provide this part of the record now (it says so itself:
    GP Connect's `List.emptyReason`, confidential items withheld, data in transit).
    Never an empty section: "nothing recorded" would be a false statement."""

    code = "section_unavailable"
    default_detail = "Your GP practice's system could not provide this part of your record."


class NotAvailableAtPractice(GPForbidden):
    """The practice's GP system does not offer this online (a missing `Capability`)."""

    code = "not_available_at_practice"

    _DETAILS: ClassVar[dict[Capability, str]] = {
        Capability.LINK_BY_CREDENTIALS: (
            "Your GP practice's system does not use NHS login linkage details."
        ),
        Capability.PROXY_RELATIONSHIPS: (
            "Your GP practice's system does not offer access on behalf of someone else "
            "through this app. Please contact your practice."
        ),
        Capability.CANCEL_PRESCRIPTION_REQUEST: (
            "Your GP practice's system does not let you cancel a prescription request online. "
            "If you no longer need it, please contact your practice."
        ),
        Capability.NOMINATED_PHARMACY: (
            "Your nominated pharmacy cannot be viewed or changed through this app for your "
            "practice. You can change it with your pharmacy or your practice."
        ),
        Capability.RECORD_ACCESS_SETTINGS: (
            "Your GP practice's system does not share your online record settings with this "
            "app, so we cannot show your record here yet. You can ask your practice about "
            "record access."
        ),
        Capability.DOCUMENTS: (
            "Documents from your GP record are not available through this app for your "
            "practice yet."
        ),
        Capability.PRACTICE_MESSAGES: (
            "Your GP practice's system does not accept messages through this app. "
            "Please contact your practice directly."
        ),
        Capability.ACCESS_CHANGES: (
            "The practice's GP system cannot switch on approved access through this app: "
            "the practice sets it in the clinical system."
        ),
    }

    def __init__(
        self,
        capability: Capability,
        detail: str | None = None,
        *,
        supplier_code: str | None = None,
    ) -> None:
        self.capability = capability
        super().__init__(detail or self._DETAILS[capability], supplier_code=supplier_code)


class SignInAgain(GPError):
    """The GP system needs a fresher proof of the patient's NHS login identity."""

    code = "sign_in_again"
    default_detail = "For your security, please sign in again with NHS login to continue."


class OrderPartlyPlaced(GPError):
    """An order of several medicines that failed part way, on a GP system that takes them
    one at a time and cannot take one back: those requested stand, as `placed`, and show
    in the patient's requests; the rest were not requested."""

    code = "order_partly_placed"

    def __init__(self, placed: PrescriptionRequest, *, total: int, cause: GPError) -> None:
        self.placed = placed
        self.cause = cause
        if isinstance(cause, GPSystemUnavailable):
            rest = "We could not confirm the others: check your requests before ordering again."
        else:
            rest = f"The others were not requested. {cause.detail}"
        super().__init__(
            f"{len(placed.course_ids)} of the {total} medicines you asked for were requested "
            f"from your practice and are shown in your prescription requests. {rest}",
            supplier_code=cause.supplier_code,
        )


class GPSystemUnavailable(GPError):
    code = "gp_system_unavailable"
    default_detail = (
        "Your GP practice's system is not available at the moment. Please try again shortly."
    )

    def __init__(
        self,
        detail: str | None = None,
        *,
        retry_after: int = 30,
        supplier_code: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(detail, supplier_code=supplier_code)


class GPConfigurationFault(GPSystemUnavailable):
    """The GP system's platform refused what we sent, or does not route to the practice:
    our request or configuration is wrong, not anything the patient did or can change.
    The patient sees the outage it is for them (`gp_system_unavailable`, 503); operators
    see it logged as a configuration fault."""


def most_telling(group: BaseExceptionGroup[BaseException]) -> GPError | None:
    """The one GP error that answers for GP calls made at once that failed together, or
    None when the group holds anything else (that is a bug, not a GP system's answer).

    A refusal (not found, sign in again…) tells the patient more than an outage: waiting
    will not change it. Of outages, the one asking for the longest wait gives the honest
    `Retry-After`.
    """
    errors, rest = group.split(GPError)
    if errors is None or rest is not None:
        return None
    leaves = list(_leaves(errors))
    refusals = [error for error in leaves if not isinstance(error, GPSystemUnavailable)]
    if refusals:
        return refusals[0]
    outages = [error for error in leaves if isinstance(error, GPSystemUnavailable)]
    return max(outages, key=lambda outage: outage.retry_after)


def _leaves(group: BaseExceptionGroup[GPError]) -> Iterator[GPError]:
    for member in group.exceptions:
        if isinstance(member, BaseExceptionGroup):
            yield from _leaves(member)
        else:
            yield member
