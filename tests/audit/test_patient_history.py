""" "Who has viewed or acted on my record": one patient's entries, newest first, by cursor."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.models import AuditRecord
from app.audit.service import MAX_PAGE_SIZE, list_for_patient
from app.audit.types import AuditAction, AuditEntry, AuditEvent
from app.cursors import CursorKey, ListCursors
from app.gp.types import RelationshipKind
from app.problems import InvalidCursor
from tests.audit.conftest import (
    OTHER_PATIENT,
    PATIENT,
    PATIENT_ACCOUNT,
    PROXY_ACCOUNT,
    WriteEvents,
)
from tests.forged_cursors import altered, b64

KEY = CursorKey("test-cursor-secret")


def log_of(patient: str = PATIENT, viewer: str = PATIENT_ACCOUNT) -> ListCursors:
    """The cursors of `patient`'s access log as `viewer` pages it."""
    return KEY.bind("access-log", patient_id=patient, viewer_id=viewer)


def viewed(section: str, *, by_proxy: bool = False, patient: str = PATIENT) -> AuditEvent:
    return AuditEvent(
        action=AuditAction.RECORD_SECTION_VIEWED,
        actor_id=PROXY_ACCOUNT if by_proxy else PATIENT_ACCOUNT,
        patient_id=patient,
        on_behalf=by_proxy,
        relationship_kind=RelationshipKind.PARENT if by_proxy else None,
        target=section,
    )


async def all_pages(
    sessionmaker: async_sessionmaker[AsyncSession], patient: str, limit: int
) -> list[list[AuditEntry]]:
    pages: list[list[AuditEntry]] = []
    cursor: str | None = None
    async with sessionmaker() as session:
        while True:
            page = await list_for_patient(
                session, patient, cursors=log_of(patient), limit=limit, cursor=cursor
            )
            pages.append(page.entries)
            if page.next_cursor is None:
                return pages
            cursor = page.next_cursor


async def test_newest_first_in_pages_with_the_patient_and_their_proxies(
    sessionmaker: async_sessionmaker[AsyncSession], write_events: WriteEvents
) -> None:
    await write_events(
        [
            AuditEvent(action=AuditAction.SIGN_IN, actor_id=PATIENT_ACCOUNT),
            viewed("allergies"),
            viewed("medications", by_proxy=True),
            viewed("allergies", patient=OTHER_PATIENT),
            viewed("problems"),
            viewed("immunisations", by_proxy=True),
            viewed("documents"),
        ]
    )

    pages = await all_pages(sessionmaker, PATIENT, limit=2)

    assert [[entry.target for entry in page] for page in pages] == [
        ["documents", "immunisations"],
        ["problems", "medications"],
        ["allergies"],
    ]
    entries = [entry for page in pages for entry in page]
    times = [entry.occurred_at for entry in entries]
    assert times == sorted(times, reverse=True)
    by_proxy = {entry.target for entry in entries if entry.on_behalf}
    assert by_proxy == {"medications", "immunisations"}
    assert {entry.actor_id for entry in entries if entry.on_behalf} == {PROXY_ACCOUNT}
    assert {entry.relationship_kind for entry in entries if entry.on_behalf} == {
        RelationshipKind.PARENT
    }


async def test_an_exact_last_page_has_no_next_cursor(
    sessionmaker: async_sessionmaker[AsyncSession], write_events: WriteEvents
) -> None:
    await write_events([viewed("allergies"), viewed("problems")])
    async with sessionmaker() as session:
        page = await list_for_patient(session, PATIENT, cursors=log_of(), limit=2)
    assert [entry.target for entry in page.entries] == ["problems", "allergies"]
    assert page.next_cursor is None


async def test_new_entries_do_not_shift_later_pages(
    sessionmaker: async_sessionmaker[AsyncSession], write_events: WriteEvents
) -> None:
    await write_events([viewed("allergies"), viewed("problems"), viewed("medications")])
    async with sessionmaker() as session:
        first = await list_for_patient(session, PATIENT, cursors=log_of(), limit=2)
    await write_events([viewed("documents")])
    async with sessionmaker() as session:
        second = await list_for_patient(
            session, PATIENT, cursors=log_of(), limit=2, cursor=first.next_cursor
        )
    assert [entry.target for entry in first.entries] == ["medications", "problems"]
    assert [entry.target for entry in second.entries] == ["allergies"]


