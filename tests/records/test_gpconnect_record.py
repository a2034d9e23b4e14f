"""The record service over the GP Connect adapter, with GP Connect's example responses.

The patient's record access comes from GP Connect's User Permissions API, so the record
(documents included) is offered at GP Connect practices as far as those permissions
allow, and refused where they grant nothing. These tests drive the service with the
access a practice would set, to show that what the provider sends passes the same
policy, and that a section the provider cannot give is "not available", on SQLite and
PostgreSQL (the audit rows).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

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
    RecordAccessLevel,
    RecordGrants,
    RecordSection,
    RelationshipKind,
)
from app.patients.ids import IdKind, ShownIds
from app.patients.rules import ALLOWED, Access, Unavailable, effective_access
from app.patients.service import ActingFor, Profile
from app.records import service
from tests.adapters.gpconnect.conftest import open_adapter, provider
from tests.adapters.gpconnect.fake_server import (
    DOCUMENT_BYTES,
    NHS_NUMBER,
    NHS_NUMBER_SYSTEM,
    FakeGPConnect,
    load,
)
from tests.conftest import FakeClock
from tests.frozen import SUITE_NOW

S = RecordSection
ANY_DATE = service.DateRange(None, None)
ID_KEY = "i" * 64
CURSOR_KEY = "c" * 64


@pytest.fixture
async def gpconnect(clock: FakeClock) -> AsyncIterator[tuple[GPConnectAdapter, FakeGPConnect]]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        server = provider(clock.now).install(router)
        async with open_adapter(clock) as adapter:
            yield adapter, server
    # Each request the official documents refuse fails the test where it is made; this
    # catches one the adapter swallowed.
    assert not server.violations, "\n".join(server.violations)


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with create_sessionmaker(engine)() as db:
        yield db


def acting(adapter: GPConnectAdapter, grants: RecordGrants) -> ActingFor:
    now = SUITE_NOW
    # At a GP Connect practice the patient's reference is their NHS number.
    patient = Patient(NHS_NUMBER, NHS_NUMBER, "Ann", "Smith", date(1980, 1, 1), adapter.ods_code)
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
        gp_user_ref=NHS_NUMBER,
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
        actor_ref=NHS_NUMBER,
        profile=profile,
        system=adapter,
        ids=ShownIds(ID_KEY, adapter.ods_code, patient.patient_ref),
        cursor_key=CursorKey(CURSOR_KEY),
    )


def served(tmp_path: Path, name: str) -> str:
    """An official example as the fake provider answers for its patient: its Patient
    carries the NHS number asked for (the adapter refuses a record of another)."""
    bundle = load(f"structured/{name}.json")
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Patient":
            for identifier in entry["resource"]["identifier"]:
                if identifier["system"] == NHS_NUMBER_SYSTEM:
                    identifier["value"] = NHS_NUMBER
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(bundle))
    return str(path)


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
    gpconnect: tuple[GPConnectAdapter, FakeGPConnect],
    session: AsyncSession,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    adapter, server = gpconnect
    server.structured_record = served(tmp_path, "allergies_response1")
    page = await read(adapter, session, clock, PROSPECTIVE, S.ALLERGIES)
    assert page.not_shown is None and page.entries is not None
    assert len(page.entries) == 4
    # Shown by the id the API makes of the provider's own ("Resolved-1"), not by that.
    ids = ShownIds(ID_KEY, adapter.ods_code, NHS_NUMBER)
    assert [e.entry_id for e in page.entries if e.resolved] == [ids.of(IdKind.ENTRY, "Resolved-1")]


async def test_results_before_the_access_start_show_to_the_detailed_coded_record_only(
    gpconnect: tuple[GPConnectAdapter, FakeGPConnect],
    session: AsyncSession,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    adapter, server = gpconnect
    server.structured_record = served(tmp_path, "pathology_response1")
    detailed = await read(adapter, session, clock, DETAILED, S.TEST_RESULTS)
    assert detailed.entries is not None and len(detailed.entries) == 18
    prospective = await read(adapter, session, clock, PROSPECTIVE, S.TEST_RESULTS)
    # Results from 2019, before 1 November 2023: prospective access alone shows none.
    assert prospective.not_shown is None and prospective.entries == []


async def test_a_section_the_provider_did_not_answer_is_not_available(
    gpconnect: tuple[GPConnectAdapter, FakeGPConnect],
    session: AsyncSession,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    adapter, server = gpconnect
    server.structured_record = served(tmp_path, "consultations_forwards_response1")
    page = await read(adapter, session, clock, DETAILED, S.CONSULTATIONS)
    assert page.not_shown is service.SectionNotShown.NOT_AVAILABLE_FROM_GP_SYSTEM
    assert page.entries is None


async def test_documents_are_offered_with_the_full_record_and_opened(
    gpconnect: tuple[GPConnectAdapter, FakeGPConnect], session: AsyncSession, clock: FakeClock
) -> None:
    adapter, server = gpconnect
    server.seed_document()  # a discharge summary of June 2024
    viewer = acting(adapter, PROSPECTIVE)
    overview = service.overview(viewer, now=clock.now())
    assert overview.sections[S.DOCUMENTS] is True and overview.sections[S.ALLERGIES] is True

    page = await service.read_documents(
        viewer, session, clock, dates=ANY_DATE, limit=10, cursor=None
    )

    assert page.not_shown is None and page.documents is not None
    (document,) = page.documents
    assert document.title == "Discharge Summary"
    opened = await service.open_document(viewer, session, clock, document.document_id)
    assert b"".join([chunk async for chunk in opened.chunks]) == DOCUMENT_BYTES


async def test_documents_are_not_shown_without_the_full_record(
    gpconnect: tuple[GPConnectAdapter, FakeGPConnect], session: AsyncSession, clock: FakeClock
) -> None:
    adapter, server = gpconnect
    server.seed_document()
    viewer = acting(adapter, DETAILED)
    assert service.overview(viewer, now=clock.now()).sections[S.DOCUMENTS] is False
    calls = len(server.requests)

    page = await service.read_documents(
        viewer, session, clock, dates=ANY_DATE, limit=10, cursor=None
    )

    assert page.not_shown is service.SectionNotShown.NOT_IN_YOUR_ACCESS
    assert page.documents is None
    assert len(server.requests) == calls  # nothing was asked of the provider


async def test_corrections_are_not_offered_over_gp_connect(
    gpconnect: tuple[GPConnectAdapter, FakeGPConnect], session: AsyncSession, clock: FakeClock
) -> None:
    adapter, _ = gpconnect
    viewer = acting(adapter, PROSPECTIVE)
    cipher = MultiFernet([Fernet(Fernet.generate_key())])
    with pytest.raises(NotAvailableAtPractice):
        await service.submit_correction(
            viewer, session, clock, cipher, section=None, entry_id=None, description="Wrong"
        )


async def own_access(adapter: GPConnectAdapter, clock: FakeClock) -> Access:
    """The patient's access as the app works it out: the self relationship's permissions
    and the record access settings, both from the User Permissions API."""
    [own] = await adapter.list_relationships(NHS_NUMBER)
    return effective_access(
        own,
        today=today(clock),
        review_age=13,
        practice=await adapter.get_practice_settings(),
        patient_record_access=await adapter.get_record_access(NHS_NUMBER),
    )


async def test_the_record_is_offered_as_the_user_permissions_allow(
    gpconnect: tuple[GPConnectAdapter, FakeGPConnect], clock: FakeClock
) -> None:
    adapter, _ = gpconnect  # the specification's example: current full, historical summary
    access = await own_access(adapter, clock)
    viewer = acting(adapter, PROSPECTIVE)
    viewer = replace(viewer, profile=replace(viewer.profile, access=access))

    overview = service.overview(viewer, now=clock.now())

    assert overview.unavailable is None
    assert overview.grants.full_from == date(2022, 11, 1)
    assert not overview.grants.historic and not overview.grants.detailed_coded
    assert overview.sections[S.ALLERGIES] and overview.sections[S.DOCUMENTS]


async def test_the_record_is_refused_where_the_user_permissions_grant_none(
    gpconnect: tuple[GPConnectAdapter, FakeGPConnect], clock: FakeClock
) -> None:
    adapter, server = gpconnect
    server.permissions = {
        "medicalRecord": {
            "effectiveDate": "2022-11-01",
            "current": {"accessLevel": "none"},
            "historical": {"accessLevel": "none"},
        },
        "prescriptions": {"accessLevel": "none"},
    }
    access = await own_access(adapter, clock)
    viewer = acting(adapter, PROSPECTIVE)
    viewer = replace(viewer, profile=replace(viewer.profile, access=access))

    overview = service.overview(viewer, now=clock.now())

    assert access.record_level is RecordAccessLevel.NONE
    assert overview.unavailable is Unavailable.NOT_GRANTED
    assert not any(overview.sections.values())
    assert not access.prescriptions.allowed
