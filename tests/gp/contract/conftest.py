"""The contract suite's one fixture: an adapter plus the scenario data it needs.

Each adapter kind supplies a `Contract`: the adapter, a patient with a bookable window,
one repeat and one acute course, and a way to take the GP system down. Adding a kind
means adding its name to `ADAPTER_KINDS` and a builder to `BUILDERS`.

The sandbox runs on SQLite and PostgreSQL through `database_url` (tests/conftest.py);
GP Connect has no database, so it runs once.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import respx

from app.clock import today as clock_today
from app.gp.port import GPSystem
from app.gp.types import CourseKind, PrescriptionRequestStatus
from tests.adapters.gpconnect import fake_server
from tests.adapters.gpconnect.conftest import open_adapter, provider
from tests.conftest import FakeClock

ADAPTER_KINDS = ["gpconnect", "sandbox"]
NO_DATABASE = {"gpconnect"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run adapters without a database once, not once per database backend."""
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("contract") in NO_DATABASE and params.get("database_url") != "sqlite":
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@dataclass
class Contract:
    adapter: GPSystem
    patient_ref: str
    actor_ref: str
    window_start: datetime
    window_end: datetime
    repeat_course_id: str
    acute_course_id: str
    unknown_appointment_id: str
    take_down: Callable[[], None]
    now: Callable[[], datetime]


@contextlib.asynccontextmanager
async def gpconnect_contract(_database_url: str) -> AsyncIterator[Contract]:
    clock = FakeClock()
    with respx.mock(assert_all_called=False) as router:
        server = provider(clock.now).install(router)

        def take_down() -> None:
            server.outage = True

        async with open_adapter(clock) as adapter:
            yield Contract(
                adapter=adapter,
                patient_ref=fake_server.PATIENT_REF,  # the NHS number
                actor_ref=fake_server.PATIENT_REF,
                window_start=clock.now() - timedelta(days=2),
                window_end=clock.now() + timedelta(days=7),
                repeat_course_id=fake_server.REPEAT_COURSE,
                acute_course_id=fake_server.ACUTE_COURSE,
                unknown_appointment_id="does-not-exist",
                take_down=take_down,
                now=clock.now,
            )


@contextlib.asynccontextmanager
async def sandbox_contract(database_url: str) -> AsyncIterator[Contract]:
    from app.adapters.sandbox import create_sandbox_factory
    from app.adapters.sandbox.personas import EMIS_PRACTICE, patient_ref_for
    from app.adapters.sandbox.tables import metadata as sandbox_metadata
    from app.config import Settings
    from app.db import create_engine
    from app.gp.registry import load_practices

    settings = Settings(_env_file=None, app_env="test", database_url=database_url)
    engine = create_engine(settings.sandbox_url)
    async with engine.begin() as connection:  # a fresh sandbox for every scenario
        await connection.run_sync(sandbox_metadata.drop_all)
    await engine.dispose()
    clock = FakeClock()
    async with contextlib.AsyncExitStack() as stack:
        factory = await create_sandbox_factory(settings, clock, stack)
        (practice,) = [
            p for p in load_practices(settings.practices_file) if p.ods_code == EMIS_PRACTICE
        ]
        adapter = factory(practice)
        patient_ref = patient_ref_for("olivia")
        courses = await adapter.list_courses(patient_ref)
        pending = {
            course_id
            for request in await adapter.list_prescription_requests(patient_ref)
            if request.status is PrescriptionRequestStatus.REQUESTED
            for course_id in request.course_ids
        }
        today = clock_today(clock)
        repeat = next(
            c
            for c in courses
            if c.kind is CourseKind.REPEAT
            and c.course_id not in pending
            and (c.review_due_on is None or c.review_due_on > today)
        )
        acute = next(c for c in courses if c.kind is CourseKind.ACUTE)

        def take_down() -> None:
            factory.faults(EMIS_PRACTICE).outage = True

        yield Contract(
            adapter=adapter,
            patient_ref=patient_ref,
            actor_ref=patient_ref,
            window_start=clock.now() - timedelta(days=2),
            window_end=clock.now() + timedelta(days=7),
            repeat_course_id=repeat.course_id,
            acute_course_id=acute.course_id,
            unknown_appointment_id="does-not-exist",
            take_down=take_down,
            now=clock.now,
        )


BUILDERS: dict[str, Callable[[str], Any]] = {
    "gpconnect": gpconnect_contract,
    "sandbox": sandbox_contract,
}


@pytest.fixture(params=ADAPTER_KINDS)
async def contract(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Contract]:
    async with BUILDERS[request.param](database_url) as built:
        yield built
