"""Linked profiles against a GP system that exposes no record access settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from app.auth.types import SignedIn
from app.gp.errors import GPForbidden
from app.gp.types import (
    Capability,
    Patient,
    Permissions,
    PracticeSettings,
    RecordAccess,
    RecordAccessLevel,
    RecordGrants,
    Relationship,
    RelationshipKind,
)
from app.patients.context import fetch_facts, with_practices
from app.patients.rules import Unavailable
from app.patients.service import linked_profiles
from tests.frozen import SUITE_NOW
from tests.patients.test_rules import PRACTICE, TODAY

ME = Patient("U1", "9990000018", "Ada", "Lovelace", TODAY.replace(year=1980), "A81001")


class _NoRecordSettings:
    """Like GP Connect: self only, no record access settings, record not offered."""

    ods_code = "A81001"
    capabilities: frozenset[Capability] = frozenset()
    record_enabled = False

    async def list_relationships(self, user_ref: str) -> list[Relationship]:
        return [
            Relationship(ME, RelationshipKind.SELF, Permissions(True, True, RecordAccessLevel.FULL))
        ]

    async def get_practice_settings(self) -> PracticeSettings:
        return replace(PRACTICE, record_enabled=self.record_enabled)

    async def get_record_access(self, patient_ref: str) -> RecordAccess:
        raise GPForbidden()


class _Registry:
    def __init__(self, system: _NoRecordSettings | None = None) -> None:
        self.system = system or _NoRecordSettings()

    def for_practice(self, ods_code: str) -> _NoRecordSettings:
        return self.system


def signed_in_user() -> SignedIn:
    now = SUITE_NOW
    return SignedIn(
        session_id="s",
        account_id="a",
        nhs_login_sub="sub",
        nhs_number="9990000018",
        identity_level="P9",
        ods_code="A81001",
        gp_user_ref="U1",
        expires_at=now + timedelta(hours=1),
        idle_expires_at=now + timedelta(minutes=30),
        via="bearer",
    )


async def test_profiles_do_not_need_record_settings_when_the_record_is_not_offered() -> None:
    signed_in = signed_in_user()
    registry = _Registry()

    async def practice(ods_code: str) -> PracticeSettings:
        return await registry.for_practice(ods_code).get_practice_settings()

    facts = await fetch_facts(registry, signed_in)  # type: ignore[arg-type]
    assert facts.record_access == {}  # never asked: it would have raised
    context = await with_practices(facts, practice)
    [me] = linked_profiles(context, secret_key="k" * 32, today=TODAY, review_age=13)
    assert me.access.appointments.allowed
    assert me.access.record.unavailable is Unavailable.NOT_OFFERED_BY_PRACTICE


async def test_record_settings_are_not_asked_of_a_system_that_cannot_give_them() -> None:
    """A practice may switch the record on in the practices file while its system (GP
    Connect) has no record access settings: every route must not fail for it."""
    signed_in = signed_in_user()
    system = _NoRecordSettings()
    system.record_enabled = True
    registry = _Registry(system)

    async def practice(ods_code: str) -> PracticeSettings:
        return await registry.for_practice(ods_code).get_practice_settings()

    facts = await fetch_facts(registry, signed_in)  # type: ignore[arg-type]
    assert facts.record_access == {}  # never asked: it would have raised
    [me] = linked_profiles(
        await with_practices(facts, practice), secret_key="k" * 32, today=TODAY, review_age=13
    )
    assert me.access.appointments.allowed
    # Settings the GP system did not report mean no record, never a default.
    assert me.access.record.unavailable is Unavailable.RECORD_ACCESS_NOT_REPORTED
    assert me.access.record_grants == RecordGrants()
