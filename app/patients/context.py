"""A session's acting-for context, reused so that a patient action costs one GP call.

The context is what the GP systems say about the signed-in user: their
relationships (themself and each patient they are a proxy for) and each of those
patients' own record access settings, with each practice's settings beside them.

- Relationships and record access are kept per session in the app database
  (`session_contexts`, encrypted), for `ACTING_CONTEXT_SECONDS` (at most 60): every
  worker and instance reads the same row, so a revoked proxy relationship loses
  access within that time everywhere. The session query returns the row's age, so
  a warm context costs no extra query on the worker that decoded it last.
- Practice settings are the same for every patient of a practice: each worker keeps
  them for `PRACTICE_SETTINGS_SECONDS` (`app.gp.registry.PolicyAwareGPSystem`).
- In-process copies are only ever a faster way to the shared row: a copy is used
  only when its `fetched_at` equals the one the session query just returned.
- Signing out deletes the row; `forget_for_account` drops it after the user changes
  something the context holds.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Protocol

from cryptography.fernet import InvalidToken, MultiFernet
from fastapi import Depends, Request
from pydantic import TypeAdapter
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.models import AuthSession, SessionContext
from app.auth.types import SignedIn
from app.gp.errors import LinkageFailed
from app.gp.port import GPSystem
from app.gp.types import (
    Capability,
    Patient,
    PracticeSettings,
    RecordAccess,
    RecordAccessLevel,
    Relationship,
    RelationshipKind,
)

logger = logging.getLogger(__name__)

LOCAL_COPIES = 10_000  # decoded contexts kept per worker (least recently used go first)


class _Registry(Protocol):
    """The part of `GPSystemRegistry` the context needs."""

    def for_practice(self, ods_code: str) -> GPSystem: ...


PracticeLookup = Callable[[str], Awaitable[PracticeSettings]]


def patient_key(patient: Patient) -> str:
    """How a patient's record settings are keyed in a context (refs are per practice)."""
    return f"{patient.ods_code}/{patient.patient_ref}"


@dataclass(frozen=True, slots=True)
class GPFacts:
    """What the user's GP system said, as stored for the session."""

    relationships: list[Relationship]
    # Each patient's own record access settings (`patient_key`), for the user themself
    # and every patient they act for; a patient missing here has no record online.
    record_access: dict[str, RecordAccess]


_FACTS = TypeAdapter(GPFacts)


@dataclass(frozen=True, slots=True)
class ActingContext:
    """Everything needed to decide who the user may act for, with what."""

    relationships: list[Relationship]
    record_access: dict[str, RecordAccess]
    practices: dict[str, PracticeSettings] = field(default_factory=dict)

    def record_access_of(self, patient: Patient) -> RecordAccess | None:
        """The patient's own record settings, or None when their GP system gave none."""
        return self.record_access.get(patient_key(patient))


def linkage(signed_in: SignedIn) -> tuple[str, str]:
    """(ODS code, GP user ref) of a signed-in user linked to their GP system."""
    if signed_in.gp_user_ref is None or signed_in.ods_code is None:
        raise LinkageFailed()
    return signed_in.ods_code, signed_in.gp_user_ref


def _may_show_record(relationship: Relationship) -> bool:
    return (
        relationship.kind is RelationshipKind.SELF
        or relationship.permissions.record_level is not RecordAccessLevel.NONE
    )


async def fetch_facts(registry: _Registry, signed_in: SignedIn) -> GPFacts:
    """Ask the GP system: relationships, then each patient's own record settings.

    The settings are asked whether or not the practice offers the record online today,
    so that a practice switching it on finds them already known: a context never holds
    a gap that a default could fill. A proxy's patient's settings are asked too, since
    the patient's refusals and flags bind the proxy. A system that cannot report them
    (`Capability.RECORD_ACCESS_SETTINGS`) is not asked, and shows no record.
    """
    ods_code, user_ref = linkage(signed_in)
    relationships = await registry.for_practice(ods_code).list_relationships(user_ref)
    record_access: dict[str, RecordAccess] = {}
    for relationship in relationships:
        patient = relationship.patient
        system = registry.for_practice(patient.ods_code)
        key = patient_key(patient)
        if (
            key not in record_access
            and _may_show_record(relationship)
            and Capability.RECORD_ACCESS_SETTINGS in system.capabilities
        ):
            record_access[key] = await system.get_record_access(patient.patient_ref)
    return GPFacts(relationships=relationships, record_access=record_access)


