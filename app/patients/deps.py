"""`/v1/patients/{patient_id}/…`: resolve who is acting, for whom, with what permission.

Every patient-scoped route takes one of the `ActingFor…` aliases below, so the
authorisation rule lives in one place: unknown or not-permitted ids are 404
(existence is never revealed); a permitted patient without the service is 403.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, ClassVar

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.refusals import audit_refusal
from app.audit.types import AuditAction, AuditEvent
from app.auth.deps import P9Session
from app.auth.problems import P9_PROBLEMS
from app.clock import Clock, today
from app.config import Settings
from app.gp import errors as gp
from app.gp.registry import GPSystemRegistry
from app.patients.context import ActingContext, ActingContexts
from app.patients.rules import EXPLANATIONS, Access, ServiceAccess, Unavailable
from app.patients.service import ActingFor, PatientNotAvailable, resolve_acting_for
from app.problems import Problem

PatientID = Annotated[
    str,
    Path(
        description="The opaque id of the patient, from `GET /v1/me/patients`.",
        min_length=1,
        max_length=64,
    ),
]


class AccessUnavailable(Problem):
    status = 403
    code = "access_unavailable"
    title = "Access unavailable"
    default_detail = "Your access for this person has ended or is paused."
    example_extra: ClassVar[Mapping[str, object]] = {"reason": "proxy_review_needed"}

    def __init__(self, reason: Unavailable) -> None:
        super().__init__(EXPLANATIONS[reason], extra={"reason": reason.value})


class ServiceNotPermitted(AccessUnavailable):
    code = "service_not_permitted"
    title = "Service not available for this person"
    default_detail = "You cannot use this service for this person."
    example_extra: ClassVar[Mapping[str, object]] = {"reason": "not_granted"}


# What every `/v1/patients/{patient_id}/…` route may answer through `acting_for` (and
# `RequireService`): name it first in the route's `problem_responses(...)`.
ACTING_FOR_PROBLEMS = (
    *P9_PROBLEMS,
    PatientNotAvailable,
    AccessUnavailable,
    ServiceNotPermitted,
    gp.SignInAgain,
    gp.LinkageFailed,
    gp.GPSystemUnavailable,
)


# Every patient-scoped request runs the two dependencies below. They read the app's
# clients from `request.app.state` themselves: each dependency FastAPI solves costs
# more than the attribute it would return.


async def session_context(request: Request, signed_in: P9Session) -> ActingContext:
    """The session's acting-for context: no GP call while it is fresh, and no database
    session while this worker holds the fresh copy."""
    contexts: ActingContexts = request.app.state.acting_contexts
    clock: Clock = request.app.state.clock
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return await contexts.get(sessions, signed_in, now=clock.now())


ActingContextDep = Annotated[ActingContext, Depends(session_context)]


async def acting_for(
    request: Request,
    patient_id: PatientID,
    signed_in: P9Session,
    context: ActingContextDep,
) -> ActingFor:
    registry: GPSystemRegistry = request.app.state.gp_registry
    settings: Settings = request.app.state.settings
    clock: Clock = request.app.state.clock
    try:
        acting = resolve_acting_for(
            context,
            registry,
            signed_in,
            patient_id,
            secret_key=settings.patient_id_secret,
            cursor_secret=settings.cursor_secret,
            today=today(clock),
            review_age=settings.proxy_review_age,
        )
    except PatientNotAvailable as refused:
        # Not a patient they act for: no patient is named, and the id sent is not kept.
        event = AuditEvent(
            action=AuditAction.ACCESS_REFUSED, actor_id=signed_in.account_id, target=refused.code
        )
        await audit_refusal(request, event)
        raise
    if acting.profile.access.unavailable is not None:
        reason = acting.profile.access.unavailable
        target = f"{AccessUnavailable.code}:{reason.value}"
        await audit_refusal(request, acting.audit_event(AuditAction.ACCESS_REFUSED, target))
        raise AccessUnavailable(reason)
    return acting


ActingForPatient = Annotated[ActingFor, Depends(acting_for)]


class RequireService:
    """A dependency that also demands one service; `service` names it for introspection."""

    def __init__(self, service: str, pick: Callable[[Access], ServiceAccess]) -> None:
        self.service = service
        self._pick = pick

    async def __call__(self, request: Request, acting: ActingForPatient) -> ActingFor:
        granted = self._pick(acting.profile.access)
        if not granted.allowed:
            refused = ServiceNotPermitted(granted.unavailable or Unavailable.NOT_GRANTED)
            target = f"{refused.code}:{self.service}:{refused.extra['reason']}"
            await audit_refusal(request, acting.audit_event(AuditAction.ACCESS_REFUSED, target))
            raise refused
        return acting


ActingForAppointments = Annotated[
    ActingFor, Depends(RequireService("appointments", lambda access: access.appointments))
]
ActingForPrescriptions = Annotated[
    ActingFor, Depends(RequireService("prescriptions", lambda access: access.prescriptions))
]
ActingForRecord = Annotated[
    ActingFor, Depends(RequireService("record", lambda access: access.record))
]
ActingForPharmacyChange = Annotated[
    ActingFor, Depends(RequireService("change_pharmacy", lambda access: access.change_pharmacy))
]
ActingForSelf = Annotated[
    ActingFor, Depends(RequireService("patient_only", lambda access: access.patient_only))
]
