"""Who sees what at a GP Connect practice, from the User Permissions API's answer.

A permissions call that fails grants nothing (no fallback); a practice narrowing the
permissions is read afresh by the next context (nothing kept by the adapter); the
practice's relationships are the patient's own only (GP Connect has no proxies); and
the document ids the patient is shown are opaque, not the provider's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.adapters.gpconnect import GPConnectAdapter
from app.auth.deps import SignedIn
from app.db import create_sessionmaker
from app.gp.errors import GPError
from app.gp.types import RecordAccessLevel, RecordGrants, RelationshipKind
from app.patients.context import fetch_facts, patient_key
from app.records import service
from tests.adapters.gpconnect.conftest import open_adapter, provider
from tests.adapters.gpconnect.fake_server import NHS_NUMBER, FakeGPConnect
from tests.conftest import FakeClock
from tests.frozen import SUITE_NOW
from tests.records.test_gpconnect_record import ANY_DATE, PROSPECTIVE, acting

Respond = Callable[[httpx.Request, str], httpx.Response]

FAILURES: dict[str, Respond] = {
    "server error": lambda request, ident: httpx.Response(500, json={}),
    "access denied": lambda request, ident: httpx.Response(
        403,
        json={
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "forbidden", "diagnostics": "denied"}],
        },
    ),
    "unauthorised": lambda request, ident: httpx.Response(401, json={}),
    "not found": lambda request, ident: httpx.Response(404, json={}),
}


class _Registry:
    def __init__(self, adapter: GPConnectAdapter) -> None:
        self.adapter = adapter

    def for_practice(self, ods_code: str) -> GPConnectAdapter:
        assert ods_code == self.adapter.ods_code
        return self.adapter


def signed_in(adapter: GPConnectAdapter) -> SignedIn:
    return SignedIn(
        session_id="s",
        account_id="acct-1",
        nhs_login_sub="sub",
        nhs_number=NHS_NUMBER,
        identity_level="P9",
        ods_code=adapter.ods_code,
        gp_user_ref=NHS_NUMBER,
        expires_at=SUITE_NOW + timedelta(hours=1),
        idle_expires_at=SUITE_NOW + timedelta(minutes=30),
        via="bearer",
    )


async def _served(
    clock: FakeClock, permissions: Respond | None = None
) -> AsyncIterator[tuple[GPConnectAdapter, FakeGPConnect]]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        server = provider(clock.now)
        if permissions is not None:
            server._user_permissions = permissions  # type: ignore[method-assign,assignment]
        server.install(router)
        async with open_adapter(clock) as adapter:
            yield adapter, server


@pytest.fixture
async def gpconnect(clock: FakeClock) -> AsyncIterator[tuple[GPConnectAdapter, FakeGPConnect]]:
    async for served in _served(clock):
        yield served


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with create_sessionmaker(engine)() as db:
        yield db


@pytest.mark.parametrize("failure", sorted(FAILURES))
async def test_a_failed_permissions_call_grants_nothing_and_builds_no_context(
    clock: FakeClock, failure: str
) -> None:
    async for adapter, _ in _served(clock, FAILURES[failure]):
        with pytest.raises(GPError):
            await adapter.get_record_access(NHS_NUMBER)
        with pytest.raises(GPError):
            await adapter.list_relationships(NHS_NUMBER)
        with pytest.raises(GPError):
            await fetch_facts(_Registry(adapter), signed_in(adapter))


async def test_a_permissions_answer_that_is_not_json_grants_nothing(clock: FakeClock) -> None:
    def not_json(request: httpx.Request, ident: str) -> httpx.Response:
        return httpx.Response(200, text="<html>full</html>")

    async for adapter, _ in _served(clock, not_json):
        access = await adapter.get_record_access(NHS_NUMBER)
        assert access.grants == RecordGrants()
        (own,) = await adapter.list_relationships(NHS_NUMBER)
        assert own.permissions.record_level is RecordAccessLevel.NONE
        assert own.permissions.prescriptions is False


async def test_a_narrowed_permission_is_read_afresh_not_kept_from_before(
    gpconnect: tuple[GPConnectAdapter, FakeGPConnect],
) -> None:
    adapter, server = gpconnect
    registry = _Registry(adapter)
    before = await fetch_facts(registry, signed_in(adapter))
    (own,) = before.relationships
    assert own.permissions.record_level is RecordAccessLevel.FULL  # the example: full

    server.permissions = {
        "medicalRecord": {
            "effectiveDate": "2022-11-01",
            "current": {"accessLevel": "summary"},
            "historical": {"accessLevel": "summary"},
        },
        "prescriptions": {"accessLevel": "view"},
    }
    after = await fetch_facts(registry, signed_in(adapter))

    (own,) = after.relationships
    assert own.permissions.record_level is RecordAccessLevel.SUMMARY
    assert own.permissions.prescriptions is False
    access = after.record_access.get(patient_key(own.patient))
    assert access is not None and access.grants == RecordGrants(summary=True)


async def test_a_partial_answer_never_widens_the_last_one(
    gpconnect: tuple[GPConnectAdapter, FakeGPConnect],
) -> None:
    adapter, server = gpconnect
    server.permissions = {"medicalRecord": {"current": {"accessLevel": "full"}}}
    facts = await fetch_facts(_Registry(adapter), signed_in(adapter))
    (own,) = facts.relationships
    assert own.permissions.record_level is RecordAccessLevel.NONE
    assert own.permissions.prescriptions is False
    access = facts.record_access.get(patient_key(own.patient))
    assert access is not None and access.grants == RecordGrants()


async def test_the_practice_reports_only_the_patients_own_record(
    gpconnect: tuple[GPConnectAdapter, FakeGPConnect],
) -> None:
    adapter, _ = gpconnect
    relationships = await adapter.list_relationships(NHS_NUMBER)
    assert [r.kind for r in relationships] == [RelationshipKind.SELF]
    assert relationships[0].patient.nhs_number == NHS_NUMBER


async def test_document_ids_shown_are_opaque_not_the_providers(
    gpconnect: tuple[GPConnectAdapter, FakeGPConnect], session: AsyncSession, clock: FakeClock
) -> None:
    adapter, server = gpconnect
    raw: dict[str, Any] = server.seed_document()
    viewer = acting(adapter, PROSPECTIVE)

    page = await service.read_documents(
        viewer, session, clock, dates=ANY_DATE, limit=10, cursor=None
    )

    assert page.documents is not None
    (document,) = page.documents
    assert raw["id"] not in document.document_id
    assert not document.document_id.isdigit()