async def test_no_entries_is_an_empty_page(
    sessionmaker: async_sessionmaker[AsyncSession], write_events: WriteEvents
) -> None:
    await write_events([viewed("allergies", patient=OTHER_PATIENT)])
    async with sessionmaker() as session:
        page = await list_for_patient(session, PATIENT, cursors=log_of())
    assert page.entries == []
    assert page.next_cursor is None


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not-a-cursor",
        "YTEuLTE",
        "YTEuwrI",  # "a1.²": a digit, but not one int() reads
        "!!!",
        "YTEuMTIzNDU2Nzg5MDEyMzQ1Njc4OTA",
        "YTEuMQ",  # "a1.1": the old unsigned cursor
        "WyIxIl0",  # '["1"]': a position with no signature
        "WyIxIl0.",
        "WyIxIl0.AAAAAAAAAAAAAAAAAAAAAA",  # '["1"]' with a made-up signature
    ],
)
async def test_a_bad_cursor_is_refused(
    sessionmaker: async_sessionmaker[AsyncSession], cursor: str
) -> None:
    async with sessionmaker() as session:
        with pytest.raises(InvalidCursor):
            await list_for_patient(session, PATIENT, cursors=log_of(), cursor=cursor)


async def test_an_old_unsigned_cursor_is_refused(
    sessionmaker: async_sessionmaker[AsyncSession], write_events: WriteEvents
) -> None:
    await write_events([viewed("allergies"), viewed("problems"), viewed("medications")])
    async with sessionmaker() as session:
        newest = await session.scalar(
            select(func.max(AuditRecord.sequence)).where(AuditRecord.patient_id == PATIENT)
        )
        assert newest is not None
        # What the log used to issue after its first entry: base64 of "a1.<sequence>".
        for old in (b64(f"a1.{newest}"), b64(f"a1.{newest + 1}")):
            with pytest.raises(InvalidCursor):
                await list_for_patient(session, PATIENT, cursors=log_of(), limit=1, cursor=old)


async def test_a_cursor_of_another_log_is_refused(
    sessionmaker: async_sessionmaker[AsyncSession], write_events: WriteEvents
) -> None:
    await write_events(
        [
            viewed(section, patient=patient)
            for section in ("allergies", "problems", "documents")
            for patient in (PATIENT, OTHER_PATIENT)
        ]
    )
    async with sessionmaker() as session:
        theirs = await list_for_patient(
            session, OTHER_PATIENT, cursors=log_of(OTHER_PATIENT), limit=1
        )
        by_proxy = await list_for_patient(
            session, PATIENT, cursors=log_of(viewer=PROXY_ACCOUNT), limit=1
        )
        mine = await list_for_patient(session, PATIENT, cursors=log_of(), limit=1)
        assert None not in (theirs.next_cursor, by_proxy.next_cursor, mine.next_cursor)
        # Another patient's cursor, and one issued to another viewer, are not this log's.
        for cursor in (theirs.next_cursor, by_proxy.next_cursor):
            with pytest.raises(InvalidCursor):
                await list_for_patient(session, PATIENT, cursors=log_of(), cursor=cursor)
        # This log's own cursor, with its position changed, is refused as well.
        assert mine.next_cursor is not None
        for forged in altered(mine.next_cursor, "999999"):
            with pytest.raises(InvalidCursor):
                await list_for_patient(session, PATIENT, cursors=log_of(), cursor=forged)
        # While it reads on in its own log.
        rest = await list_for_patient(session, PATIENT, cursors=log_of(), cursor=mine.next_cursor)
        assert [entry.target for entry in rest.entries] == ["problems", "allergies"]


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1])
async def test_the_page_size_is_bounded(
    sessionmaker: async_sessionmaker[AsyncSession], limit: int
) -> None:
    async with sessionmaker() as session:
        with pytest.raises(ValueError, match="limit"):
            await list_for_patient(session, PATIENT, cursors=log_of(), limit=limit)
