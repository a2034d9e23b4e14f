"""Shared fixtures: settings, a database per backend, and an HTTP client on the app.

Every test that asks for `database_url` (directly or through `app`/`client`) runs
twice: on a fresh SQLite file and on PostgreSQL (`TEST_DATABASE_URL`). Without
`TEST_DATABASE_URL` the PostgreSQL runs are skipped, unless `REQUIRE_POSTGRES=1`,
which turns a missing server into a failure.

The sandbox GP systems live in a database of their own during tests
(`sandbox_database_url`): a copy of a seeded SQLite template file, or on
PostgreSQL a `<name>_sandbox` database that is re-seeded only when a test
changed it. The seed rows are computed once per session, for the suite's
frozen date (tests/frozen.py), which every `FakeClock` starts at.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sandbox.personas import Persona, find_persona
from app.adapters.sandbox.schema import drop_all as drop_sandbox_tables
from app.adapters.sandbox.seed import SeedRows, build_seed_rows, fingerprint, load
from app.clock import LONDON, today
from app.config import DEFAULT_PRACTICES_FILE, Settings
from app.db import create_engine
from app.devtools.sessions import sign_in_persona
from app.health.schema import SCHEMA_HEAD
from app.main import create_app
from app.patients.ids import IdKind, patient_id, shown_id
from app.tables import metadata
from tests.frozen import SUITE_NOW, SUITE_TODAY

BACKENDS = ["sqlite", "postgresql"]
# Starting the app seeds or checks the sandbox; on a busy shared machine that can take
# longer than asgi-lifespan's default five seconds without anything being wrong.
LIFESPAN_TIMEOUT = 60


def postgres_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url and os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")
    return url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    url = postgres_url()
    if not url:
        pytest.skip("PostgreSQL runs need TEST_DATABASE_URL")
    return url


def _drop_stray_sandbox_tables(connection: Connection) -> None:
    # In tests the sandbox has a database of its own; sandbox tables left in the
    # app's database (by a test that seeded there) would upset the migration tests.
    if any(name.startswith("sandbox_") for name in inspect(connection).get_table_names()):
        drop_sandbox_tables(connection)  # and their version table


async def reset_schema(engine: AsyncEngine) -> None:
    """The app's tables, empty, stamped at the head revision as `alembic upgrade head`
    leaves them (tests/foundation/test_migrations.py proves the two schemas the same)."""
    async with engine.begin() as connection:
        await connection.run_sync(_drop_stray_sandbox_tables)
        await connection.run_sync(metadata.drop_all)
        await connection.run_sync(metadata.create_all)
        await connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        await connection.exec_driver_sql(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"
        )
        await connection.execute(
            text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": SCHEMA_HEAD}
        )


# --- the sandbox GP systems ----------------------------------------------------


@pytest.fixture(scope="session")
def sandbox_seed_rows() -> SeedRows:
    """Every sandbox row for the suite's date, computed once."""
    return build_seed_rows(SUITE_TODAY)


@pytest.fixture(scope="session")
def sandbox_sqlite_template(
    tmp_path_factory: pytest.TempPathFactory, sandbox_seed_rows: SeedRows
) -> Path:
    path = tmp_path_factory.mktemp("sandbox") / "template.db"

    async def build() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await load(engine, sandbox_seed_rows)
        async with engine.connect() as connection:
            await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        await engine.dispose()

    asyncio.run(build())
    return path


class _PostgresSandbox:
    """The session's PostgreSQL sandbox database and the fingerprint of its seed."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seeded: tuple[Any, ...] | None = None

    async def reset_if_changed(self, rows: SeedRows) -> None:
        engine = create_engine(self.url)
        try:
            if self.seeded is not None:
                async with engine.connect() as connection:
                    if await fingerprint(connection) == self.seeded:
                        return
            await load(engine, rows)
            async with engine.connect() as connection:
                self.seeded = await fingerprint(connection)
        finally:
            await engine.dispose()


async def _create_database(server_url: str, name: str) -> bool:
    """Make database `name` on `server_url`'s server unless it exists; False without the right."""
    engine = create_engine(server_url)
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            exists = await connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if exists.first() is None:
                await connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return True
    except SQLAlchemyError:
        return False
    finally:
        await engine.dispose()


async def drop_database(server_url: str, name: str) -> None:
    """Drop database `name`, ending whatever sessions still use it."""
    engine = create_engine(server_url)
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_sandbox() -> _PostgresSandbox | None:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return None
    parsed = make_url(url)
    name = f"{parsed.database}_sandbox"
    if asyncio.run(_create_database(url, name)):
        return _PostgresSandbox(parsed.set(database=name).render_as_string(hide_password=False))
    return _PostgresSandbox(url)  # no CREATEDB right: share the test database


