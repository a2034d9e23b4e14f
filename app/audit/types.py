"""Domain types of the audit trail: what happened, and what a patient is shown.

An audit entry records who did what for whom and nothing else. It holds no free
text and no clinical content, no NHS numbers, names or dates of birth: every
field is a closed enum, a boolean, a timestamp or a bounded opaque id (letters,
digits and `._:-`, no spaces), and the actor and patient ids refuse anything
shaped like an NHS number. That is enforced here, by types, before a row can be
written; the table's columns are length-bounded as a second line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from app.gp.types import RelationshipKind

OPAQUE_ID_MAX_LENGTH = 128
# Opaque ids are tokens, never prose: no spaces rules out names and sentences.
OPAQUE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
# The request ids the correlation middleware accepts (app.main).
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
_NHS_NUMBER_SHAPE = re.compile(r"\d{10}")


class AuditAction(StrEnum):
    """What was done. Closed: add a member here to audit a new kind of action.

    Values are stored as text (at most `ACTION_MAX_LENGTH` characters), so a new
    member needs no migration.
    """

    SIGN_IN = "sign_in"
    SIGN_OUT = "sign_out"
    SESSION_REVOKED = "session_revoked"  # the oldest, past the live sessions cap
    # Refusals (outcome `refused`), recorded at most once a minute per account and reason.
    ACCESS_REFUSED = "access_refused"  # a patient-scoped route: not theirs, or not permitted
    REQUEST_REFUSED = "request_refused"  # CSRF token or Origin check failed
    RATE_LIMITED = "rate_limited"  # an account's budget was spent
    RECORD_SECTION_VIEWED = "record_section_viewed"
    DOCUMENT_OPENED = "document_opened"
    APPOINTMENT_BOOKED = "appointment_booked"
    APPOINTMENT_CANCELLED = "appointment_cancelled"
    PRESCRIPTION_REQUESTED = "prescription_requested"
    PRESCRIPTION_REQUEST_CANCELLED = "prescription_request_cancelled"
    PHARMACY_NOMINATED = "pharmacy_nominated"
    # Applications for more access (app.access_requests): one action per change of status.
    APPLICATION_SUBMITTED = "application_submitted"
    APPLICATION_CONSENT_GIVEN = "application_consent_given"
    APPLICATION_CONSENT_REFUSED = "application_consent_refused"
    APPLICATION_WITHDRAWN = "application_withdrawn"
    APPLICATION_IDENTITY_VERIFIED = "application_identity_verified"
    APPLICATION_REVIEWED = "application_reviewed"
    APPLICATION_APPROVED = "application_approved"
    APPLICATION_REJECTED = "application_rejected"
    APPLICATION_APPLIED = "application_applied"
    CORRECTION_SUBMITTED = "correction_submitted"


ACTION_MAX_LENGTH = 64

# Actions about the account itself rather than any patient's record.
ACCOUNT_ACTIONS = frozenset(
    {AuditAction.SIGN_IN, AuditAction.SIGN_OUT, AuditAction.SESSION_REVOKED}
)
# Refusals name the patient only when the request resolved to one the account acts for.
REFUSAL_ACTIONS = frozenset(
    {AuditAction.ACCESS_REFUSED, AuditAction.REQUEST_REFUSED, AuditAction.RATE_LIMITED}
)


class AuditOutcome(StrEnum):
    """How the action ended. Actions are recorded when they succeed; `refused` is for
    callers that choose to record a refusal, in a transaction of its own."""

    SUCCEEDED = "succeeded"
    REFUSED = "refused"  # not allowed: permissions, practice policy, identity level


OUTCOME_MAX_LENGTH = 32
RELATIONSHIP_MAX_LENGTH = 32


def _not_an_nhs_number(value: str) -> str:
    # Account and patient ids are derived opaque tokens; ten bare digits means an
    # NHS number was passed by mistake, and it must not reach the audit table.
    if _NHS_NUMBER_SHAPE.fullmatch(value):
        raise ValueError("must be an opaque id, not an NHS number")
    return value


OpaqueId = Annotated[
    str, Field(min_length=1, max_length=OPAQUE_ID_MAX_LENGTH, pattern=OPAQUE_ID_PATTERN)
]
"""An id that means nothing outside the system that issued it: an appointment id, a section name."""

PersonId = Annotated[OpaqueId, AfterValidator(_not_an_nhs_number)]
"""An account's or a patient's opaque id: never an NHS number."""

RequestId = Annotated[str, Field(max_length=128, pattern=REQUEST_ID_PATTERN)]


class AuditEvent(BaseModel):
    """One thing someone did, to be written to the audit trail.

    `actor_id` is the acting account; `patient_id` the patient whose record or
    services were used (absent only for signing in and out). A proxy acting for
    someone else has `on_behalf=True` and the relationship the practice
    recorded. `request_id` defaults to the current request's id.
    """

    # A refused value (say, an NHS number passed as an id) must not be echoed in the
    # error message, which the 500 handler logs.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    action: AuditAction
    actor_id: PersonId
    patient_id: PersonId | None = None
    on_behalf: bool = False
    relationship_kind: RelationshipKind | None = None
    target: OpaqueId | None = None
    outcome: AuditOutcome = AuditOutcome.SUCCEEDED
    request_id: RequestId | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.patient_id is None and self.action not in ACCOUNT_ACTIONS | REFUSAL_ACTIONS:
            raise ValueError(f"{self.action} needs the patient it was done for")
        acting_for_self = self.relationship_kind in (None, RelationshipKind.SELF)
        if self.on_behalf and (acting_for_self or self.patient_id is None):
            raise ValueError("acting on behalf needs the patient and a proxy relationship")
        if not self.on_behalf and not acting_for_self:
            raise ValueError("a proxy relationship means the actor acted on behalf")
        return self


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of "who has viewed or acted on my record"."""

    occurred_at: datetime  # UTC
    action: AuditAction
    actor_id: str
    on_behalf: bool  # False: the patient themself; True: a proxy
    relationship_kind: RelationshipKind | None
    target: str | None
    outcome: AuditOutcome


@dataclass(frozen=True, slots=True)
class AuditPage:
    """A page of entries, newest first; pass `next_cursor` back for the next (older) page."""

    entries: list[AuditEntry]
    next_cursor: str | None
