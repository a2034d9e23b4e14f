"""The sandbox tables' own migrations: upgrades keep demo bookings, and older tables are adopted.

Each test runs on SQLite and on PostgreSQL, on an empty database of its own.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sandbox import SandboxGPSystem, create_sandbox_factory, schema, tables
from app.adapters.sandbox.personas import EMIS_PRACTICE, patient_ref_for
from app.adapters.sandbox.seed import bootstrap
from app.config import Settings
from app.db import create_engine
from app.gp.registry import load_practices
from app.gp.types import BookingRequest
from tests.conftest import FakeClock, _create_database
from tests.frozen import SUITE_TODAY

# A later version's revision, as a new file in the history would bring it.
NEW_VERSION = '''
"""Appointments remember whether a reminder was sent."""

import sqlalchemy as sa
from alembic import op

revision = "9001"
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sandbox_appointments", sa.Column("reminder_sent", sa.Boolean()))


def downgrade() -> None:
    with op.batch_alter_table("sandbox_appointments") as batch:
        batch.drop_column("reminder_sent")
'''


@pytest.fixture(scope="session")
def postgres_migrations_url() -> str | None:
    """A PostgreSQL database for these tests alone (else the test database, cleaned after)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return None
    parsed = make_url(url)
    name = f"{parsed.database}_sandbox_migrations"
    if asyncio.run(_create_database(url, name)):
        return parsed.set(database=name).render_as_string(hide_password=False)
    return url


@pytest.fixture
async def sandbox_url(
    database_url: str, tmp_path: Path, postgres_migrations_url: str | None
) -> AsyncIterator[str]:
    """An empty sandbox database on the test's backend."""
    if make_url(database_url).get_backend_name() == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}"
        return
    assert postgres_migrations_url is not None
    await _drop_everything(postgres_migrations_url)
    yield postgres_migrations_url
    await _drop_everything(postgres_migrations_url)


@pytest.fixture
async def sandbox(sandbox_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sandbox_url)
    yield engine
    await engine.dispose()


async def _drop_everything(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(schema.drop_all)
    finally:
        await engine.dispose()


@pytest.fixture
def new_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call to make the sandbox's history one revision longer, as the next release would."""

    def install() -> None:
        versions = tmp_path / "next-release"
        versions.mkdir()
        head = ScriptDirectory.from_config(schema.alembic_config()).get_current_head()
        (versions / "9001_reminder_sent.py").write_text(NEW_VERSION.format(head=head))
        shipped = schema.alembic_config

        def with_next_release(connection: Connection | None = None) -> Config:
            config = shipped(connection)
            locations = [schema.MIGRATIONS / "versions", versions]
            config.set_main_option("version_locations", os.pathsep.join(map(str, locations)))
            return config

        monkeypatch.setattr(schema, "alembic_config", with_next_release)

    return install


@asynccontextmanager
async def serving(settings: Settings, clock: FakeClock) -> AsyncIterator[SandboxGPSystem]:
    """The service's sandbox from start to stop, started as `make run` starts it."""
    async with AsyncExitStack() as stack:
        factory = await create_sandbox_factory(settings, clock, stack)
        (practice,) = [
            p for p in load_practices(settings.practices_file) if p.ods_code == EMIS_PRACTICE
        ]
        system = factory(practice)
        assert isinstance(system, SandboxGPSystem)
        yield system


async def _revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(
                sync, opts={"version_table": schema.VERSION_TABLE}
            ).get_current_revision()
        )


async def _counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        return {
            table.name: await connection.scalar(select(func.count()).select_from(table)) or 0
            for table in tables.metadata.sorted_tables
        }


async def _columns(engine: AsyncEngine, table: str) -> set[str]:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: {column["name"] for column in inspect(sync).get_columns(table)}
        )


async def _run(engine: AsyncEngine, *steps: tuple[str, str]) -> None:
    async with engine.begin() as connection:

        def run(sync: Connection) -> None:
            for step, target in steps:
                getattr(command, step)(schema.alembic_config(sync), target)

        await connection.run_sync(run)


def _head() -> str | None:
    return ScriptDirectory.from_config(schema.alembic_config()).get_current_head()


async def test_models_and_migrations_agree(sandbox: AsyncEngine) -> None:
    await schema.upgrade(sandbox)
    async with sandbox.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(
                    sync, opts={"compare_type": True, "version_table": schema.VERSION_TABLE}
                ),
                tables.metadata,
            )
        )
        names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert diff == []
    assert names == set(tables.metadata.tables) | {schema.VERSION_TABLE}


