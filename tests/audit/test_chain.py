"""The hash chain: intact chains verify; any change, deletion or reordering is found."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.audit.chain import (
    GENESIS_HASH,
    ChainFields,
    ChainProblem,
    VerificationResult,
    chain_hash,
    verify_chain,
)
from app.audit.models import AuditRecord
from tests.audit.conftest import WriteEvents, sample_events

ROWS = 5
table = AuditRecord.metadata.tables[AuditRecord.__tablename__]


async def verify(
    sessionmaker: async_sessionmaker[AsyncSession], **kwargs: Any
) -> VerificationResult:
    async with sessionmaker() as session:
        return await verify_chain(session, **kwargs)


async def tamper(engine: AsyncEngine, row: int, **values: Any) -> None:
    """Change a stored row behind the app's back, as someone with database access could."""
    async with engine.begin() as connection:
        await connection.execute(update(table).where(table.c.sequence == row).values(**values))


async def stored(engine: AsyncEngine, sequence: int) -> dict[str, Any]:
    async with engine.connect() as connection:
        row = (await connection.execute(select(table).where(table.c.sequence == sequence))).one()
    return dict(row._mapping)


async def test_an_empty_chain_verifies(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    result = await verify(sessionmaker)
    assert result.ok
    assert result.checked == 0
    assert "empty" in result.describe()


@pytest.mark.parametrize("batch_size", [1, 2, 1000])
async def test_a_written_chain_verifies(
    sessionmaker: async_sessionmaker[AsyncSession], write_events: WriteEvents, batch_size: int
) -> None:
    await write_events(sample_events(ROWS))
    result = await verify(sessionmaker, batch_size=batch_size)
    assert result.ok, result.describe()
    assert result.checked == ROWS
    assert result.tip_sequence == ROWS
    assert "intact" in result.describe()


async def test_each_row_links_to_the_one_before(
    sessionmaker: async_sessionmaker[AsyncSession], write_events: WriteEvents
) -> None:
    await write_events(sample_events(3))
    async with sessionmaker() as session:
        written = (await session.scalars(select(AuditRecord).order_by(AuditRecord.sequence))).all()
    assert [row.sequence for row in written] == [1, 2, 3]
    assert [row.previous_hash for row in written] == [GENESIS_HASH] + [
        row.hash for row in written[:-1]
    ]
    assert len({row.hash for row in written}) == 3


def _changed(field: str, current: Any) -> Any:
    """A different value of the right type for `field`."""
    match field:
        case "occurred_at":
            return current + timedelta(seconds=1)
        case "on_behalf":
            return not current
        case "previous_hash" | "hash":
            return "f" * 64
        case "action":
            return "sign_in" if current != "sign_in" else "sign_out"
        case "relationship_kind":
            return "carer" if current != "carer" else None
        case "outcome":
            return "refused"
        case "sequence":
            return 1000
        case "request_id" | "actor_id" | "patient_id" | "target":
            return f"{current}-changed"
    raise AssertionError(field)


TAMPERABLE = [column.name for column in table.columns]


@pytest.mark.parametrize("sequence", [1, 3, ROWS])
@pytest.mark.parametrize("field", TAMPERABLE)
async def test_changing_any_field_of_any_row_is_detected(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    write_events: WriteEvents,
    field: str,
    sequence: int,
) -> None:
    await write_events(sample_events(ROWS))
    before = await stored(engine, sequence)
    # Plain column types: write exactly what an UPDATE statement would.
    await tamper(engine, sequence, **{field: _changed(field, _raw(before[field]))})

    result = await verify(sessionmaker)

    assert not result.ok
    if field == "sequence":
        # The row now sits elsewhere; the gap it left is the first break.
        assert result.problem is ChainProblem.SEQUENCE_GAP
        assert result.broken_at == (sequence + 1 if sequence < ROWS else 1000)
    else:
        assert result.broken_at == sequence
        assert result.problem is (
            ChainProblem.PREVIOUS_HASH_MISMATCH
            if field == "previous_hash"
            else ChainProblem.HASH_MISMATCH
        )
    assert result.checked == sequence - 1
    assert f"BROKEN at entry number {result.broken_at}" in result.describe()


def _raw(value: Any) -> Any:
    return getattr(value, "value", value)


async def test_a_value_that_is_not_an_action_is_reported_not_a_crash(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], write_events: WriteEvents
) -> None:
    await write_events(sample_events(ROWS))
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE audit_events SET action = 'diary_read', outcome = 'x' WHERE sequence = 2")
        )
    result = await verify(sessionmaker)
    assert (result.broken_at, result.problem) == (2, ChainProblem.HASH_MISMATCH)


async def test_a_row_changed_and_rehashed_breaks_the_next_link(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], write_events: WriteEvents
) -> None:
    await write_events(sample_events(ROWS))
    row = await stored(engine, 3)
    values = {name: _raw(row[name]) for name in ChainFields.__slots__}
    values["target"] = "another-target"
    await tamper(engine, 3, target="another-target", hash=chain_hash(ChainFields(**values)))

    result = await verify(sessionmaker)
    assert (result.broken_at, result.problem) == (4, ChainProblem.PREVIOUS_HASH_MISMATCH)


@pytest.mark.parametrize("sequence", [1, 3])
async def test_deleting_a_row_is_detected(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    write_events: WriteEvents,
    sequence: int,
) -> None:
    await write_events(sample_events(ROWS))
    async with engine.begin() as connection:
        await connection.execute(delete(table).where(table.c.sequence == sequence))

    result = await verify(sessionmaker)
    assert (result.broken_at, result.problem) == (sequence + 1, ChainProblem.SEQUENCE_GAP)
    assert result.expected == str(sequence)
    assert f"entry numbered {sequence} is missing" in result.describe()


async def test_deleting_a_renumbered_row_is_detected(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], write_events: WriteEvents
) -> None:
    """Deleting row 3 and renumbering 4 and 5 down closes the gap but not the chain."""
    await write_events(sample_events(ROWS))
    async with engine.begin() as connection:
        await connection.execute(delete(table).where(table.c.sequence == 3))
        for sequence in (4, 5):
            await connection.execute(
                update(table).where(table.c.sequence == sequence).values(sequence=sequence - 1)
            )
    result = await verify(sessionmaker)
    assert (result.broken_at, result.problem) == (3, ChainProblem.PREVIOUS_HASH_MISMATCH)


async def test_reordering_rows_is_detected(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], write_events: WriteEvents
) -> None:
    await write_events(sample_events(ROWS))
    async with engine.begin() as connection:
        for old, new in ((2, -1), (4, 2), (-1, 4)):
            await connection.execute(
                update(table).where(table.c.sequence == old).values(sequence=new)
            )
    result = await verify(sessionmaker)
    assert not result.ok
    assert result.broken_at == 2


async def test_losing_the_newest_rows_shows_in_the_tip(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], write_events: WriteEvents
) -> None:
    """A chain cannot see its own truncation; the tip, kept elsewhere, can."""
    await write_events(sample_events(ROWS))
    intact = await verify(sessionmaker)
    async with engine.begin() as connection:
        await connection.execute(delete(table).where(table.c.sequence == ROWS))
    truncated = await verify(sessionmaker)
    assert truncated.ok
    assert (truncated.tip_sequence, intact.tip_sequence) == (ROWS - 1, ROWS)
    assert truncated.tip_hash != intact.tip_hash
