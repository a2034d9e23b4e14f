"""Writing the seed: `load`, `bootstrap` (seed, top up, re-age) and `fingerprint`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.adapters.sandbox import schema, tables
from app.adapters.sandbox.personas import seed_patients
from app.adapters.sandbox.seed.appointments import SLOT_DAYS, slot_rows
from app.adapters.sandbox.seed.people import DEFAULT_PRACTICES, PracticeSeed, practices_to_seed
from app.adapters.sandbox.seed.rows import SeedRows, _practice_rows, build_seed_rows

logger = logging.getLogger(__name__)


async def insert_rows(connection: AsyncConnection, rows: SeedRows) -> None:
    """Bulk-insert seed rows, parents before children."""
    for table in tables.metadata.sorted_tables:
        table_rows = rows.get(table.name)
        if table_rows:
            await connection.execute(insert(table), [dict(row) for row in table_rows])


async def clear(connection: AsyncConnection) -> None:
    """Empty every sandbox table (children first)."""
    if connection.dialect.name == "postgresql":
        names = ", ".join(table.name for table in tables.metadata.sorted_tables)
        await connection.execute(text(f"TRUNCATE {names}"))
        return
    for table in reversed(tables.metadata.sorted_tables):
        await connection.execute(delete(table))


async def load(engine: AsyncEngine, rows: SeedRows, *, reset: bool = True) -> None:
    """Upgrade the tables and load `rows`, emptying them first when `reset`."""
    await schema.upgrade(engine)
    async with engine.begin() as connection:
        if reset:
            await clear(connection)
        await insert_rows(connection, rows)


async def _meta(connection: AsyncConnection) -> dict[str, str]:
    result = await connection.execute(select(tables.meta.c.key, tables.meta.c.value))
    return {key: value for key, value in result.all()}


async def bootstrap(
    engine: AsyncEngine, today: date, practices: Sequence[PracticeSeed] = DEFAULT_PRACTICES
) -> str:
    """Make the sandbox ready for `today`: `seeded`, `topped_up` or `ready` (nothing to do).

    Safe to run from several processes at once: the seed is one transaction that
    starts by claiming the `seeded_on` key, and a top-up claims its day the same way.
    The tables are upgraded in place first, keeping every booking, order and message.
    """
    await schema.upgrade(engine)
    async with engine.connect() as connection:
        state = await _meta(connection)
    if "seeded_on" not in state:
        try:
            await load(engine, build_seed_rows(today, practices), reset=False)
        except IntegrityError:
            logger.info("sandbox already seeded by another process")
            return "ready"
        logger.info("sandbox seeded", extra={"seeded_on": today.isoformat()})
        return "seeded"
    return await top_up(engine, today, practices, state)


async def top_up(
    engine: AsyncEngine,
    today: date,
    practices: Sequence[PracticeSeed],
    state: dict[str, str],
) -> str:
    """Keep eight weeks of slots ahead, add newly configured practices, re-age personas."""
    wanted_until = today + timedelta(days=SLOT_DAYS - 1)
    slots_until = date.fromisoformat(state["slots_until"])
    aged_on = state.get("aged_on")
    async with engine.connect() as connection:
        existing = set((await connection.execute(select(tables.practices.c.ods_code))).scalars())
    missing = [p for p in practices_to_seed(practices) if p.ods_code not in existing]
    if slots_until >= wanted_until and aged_on == today.isoformat() and not missing:
        return "ready"
    async with engine.begin() as connection:
        # Claim this top-up: only one process moves the marker from what it read.
        claimed = await connection.execute(
            update(tables.meta)
            .where(tables.meta.c.key == "slots_until", tables.meta.c.value == state["slots_until"])
            .values(value=max(slots_until, wanted_until).isoformat())
        )
        if claimed.rowcount != 1:
            return "ready"
        for practice in missing:
            for name, rows in _practice_rows(practice, today).items():
                if rows:
                    await connection.execute(insert(_table(name)), rows)
        if slots_until < wanted_until:
            first = max(slots_until + timedelta(days=1), today)
            known = [p for p in practices_to_seed(practices) if p.ods_code in existing]
            stored = {
                row.ods_code: row
                for row in await connection.execute(
                    select(tables.practices.c.ods_code, tables.practices.c.name)
                )
            }
            new_slots = [
                slot
                for practice in known
                for slot in slot_rows(
                    PracticeSeed(practice.ods_code, stored[practice.ods_code].name,
                                 practice.profile),
                    first,
                    wanted_until,
                )
            ]  # fmt: skip
            if new_slots:
                await connection.execute(insert(tables.slots), new_slots)
            # Free slots in the past are of no use to anyone; booked ones stay.
            cutoff = datetime.combine(today - timedelta(days=1), time(0), tzinfo=UTC)
            await connection.execute(
                delete(tables.slots).where(
                    tables.slots.c.status == "free", tables.slots.c.end < cutoff
                )
            )
        if aged_on != today.isoformat():
            # Birth dates count back from today, so ages (16 three weeks ago) stay right.
            # One executemany, not a statement per patient.
            await connection.execute(
                update(tables.patients)
                .where(tables.patients.c.patient_ref == bindparam("ref"))
                .values(birth_date=bindparam("born")),
                [{"ref": p.patient_ref, "born": p.birth_date} for p in seed_patients(today)],
            )
            await connection.execute(
                update(tables.meta)
                .where(tables.meta.c.key == "aged_on")
                .values(value=today.isoformat())
            )
    logger.info("sandbox topped up", extra={"slots_until": wanted_until.isoformat()})
    return "topped_up"


def _table(name: str) -> Table:
    return tables.metadata.tables[name]


async def fingerprint(connection: AsyncConnection) -> tuple[Any, ...]:
    """A cheap summary that changes whenever the adapter writes anything.

    Test fixtures compare it with the one taken after seeding, to re-seed a
    shared database only when a test changed it.
    """
    counts = [
        select(func.count()).select_from(table).scalar_subquery()
        for table in tables.metadata.sorted_tables
    ]
    changes = [
        select(func.coalesce(func.sum(tables.patients.c.lock_version), 0)).scalar_subquery(),
        select(func.count())
        .select_from(tables.slots)
        .where(tables.slots.c.status == "booked")
        .scalar_subquery(),
        select(func.coalesce(func.sum(tables.appointments.c.version), 0)).scalar_subquery(),
        select(func.count())
        .select_from(tables.prescription_requests)
        .where(tables.prescription_requests.c.status == "requested")
        .scalar_subquery(),
    ]
    summary = (await connection.execute(select(*counts, *changes))).one()
    meta = (await connection.execute(select(tables.meta).order_by(tables.meta.c.key))).all()
    practices = (
        await connection.execute(select(tables.practices).order_by(tables.practices.c.ods_code))
    ).all()
    return (tuple(summary), tuple(map(tuple, meta)), tuple(map(tuple, practices)))
