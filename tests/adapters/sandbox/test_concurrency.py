"""Many OS processes race for one slot on PostgreSQL: exactly one books it."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.adapters.sandbox import SandboxFactory, tables
from app.adapters.sandbox.personas import seed_patients
from app.clock import today
from tests.adapters.sandbox.booking_worker import book_once
from tests.conftest import FakeClock

PROCESSES = 10


@pytest.mark.postgres_only
@pytest.mark.timeout(60)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_processes_racing_for_one_slot_book_it_once(
    factory: SandboxFactory, sandbox_database_url: str, clock: FakeClock
) -> None:
    emis = factory.systems["A81001"]
    start = clock.now() + timedelta(days=3)
    patients = [p.patient_ref for p in seed_patients(today(clock)) if p.ods_code == "A81001"]
    slot = (await emis.search_slots(start, start + timedelta(days=7), patient_ref=patients[0]))[0]

    # A fork server imports the worker once, then forks each racer: fast, and
    # free of this process's running event loop (plain fork would inherit it).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.adapters.sandbox.booking_worker"])
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    workers = [
        context.Process(
            target=book_once,
            args=(
                sandbox_database_url,
                slot.slot_id,
                patients[i % len(patients)],
                barrier,
                results,
            ),
        )
        for i in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    outcomes = sorted(results.get(timeout=45) for _ in workers)
    for worker in workers:
        worker.join(timeout=10)

    assert outcomes == ["booked"] + ["taken"] * (PROCESSES - 1)
    async with emis.database.engine.connect() as connection:
        count = await connection.scalar(
            select(func.count())
            .select_from(tables.appointments)
            .where(tables.appointments.c.slot_id == slot.slot_id)
        )
    assert count == 1