@pytest.fixture
async def sandbox_database_url(
    database_url: str,
    tmp_path: Path,
    sandbox_sqlite_template: Path,
    postgres_sandbox: _PostgresSandbox | None,
    sandbox_seed_rows: SeedRows,
) -> str:
    """A freshly seeded sandbox database beside the test's own database."""
    if make_url(database_url).get_backend_name() == "sqlite":
        path = tmp_path / "sandbox.db"
        shutil.copyfile(sandbox_sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    assert postgres_sandbox is not None
    await postgres_sandbox.reset_if_changed(sandbox_seed_rows)
    return postgres_sandbox.url


# --- settings and the app -------------------------------------------------------


def demo_practices_with(tmp_path: Path, ods_code: str | None = None, **changes: Any) -> Path:
    """A practices file: the demo practices with `changes` (e.g. `resilience={…}`) made to
    each of them, or to `ods_code`'s only."""
    practices = json.loads(DEFAULT_PRACTICES_FILE.read_text())
    for practice in practices["practices"]:
        if ods_code is None or practice["ods_code"] == ods_code:
            practice.update(changes)
    path = tmp_path / "practices.json"
    path.write_text(json.dumps(practices))
    return path


@pytest.fixture
def make_settings(database_url: str, tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "app_env": "test",
            "database_url": database_url,
            # Never seed the sandbox into the app's test database; the `settings`
            # fixture points this at a prepared copy.
            "sandbox_database_url": f"sqlite+aiosqlite:///{tmp_path / 'sandbox-lazy.db'}",
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await reset_schema(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def settings(make_settings: Callable[..., Settings], sandbox_database_url: str) -> Settings:
    return make_settings(sandbox_database_url=sandbox_database_url)


class FakeClock:
    """A clock that tests move by hand, from the suite's frozen instant."""

    def __init__(self, now: datetime = SUITE_NOW) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta

    def move_to(self, day: date, at: time) -> None:
        """To `at` o'clock in England on `day`. Days are England's, and there a day is not
        always 24 hours: `advance(timedelta(days=n))` across a clock change lands an hour
        off, which at this suite's 00:30 is the day before."""
        self.current = datetime.combine(day, at, tzinfo=LONDON).astimezone(UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(settings: Settings, engine: AsyncEngine, clock: FakeClock) -> FastAPI:
    return create_app(settings, clock=clock)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        LifespanManager(app, startup_timeout=LIFESPAN_TIMEOUT) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app, raise_app_exceptions=False),
            base_url="http://testserver",
        ) as client,
    ):
        yield client


# --- signed-in users ----------------------------------------------------------


@dataclass
class SignedInUser:
    """A persona signed in through the auth service, with a bearer session."""

    persona: Persona
    token: str
    patient_id_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def patient_id(self, patient_ref: str | None = None) -> str:
        """The opaque id of the persona (or of a patient they act for) in the API."""
        return patient_id(
            self.patient_id_key, self.persona.ods_code, patient_ref or self.persona.patient_ref
        )

    def acts_for(self, tag: str) -> str:
        """The patient id of the person this persona acts for who carries `tag`."""
        other = next(o for o in self.persona.acts_for if tag in o.tags)
        return self.patient_id(other.patient_ref)

    def shown_id(self, kind: IdKind, gp_id: str, patient_ref: str | None = None) -> str:
        """The id the API shows for the GP system's `gp_id` of this persona's (or of a
        patient's they act for, by `patient_ref`) entries, documents, courses, requests."""
        ref = patient_ref or self.persona.patient_ref
        # Proxies act for patients at their own practice (as `patient_id` assumes).
        return shown_id(self.patient_id_key, self.persona.ods_code, ref, kind, gp_id)


SignIn = Callable[..., Awaitable[SignedInUser]]


@pytest.fixture
def sign_in(app: FastAPI, client: httpx.AsyncClient, clock: FakeClock) -> SignIn:
    """Sign a sandbox persona in (by tag) without the browser round trip.

    The full NHS login flow is tested in tests/auth; feature tests start here.
    """

    async def sign_in(tag: str, *, ods_code: str | None = None) -> SignedInUser:
        persona = find_persona(today(clock), tag, ods_code=ods_code)
        issued = await sign_in_persona(app, persona, clock=clock)
        return SignedInUser(persona, issued.token, app.state.settings.patient_id_secret)

    return sign_in