async def with_practices(facts: GPFacts, practice: PracticeLookup) -> ActingContext:
    practices = {}
    for relationship in facts.relationships:
        ods_code = relationship.patient.ods_code
        if ods_code not in practices:
            practices[ods_code] = await practice(ods_code)
    return ActingContext(facts.relationships, facts.record_access, practices)


class ActingContexts:
    """Builds, stores and reuses acting-for contexts (one per app, in `app.state`)."""

    def __init__(
        self,
        registry: _Registry,
        cipher: MultiFernet,
        *,
        context_lifetime: timedelta,
    ) -> None:
        self._registry = registry
        self._cipher = cipher
        self._lifetime = context_lifetime
        self._local: OrderedDict[str, tuple[datetime, GPFacts]] = OrderedDict()

    async def practice_settings(self, ods_code: str) -> PracticeSettings:
        """The practice's settings (kept per worker by the registry)."""
        return await self._registry.for_practice(ods_code).get_practice_settings()

    async def get(
        self, sessions: async_sessionmaker[AsyncSession], signed_in: SignedIn, *, now: datetime
    ) -> ActingContext:
        """The session's context: reused while fresh, else asked of the GP system and stored.

        A warm context on this worker needs no database session at all; otherwise one is
        opened here, and `_stored` ends its transaction before any GP system is asked, so
        that no connection is held while it answers.
        """
        practice = self.practice_settings
        facts = self._local_copy(signed_in, now)
        if facts is None:
            async with sessions() as db:
                facts = await self._stored(db, signed_in, now=now)
                if facts is None:
                    facts = await fetch_facts(self._registry, signed_in)
                    await self._store(db, signed_in.session_id, facts, now=now)
        return await with_practices(facts, practice)

    def _fresh(self, fetched_at: datetime | None, now: datetime) -> bool:
        return fetched_at is not None and fetched_at <= now < fetched_at + self._lifetime

    def _local_copy(self, signed_in: SignedIn, now: datetime) -> GPFacts | None:
        """This worker's decoded copy, if it is the fresh row the session query just saw."""
        fetched_at = signed_in.context_at
        local = self._local.get(signed_in.session_id)
        if local is None or local[0] != fetched_at or not self._fresh(fetched_at, now):
            return None
        self._local.move_to_end(signed_in.session_id)
        return local[1]

    async def _stored(
        self, db: AsyncSession, signed_in: SignedIn, *, now: datetime
    ) -> GPFacts | None:
        if not self._fresh(signed_in.context_at, now):
            return None
        row = (
            await db.execute(
                select(SessionContext.fetched_at, SessionContext.payload).where(
                    SessionContext.session_id == signed_in.session_id
                )
            )
        ).first()
        await db.rollback()
        if row is None or not self._fresh(row.fetched_at, now):
            return None
        try:
            facts = _FACTS.validate_json(self._cipher.decrypt(row.payload.encode()))
        except (InvalidToken, ValueError):
            logger.warning("a stored acting-for context did not decode; asking again")
            return None
        self._keep(signed_in.session_id, row.fetched_at, facts)
        return facts

    async def _store(
        self, db: AsyncSession, session_id: str, facts: GPFacts, *, now: datetime
    ) -> None:
        payload = self._cipher.encrypt(_FACTS.dump_json(facts)).decode()
        try:
            # Delete-then-insert: the same statements on SQLite and PostgreSQL; when two
            # requests of one session race, one insert fails and the other's row stands.
            await db.execute(delete(SessionContext).where(SessionContext.session_id == session_id))
            db.add(SessionContext(session_id=session_id, fetched_at=now, payload=payload))
            await db.commit()
        except IntegrityError:
            await db.rollback()  # a concurrent request stored one, or the session was deleted
            return
        self._keep(session_id, now, facts)

    def _keep(self, session_id: str, fetched_at: datetime, facts: GPFacts) -> None:
        self._local[session_id] = (fetched_at, facts)
        self._local.move_to_end(session_id)
        while len(self._local) > LOCAL_COPIES:
            self._local.popitem(last=False)

    async def forget_for_account(self, db: AsyncSession, account_id: str) -> None:
        """After the user changes what a context holds: every session asks again."""
        sessions = select(AuthSession.id).where(AuthSession.account_id == account_id)
        await db.execute(delete(SessionContext).where(SessionContext.session_id.in_(sessions)))
        await db.commit()


async def get_acting_contexts(request: Request) -> ActingContexts:
    contexts: ActingContexts = request.app.state.acting_contexts
    return contexts


ActingContextsDep = Annotated[ActingContexts, Depends(get_acting_contexts)]
