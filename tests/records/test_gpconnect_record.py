"""The record service over the GP Connect adapter, with GP Connect's example responses.

GP Connect does not expose a patient's record access settings, so the app does not
offer the record at GP Connect practices (`record_enabled` is off and the overview
says so). These tests drive the service with the access a practice would set, to
show that what the provider sends passes the same policy, and that a section the
provider cannot give is "not available", on SQLite and PostgreSQL (the audit rows).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta

import pytest
import respx
from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.adapters.gpconnect import GPConnectAdapter
from app.adapters.gpconnect.people import default_settings
from app.auth.deps import SignedIn
from app.clock import today
from app.cursors import CursorKey
from app.db import create_sessionmaker
from app.gp.errors import NotAvailableAtPractice
from app.gp.types import (
    Patient,
    RecordGrants,
    RecordSection,
    RelationshipKind,
)
from app.patients.ids import IdKind, ShownIds
from app.patients.rules import ALLOWED, Access, Unavailable, effective_access
from app.patients.service import ActingFor, Profile
from app.records import service
from tests.adapters.gpconnect.conftest import BASE_URL, open_adapter
from tests.adapters.gpconnect.fake_server import NHS_NUMBER, FakeGPConnect
from tests.conftest import FakeClock
from tests.frozen import SUITE_NOW

S = RecordSection
ANY_DATE = service.DateRange(None, None)
ID_KEY = "i" * 64
CURSOR_KEY = "c" * 64


@pytest.fixture
async def gpconnect(clock: FakeClock) -> AsyncIterator[tuple[GPConnectAdapter, FakeGPConnect]]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        server = FakeGPConnect(BASE_URL, clock.now).seed().install(router)
        async with open_adapter(clock) as adapter:
            yield adapter, server


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with create_sessionmaker(engine)() as db:
        yield db


def acting(adapter: GPConnectAdapter, grants: RecordGrants) -> ActingFor:
    now = SUITE_NOW
    patient = Patient("2", NHS_NUMBER, "Ann", "Smith", date(1980, 1, 1), adapter.ods_code)
    access = Access(
        unavailable=None,
        appointments=ALLOWED,
        prescriptions=ALLOWED,
        record_level=grants.level,
        record=ALLOWED,
        change_pharmacy=ALLOWED,
        patient_only=ALLOWED,
        record_grants=grants,
    )
    signed_in = SignedIn(
        session_id="s",
        account_id="acct-1",
        nhs_login_sub="sub",
        nhs_number=NHS_NUMBER,
        identity_level="P9",
        ods_code=adapter.ods_code,
        gp_user_ref="2",
        expires_at=now + timedelta(hours=1),
        idle_expires_at=now + timedelta(minutes=30),
        via="bearer",
    )
    profile = Profile(
        patient_id="pid-2",
        patient=patient,
        kind=RelationshipKind.SELF,
        access=access,
        practice=default_settings(adapter.ods_code, "GP Connect practice"),
    )
    return ActingFor(
        actor=signed_in,
        actor_ref="2",
        profile=profile,
        system=adapter,
        ids=ShownIds(ID_KEY, adapter.ods_code, patient.patient_ref),
        cursor_key=CursorKey(CURSOR_KEY),
    )


DETAILED = RecordGrants(summary=True, detailed_coded=True)
PROSPECTIVE = RecordGrants(summary=True, full_from=date(2023, 11, 1))


async def read(
    adapter: GPConnectAdapter,
    session: AsyncSession,
    clock: FakeClock,
    grants: RecordGrants,
    section: RecordSection,
) -> service.SectionPage:
    return await service.read_section(
        acting(adapter, grants), session, clock, section, dates=ANY_DATE, limit=50, cursor=None
    )


async def test_allergies_from_the_official_example_with_the_ended_one_marked(
    gpconnect: tuple[GPConnectAdapter, FakeGPConnect], session: AsyncSession, clock: FakeClock
) -> None:
    adapter, server = gpconnect
    server.structured_record = "structured/allergies_response1.json"
    page = await read(adapter, session, clock, PROSPECTIVE, S.ALLERGIES)
    assert page.not_shown is None and page.entries is not None
    assert len(page.entries) == 4
    # Shown by the id the API makes of the provider's own ("Resolved-1"), not by that.
    ids = ShownIds(ID_KEY, adapter.ods_code, "2")
    assert [e.entry_id for e in page.entries if e.resolved] == [ids.of(IdKind.ENTRY, "Resolved-1")]


async def test_results_before_the_access_start_show_to_the_detailed_coded_record_only(
    gpconnect: tuple[GPConnectAdapter, FakeGPConnect], session: AsyncSession, clock: FakeClock
) -> None:
    adapter, server = gpconnect
    server.structured_record = "structured/pathology_response1.json"
    detailed = await read(adapter, session, clock, DETAILED, S.TEST_RESULTS)
    assert detailed.entries is not None and len(detailed.entries) == 18
    prospective = await read(adapter, session, clock, PROSPECTIVE, S.TEST_RESULTS)
    # Results from 2019, before 1 November 2023: prospective access alone shows none.
    assert prospective.not_shown is None and prospective.entries == []


async def test_a_section_the_provider_did_not_answer_is_not_available(
    gpconnect: tuple[GPConnectAdapter, FakeGPConnect], session: AsyncSession, clock: FakeClock
) -> None:
    adapter, server = gpconnect
    server.structured_record = "structured/consultations_forwards_response1.json"
    page = await read(adapter, session, clock, DETAILED, S.CONSULTATIONS)
    assert page.not_shown is service.SectionNotShown.NOT_AVAILABLE_FROM_GP_SYSTEM
    assert page.entries is None


async def test_documents_and_corrections_are_not_offered_over_gp_connect(
    gpconnect: tuple[GPConnectAdapter, FakeGPConnect], session: AsyncSession, clock: FakeClock
) -> None:
    adapter, _ = gpconnect
    viewer = acting(adapter, PROSPECTIVE)
    overview = service.overview(viewer, now=clock.now())
    assert overview.sections[S.DOCUMENTS] is False and overview.sections[S.ALLERGIES] is True
    page = await service.read_documents(
        viewer, session, clock, dates=ANY_DATE, limit=10, cursor=None
    )
    assert page.not_shown is service.SectionNotShown.NOT_OFFERED_AT_PRACTICE
    with pytest.raises(NotAvailableAtPractice):
        await service.open_document(viewer, session, clock, "doc-1")
    cipher = MultiFernet([Fernet(Fernet.generate_key())])
    with pytest.raises(NotAvailableAtPractice):
        await service.submit_correction(
            viewer, session, clock, cipher, section=None, entry_id=None, description="Wrong"
        )


async def test_the_record_is_not_offered_where_the_gp_system_cannot_say_who_may_see_it(
    gpconnect: tuple[GPConnectAdapter, FakeGPConnect], clock: FakeClock
) -> None:
    adapter, _ = gpconnect
    [own] = await adapter.list_relationships("2")
    access = effective_access(
        own,
        today=today(clock),
        review_age=13,
        practice=await adapter.get_practice_settings(),
    )
    viewer = acting(adapter, PROSPECTIVE)
    viewer = replace(viewer, profile=replace(viewer.profile, access=access))
    overview = service.overview(viewer, now=clock.now())
    assert overview.unavailable is Unavailable.NOT_OFFERED_BY_PRACTICE
    assert overview.explanation is not None and "copy" in overview.explanation
    assert not any(overview.sections.values())
