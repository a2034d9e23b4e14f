"""Linked profiles and "acting for" resolution: who may act for whom, with what."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

from app.audit.types import AuditAction, AuditEvent
from app.auth.deps import SignedIn
from app.cursors import CursorKey, ListCursors
from app.gp.port import GPSystem
from app.gp.registry import GPSystemRegistry
from app.gp.types import Patient, PracticeSettings, RelationshipKind
from app.patients.context import ActingContext, linkage
from app.patients.ids import ShownIds, patient_id, same_id
from app.patients.rules import Access, effective_access
from app.problems import Problem


class PatientNotAvailable(Problem):
    """Unknown, or not one the user may act for: the same answer, so nothing is revealed."""

    status = 404
    code = "patient_not_found"
    title = "Patient not found"
    default_detail = "We could not find this person among the people you can act for."


@dataclass(frozen=True, slots=True)
class Profile:
    """Someone the user may act for (themself included), with what they may do."""

    patient_id: str
    patient: Patient
    kind: RelationshipKind
    access: Access
    practice: PracticeSettings

    @property
    def is_self(self) -> bool:
        return self.kind is RelationshipKind.SELF


@dataclass(frozen=True, slots=True)
class ActingFor:
    """The resolved context of a patient-scoped request."""

    actor: SignedIn
    actor_ref: str  # the GP system's id for the person acting
    profile: Profile
    system: GPSystem  # the patient's practice's GP system
    ids: ShownIds  # the ids the API shows for this patient's entries, documents, medicines
    cursor_key: CursorKey

    @property
    def patient_id(self) -> str:
        return self.profile.patient_id

    def cursors(self, name: str, *filters: object | None) -> ListCursors:
        """The cursors of one list of this patient's, as this viewer pages it."""
        return self.cursor_key.bind(
            name, patient_id=self.patient_id, viewer_id=self.actor.account_id, filters=filters
        )

    @property
    def patient_ref(self) -> str:
        return self.profile.patient.patient_ref

    @property
    def on_behalf(self) -> bool:
        return not self.profile.is_self

    def audit_event(self, action: AuditAction, target: str | None = None) -> AuditEvent:
        """Who did what, for whom: the audit row for an action taken in this context."""
        return AuditEvent(
            action=action,
            actor_id=self.actor.account_id,
            patient_id=self.patient_id,
            on_behalf=self.on_behalf,
            relationship_kind=self.profile.kind,
            target=target,
        )


def linked_profiles(
    context: ActingContext,
    *,
    secret_key: str,
    today: date,
    review_age: int,
) -> list[Profile]:
    """Self first, then each patient the user is a proxy for, as the GP system lists them."""
    profiles: list[Profile] = []
    for relationship in context.relationships:
        patient = relationship.patient
        practice = context.practices[patient.ods_code]
        access = effective_access(
            relationship,
            today=today,
            review_age=review_age,
            practice=practice,
            patient_record_access=context.record_access_of(patient),
        )
        profiles.append(
            Profile(
                patient_id=patient_id(secret_key, patient.ods_code, patient.patient_ref),
                patient=patient,
                kind=relationship.kind,
                access=access,
                practice=practice,
            )
        )
    profiles.sort(key=lambda profile: (not profile.is_self, profile.patient.given_name))
    return profiles


def resolve_acting_for(
    context: ActingContext,
    registry: GPSystemRegistry,
    signed_in: SignedIn,
    requested_id: str,
    *,
    secret_key: str,
    cursor_secret: str,
    today: date,
    review_age: int,
) -> ActingFor:
    """The patient behind `requested_id`, if the user may act for them; else 404."""
    profiles = linked_profiles(context, secret_key=secret_key, today=today, review_age=review_age)
    for profile in profiles:
        if same_id(profile.patient_id, requested_id):
            return ActingFor(
                actor=signed_in,
                actor_ref=linkage(signed_in)[1],
                profile=profile,
                system=registry.for_practice(profile.patient.ods_code),
                ids=ShownIds(secret_key, profile.patient.ods_code, profile.patient.patient_ref),
                cursor_key=CursorKey(cursor_secret),
            )
    raise PatientNotAvailable()


@dataclass(frozen=True, slots=True)
class MeSummary:
    nhs_number_masked: str | None
    ods_code: str | None
    practice_name: str | None
    given_name: str | None
    family_name: str | None


def mask_nhs_number(nhs_number: str) -> str:
    """Show only the last four digits, the way NHS services print it: *** *** 7890."""
    digits = "".join(ch for ch in nhs_number if ch.isdigit())
    return f"*** *** {digits[-4:]}" if len(digits) >= 4 else "*** *** ****"


async def describe_me(
    registry: GPSystemRegistry,
    signed_in: SignedIn,
    context: Callable[[], Awaitable[ActingContext]],
) -> MeSummary:
    """Who is signed in; the names come from the (cached) context's own relationship."""
    ods_code = signed_in.ods_code
    config = registry.practices.get(ods_code) if ods_code else None
    given = family = None
    # The GP record is for P9 users only: a P5 user may be linked by demographics, but
    # NHS login has not verified that they are that patient.
    verified = signed_in.identity_level == "P9"
    if verified and signed_in.gp_user_ref is not None and ods_code and config is not None:
        own = next(
            (r.patient for r in (await context()).relationships if r.kind is RelationshipKind.SELF),
            None,
        )
        if own is None:
            own = await registry.for_practice(ods_code).get_patient(signed_in.gp_user_ref)
        given, family = own.given_name, own.family_name
    return MeSummary(
        nhs_number_masked=mask_nhs_number(signed_in.nhs_number) if signed_in.nhs_number else None,
        ods_code=signed_in.ods_code,
        practice_name=config.name if config else None,
        given_name=given,
        family_name=family,
    )
