"""GP Connect HTTP calls per port operation, counted at the fake provider.

`tests/patients/test_gp_calls.py` counts port calls (sandbox adapter); one port call can
be several HTTP calls here, so each operation's count is pinned where it is made.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

from app.adapters.gpconnect import GPConnectAdapter
from app.gp.types import BookingRequest, RecordSection
from tests.adapters.gpconnect.fake_server import FakeGPConnect
from tests.adapters.gpconnect.test_adapter import P, search
from tests.conftest import FakeClock


async def sent(server: FakeGPConnect, operation: Awaitable[Any]) -> list[str]:
    """`METHOD last-path-segment` of each HTTP call `operation` made."""
    before = len(server.requests)
    await operation
    return [f"{r.method} {r.url.path.rsplit('/', 1)[-1]}" for r in server.requests[before:]]


async def test_a_record_section_is_one_structured_record_request(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect
) -> None:
    """No User Permissions call and no patient look-up: those come from the context."""
    calls = await sent(fake_server, adapter.list_record_entries(P, RecordSection.PROBLEMS))
    assert calls == ["POST $gpc.getstructuredrecord"]


async def test_documents_are_two_calls_and_a_document_one_more(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect
) -> None:
    fake_server.seed_document()
    before = len(fake_server.requests)
    documents = await adapter.list_documents(P)
    assert len(fake_server.requests) - before == 2  # documents Patient, DocumentReference
    calls = await sent(fake_server, adapter.get_document_content(P, documents[0].document_id))
    assert len(calls) == 1 and calls[0].startswith("GET ")


async def test_relationships_read_the_patient_once_then_from_memory(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect
) -> None:
    first = await sent(fake_server, adapter.list_relationships(P))
    assert first == ["POST $gpc.getstructuredrecord", f"GET {P}"]
    assert await sent(fake_server, adapter.list_relationships(P)) == [f"GET {P}"]


async def test_a_slot_search_is_one_call_per_two_weeks(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect, gp_clock: FakeClock
) -> None:
    now = gp_clock.now()
    assert await sent(fake_server, search(adapter, now, now + timedelta(days=14))) == ["GET Slot"]
    # Windows of 14 days overlapping by 12 hours: [0, 14], [13.5, 27.5], [27, 28].
    assert len(await sent(fake_server, search(adapter, now, now + timedelta(days=28)))) == 3


async def test_booking_and_cancelling_calls(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect, gp_clock: FakeClock
) -> None:
    """The POST and PUT answers carry no Practitioner or Location: each is read again."""
    now = gp_clock.now()
    slot = (await search(adapter, now, now + timedelta(days=3)))[0]
    before = len(fake_server.requests)
    booked = await adapter.book_appointment(
        BookingRequest(patient_ref=P, slot_id=slot.slot_id, actor_ref=P)
    )
    made = [r.method for r in fake_server.requests[before:]]
    assert made == ["POST", "GET"]
    cancel = adapter.cancel_appointment(P, booked.appointment_id, reason_code=None, actor_ref=P)
    assert [call.split()[0] for call in await sent(fake_server, cancel)] == ["GET", "PUT", "GET"]


async def test_an_order_reads_the_courses_then_posts_one_task_per_course(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect
) -> None:
    await adapter.get_patient(P)  # known since linkage
    order = adapter.request_prescription(P, ["mr-plan-1"], note=None, actor_ref=P)
    assert await sent(fake_server, order) == ["GET MedicationRequest", "POST Task"]
