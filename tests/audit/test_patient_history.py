""" "Who has viewed or acted on my record": one patient's entries, newest first, by cursor."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.service import MAX_PAGE_SIZE, list_for_patient
from app.audit.types import AuditAction, AuditEntry, AuditEvent
from app.gp.types import RelationshipKind
from app.problems import InvalidCursor
from tests.audit.conftest import (
    OTHER_PATIENT,
    PATIENT,
    PATIENT_ACCOUNT,
    PROXY_ACCOUNT,
    WriteEvents,
)


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
            page = await list_for_patient(session, patient, limit=limit, cursor=cursor)
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
        page = await list_for_patient(session, PATIENT, limit=2)
    assert [entry.target for entry in page.entries] == ["problems", "allergies"]
    assert page.next_cursor is None


async def test_new_entries_do_not_shift_later_pages(
    sessionmaker: async_sessionmaker[AsyncSession], write_events: WriteEvents
) -> None:
    await write_events([viewed("allergies"), viewed("problems"), viewed("medications")])
    async with sessionmaker() as session:
        first = await list_for_patient(session, PATIENT, limit=2)
    await write_events([viewed("documents")])
    async with sessionmaker() as session:
        second = await list_for_patient(session, PATIENT, limit=2, cursor=first.next_cursor)
    assert [entry.target for entry in first.entries] == ["medications", "problems"]
    assert [entry.target for entry in second.entries] == ["allergies"]


async def test_no_entries_is_an_empty_page(
    sessionmaker: async_sessionmaker[AsyncSession], write_events: WriteEvents
) -> None:
    await write_events([viewed("allergies", patient=OTHER_PATIENT)])
    async with sessionmaker() as session:
        page = await list_for_patient(session, PATIENT)
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
    ],
)
async def test_a_bad_cursor_is_refused(
    sessionmaker: async_sessionmaker[AsyncSession], cursor: str
) -> None:
    async with sessionmaker() as session:
        with pytest.raises(InvalidCursor):
            await list_for_patient(session, PATIENT, cursor=cursor)


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1])
async def test_the_page_size_is_bounded(
    sessionmaker: async_sessionmaker[AsyncSession], limit: int
) -> None:
    async with sessionmaker() as session:
        with pytest.raises(ValueError, match="limit"):
            await list_for_patient(session, PATIENT, limit=limit)
