"""Seeding: deterministic, idempotent, topped up on a later day without losing bookings."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from app.adapters.sandbox import tables
from app.adapters.sandbox.personas import patient_ref_for, seed_patients
from app.adapters.sandbox.seed import SLOT_DAYS, bootstrap, build_seed_rows, fingerprint, load
from app.clock import LONDON
from app.db import create_engine
from tests.frozen import SUITE_TODAY


def test_seed_rows_are_deterministic_and_moderate() -> None:
    day = date(2027, 3, 10)
    first, second = build_seed_rows(day), build_seed_rows(day)
    assert first == second
    assert 1000 < len(first["sandbox_slots"]) < 4000


async def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    async with engine.connect() as connection:
        counts = {
            table.name: await connection.scalar(select(func.count()).select_from(table)) or 0
            for table in tables.metadata.sorted_tables
        }
    await engine.dispose()
    return counts


async def test_bootstrap_is_idempotent(sandbox_database_url: str) -> None:
    engine = create_engine(sandbox_database_url)
    before = await _counts(sandbox_database_url)
    assert await bootstrap(engine, SUITE_TODAY) == "ready"
    assert await bootstrap(engine, SUITE_TODAY) == "ready"
    assert await _counts(sandbox_database_url) == before
    await engine.dispose()


async def test_empty_database_is_seeded(tmp_path: object) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/fresh.db"
    engine = create_engine(url)
    assert await bootstrap(engine, SUITE_TODAY) == "seeded"
    assert await bootstrap(engine, SUITE_TODAY) == "ready"
    await engine.dispose()


async def test_top_up_on_a_later_day_keeps_bookings(sandbox_database_url: str) -> None:
    today = SUITE_TODAY
    earlier = today - timedelta(days=10)
    engine = create_engine(sandbox_database_url)
    await load(engine, build_seed_rows(earlier))
    async with engine.connect() as connection:
        booked_before = (
            await connection.execute(
                select(tables.appointments.c.appointment_id, tables.appointments.c.slot_id)
            )
        ).all()
    assert await bootstrap(engine, today) == "topped_up"
    assert await bootstrap(engine, today) == "ready"
    async with engine.connect() as connection:
        last = await connection.scalar(select(func.max(tables.slots.c.start)))
        booked_after = (
            await connection.execute(
                select(tables.appointments.c.appointment_id, tables.appointments.c.slot_id)
            )
        ).all()
        booked_slots = set(
            (
                await connection.execute(
                    select(tables.slots.c.slot_id).where(tables.slots.c.status == "booked")
                )
            ).scalars()
        )
        chloe = await connection.scalar(
            select(tables.patients.c.birth_date).where(
                tables.patients.c.patient_ref == patient_ref_for("chloe")
            )
        )
        state = await fingerprint(connection)
    assert last is not None
    assert last.astimezone(LONDON).date() >= today + timedelta(days=SLOT_DAYS - 4)
    assert booked_after == booked_before
    assert {slot for _, slot in booked_after if slot} <= booked_slots
    # Re-aged: the 16-year-old still turned 16 three weeks before today.
    assert (
        chloe
        == next(
            p for p in seed_patients(today) if p.patient_ref == patient_ref_for("chloe")
        ).birth_date
    )
    assert state
    await engine.dispose()