async def test_upgrade_downgrade_upgrade(sandbox: AsyncEngine) -> None:
    await _run(sandbox, ("upgrade", "head"), ("downgrade", "base"))
    assert await _revision(sandbox) is None
    assert await _sandbox_tables(sandbox) == set()
    await _run(sandbox, ("upgrade", "head"))
    assert await _revision(sandbox) == _head()
    assert await _sandbox_tables(sandbox) == set(tables.metadata.tables)


async def _sandbox_tables(sandbox: AsyncEngine) -> set[str]:
    async with sandbox.connect() as connection:
        names = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    return {name for name in names if schema.is_sandbox_table(name)}


async def test_a_demo_booking_outlives_a_restart_on_a_new_day_and_an_upgrade(
    make_settings: Callable[..., Settings],
    sandbox_url: str,
    sandbox: AsyncEngine,
    clock: FakeClock,
    new_version: Callable[[], None],
) -> None:
    settings = make_settings(sandbox_database_url=sandbox_url)
    patient = patient_ref_for("olivia")
    async with serving(settings, clock) as emis:
        start = clock.now() + timedelta(days=3)
        slot = (await emis.search_slots(start, start + timedelta(days=7), patient_ref=patient))[0]
        booked = await emis.book_appointment(
            BookingRequest(patient_ref=patient, slot_id=slot.slot_id, actor_ref=patient,
                           reason="Demo: sore throat")
        )  # fmt: skip

    clock.advance(timedelta(days=1))
    async with serving(settings, clock) as emis:
        assert booked in await emis.list_appointments(patient)

    new_version()
    clock.advance(timedelta(days=1))
    async with serving(settings, clock) as emis:
        assert booked in await emis.list_appointments(patient)
    assert await _revision(sandbox) == "9001"
    assert "reminder_sent" in await _columns(sandbox, "sandbox_appointments")


async def test_tables_from_before_migrations_are_adopted_with_their_rows(
    sandbox: AsyncEngine, new_version: Callable[[], None]
) -> None:
    assert await bootstrap(sandbox, SUITE_TODAY) == "seeded"
    async with sandbox.begin() as connection:
        # As a database made before migrations: the baseline's tables, with rows, and
        # no version table (the old bootstrap's `create_all` made that same schema).
        await connection.run_sync(
            lambda sync: command.downgrade(schema.alembic_config(sync), schema.BASELINE)
        )
        await connection.exec_driver_sql(f"DROP TABLE {schema.VERSION_TABLE}")
        await connection.execute(
            tables.appointments.update()
            .where(tables.appointments.c.patient_ref == patient_ref_for("olivia"))
            .values(reason="Booked before migrations")
        )
    before = await _counts(sandbox)

    new_version()
    assert await bootstrap(sandbox, SUITE_TODAY) == "ready"

    assert await _revision(sandbox) == "9001"
    assert await _counts(sandbox) == before
    async with sandbox.connect() as connection:
        reasons = set((await connection.execute(select(tables.appointments.c.reason))).scalars())
    assert "Booked before migrations" in reasons


async def test_tables_from_a_version_before_the_baseline_are_made_again_and_seeded(
    sandbox: AsyncEngine,
) -> None:
    assert await bootstrap(sandbox, SUITE_TODAY) == "seeded"
    async with sandbox.begin() as connection:  # as a version before the baseline left them
        await connection.exec_driver_sql(f"DROP TABLE {schema.VERSION_TABLE}")
        await connection.exec_driver_sql("ALTER TABLE sandbox_patients DROP COLUMN tags")

    assert await bootstrap(sandbox, SUITE_TODAY) == "seeded"

    assert await _revision(sandbox) == _head()
    async with sandbox.connect() as connection:
        tags = await connection.scalar(select(tables.patients.c.tags).limit(1))
    assert tags is not None


async def test_tables_dropped_without_their_version_are_made_again(sandbox: AsyncEngine) -> None:
    assert await bootstrap(sandbox, SUITE_TODAY) == "seeded"
    async with sandbox.begin() as connection:
        await connection.run_sync(tables.metadata.drop_all)

    assert await bootstrap(sandbox, SUITE_TODAY) == "seeded"
    assert (await _counts(sandbox))["sandbox_patients"] > 0


async def test_workers_starting_at_once_upgrade_and_seed_once(sandbox_url: str) -> None:
    """Each with its own connections, as the service's worker processes have."""
    engines = [create_engine(sandbox_url) for _ in range(4)]
    try:
        outcomes = await asyncio.gather(*(bootstrap(e, SUITE_TODAY) for e in engines))
        assert sorted(outcomes) == ["ready", "ready", "ready", "seeded"]
        assert await _revision(engines[0]) == _head()
    finally:
        for engine in engines:
            await engine.dispose()
