"""`/v1/me` and linked profiles: who is signed in, and who they may act for."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.audit.service import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, list_for_patient
from app.auth.deps import CurrentSession
from app.auth.problems import P9_PROBLEMS
from app.clock import ClockDep, today
from app.db import SessionDep, SessionmakerDep
from app.deps import SettingsDep
from app.gp import errors as gp
from app.gp.deps import GPRegistryDep
from app.patients import service
from app.patients.context import ActingContextsDep
from app.patients.deps import (
    ACTING_FOR_PROBLEMS,
    ActingContextDep,
    ActingForPatient,
    ActingForSelf,
)
from app.patients.rules import EXPLANATIONS, age_band
from app.patients.schemas import (
    AccessLog,
    AccessLogEntry,
    LinkedProfile,
    LinkedProfiles,
    Me,
    PracticePolicy,
    PracticeSummary,
    RecordState,
    Services,
    ServiceState,
)
from app.problems import InvalidCursor, problem_responses

router = APIRouter(prefix="/v1/me", tags=["me"])


@router.get(
    "",
    summary="The signed-in person",
    description="Name, masked NHS number and practice from the GP record (once linked), "
    "identity level and when the session ends. Any signed-in session, P5 included.",
    responses=problem_responses(gp.GPSystemUnavailable),
)
async def get_me(
    signed_in: CurrentSession,
    registry: GPRegistryDep,
    sessions: SessionmakerDep,
    contexts: ActingContextsDep,
    clock: ClockDep,
) -> Me:
    me = await service.describe_me(
        registry, signed_in, lambda: contexts.get(sessions, signed_in, now=clock.now())
    )
    practice = (
        PracticeSummary(ods_code=me.ods_code, name=me.practice_name)
        if me.ods_code and me.practice_name
        else None
    )
    return Me(
        given_name=me.given_name,
        family_name=me.family_name,
        nhs_number_masked=me.nhs_number_masked,
        identity_level=signed_in.identity_level,
        practice=practice,
        session_expires_at=min(signed_in.expires_at, signed_in.idle_expires_at),
    )


@router.get(
    "/patients",
    summary="People the signed-in person may act for (themself first)",
    responses=problem_responses(
        *P9_PROBLEMS, gp.SignInAgain, gp.LinkageFailed, gp.GPSystemUnavailable
    ),
)
async def list_linked_profiles(
    context: ActingContextDep, settings: SettingsDep, clock: ClockDep
) -> LinkedProfiles:
    """The signed-in person first, then everyone they are a proxy for, each with an opaque
    `patient_id` for `/v1/patients/{patient_id}/…` and, per service, whether it may be used
    and why not.
    """
    current_day = today(clock)
    profiles = service.linked_profiles(
        context,
        secret_key=settings.patient_id_secret,
        today=current_day,
        review_age=settings.proxy_review_age,
    )
    items = []
    for profile in profiles:
        access = profile.access
        reason = access.unavailable
        items.append(
            LinkedProfile(
                patient_id=profile.patient_id,
                display_name=f"{profile.patient.given_name} {profile.patient.family_name}",
                age_band=age_band(profile.patient.birth_date, current_day),
                relationship=profile.kind,
                practice=PracticeSummary(
                    ods_code=profile.practice.ods_code, name=profile.practice.name
                ),
                available=reason is None,
                unavailable_reason=reason,
                unavailable_explanation=EXPLANATIONS[reason] if reason else None,
                services=Services(
                    appointments=ServiceState.of(access.appointments),
                    prescriptions=ServiceState.of(access.prescriptions),
                    record=RecordState(
                        level=access.record_level,
                        **ServiceState.of(access.record).model_dump(),
                    ),
                    change_pharmacy=ServiceState.of(access.change_pharmacy),
                    access_log=ServiceState.of(access.patient_only),
                ),
            )
        )
    return LinkedProfiles(items=items)


patient_router = APIRouter(prefix="/v1/patients/{patient_id}", tags=["patients"])


@patient_router.get(
    "/practice",
    summary="The patient's practice and what it offers online",
    responses=problem_responses(*ACTING_FOR_PROBLEMS),
)
async def get_practice_policy(acting: ActingForPatient) -> PracticePolicy:
    """What the practice asks for and allows online: the booking reason policy, the booking
    window and limits, the cancellation cut-off and reasons, prescription limits and notes.
    Read it before building a booking or an order.
    """
    return PracticePolicy.of(acting.profile.practice)


@patient_router.get(
    "/access-log",
    summary="Who has viewed or acted on this record (for the patient only)",
    responses=problem_responses(*ACTING_FOR_PROBLEMS, InvalidCursor),
)
async def get_access_log(
    acting: ActingForSelf,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> AccessLog:
    """Who viewed or acted on this person's GP data through this service, newest first, a page
    at a time (`next_cursor`). For the patient themself only; proxies get `403`.
    """
    page = await list_for_patient(
        session, acting.patient_id, cursors=acting.cursors("access-log"), limit=limit, cursor=cursor
    )
    return AccessLog(
        items=[
            AccessLogEntry(
                occurred_at=entry.occurred_at,
                action=entry.action,
                by="proxy" if entry.on_behalf else "patient",
                relationship=entry.relationship_kind if entry.on_behalf else None,
                target=entry.target,
                outcome=entry.outcome,
            )
            for entry in page.entries
        ],
        next_cursor=page.next_cursor,
    )
