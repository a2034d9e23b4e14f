"""An instance is ready only once its database is migrated to this version's schema.

Before that, readiness says what to run, start-up logs it, and a request that needs a
missing table answers 503 with one log line rather than a 500 and two tracebacks.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.health.schema import (
    RECHECK_AT_HEAD_SECONDS,
    SCHEMA_HEAD,
    SCHEMA_REVISIONS,
    SchemaCheck,
)
from app.main import create_app
from app.tables import metadata
from tests.conftest import LIFESPAN_TIMEOUT, FakeClock
from tests.foundation.test_migrations import alembic_config

MIGRATE = "alembic upgrade head"


def test_the_code_knows_every_migration_in_order() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    newest_first = [script.revision for script in scripts.walk_revisions()]
    assert tuple(reversed(newest_first)) == SCHEMA_REVISIONS, (
        "add the new migration's revision to SCHEMA_REVISIONS in app/health/schema.py"
    )


async def _drop_everything(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
        await connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


async def _stamp(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE alembic_version SET version_num = :r"), {"r": revision}
        )


async def _upgrade(engine: AsyncEngine, database_url: str) -> None:
    config = alembic_config(database_url)
    async with engine.begin() as connection:

        def run(sync_connection: object) -> None:
            config.attributes["connection"] = sync_connection
            command.upgrade(config, "head")

        await connection.run_sync(run)


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings, clock=FakeClock())
    async with (
        LifespanManager(app, startup_timeout=LIFESPAN_TIMEOUT) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app, raise_app_exceptions=False),
            base_url="http://t",
        ) as client,
    ):
        yield app, client


@pytest.fixture
def settings(make_settings: Callable[..., Settings], sandbox_database_url: str) -> Settings:
    return make_settings(sandbox_database_url=sandbox_database_url)


def statements_on(app: FastAPI) -> list[str]:
    """Every statement the app's engine runs from now on."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(app.state.engine.sync_engine, "before_cursor_execute", record)
    return seen


async def test_an_unmigrated_database_is_not_ready_until_migrated(
    settings: Settings,
    engine: AsyncEngine,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _drop_everything(engine)
    async with serving(settings) as (_, client):
        started = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert any(MIGRATE in r.getMessage() for r in started), started

        before = await client.get("/readyz")
        assert before.status_code == 503
        assert before.json()["checks"]["database"] == "ok"
        assert before.json()["checks"]["schema"].startswith("behind: the database has no schema")
        assert MIGRATE in before.json()["checks"]["schema"]

        await _upgrade(engine, database_url)
        after = await client.get("/readyz")
        assert after.status_code == 200
        assert after.json()["checks"]["schema"] == "ok"


async def test_an_older_revision_is_not_ready(settings: Settings, engine: AsyncEngine) -> None:
    await _stamp(engine, SCHEMA_REVISIONS[-2])
    async with serving(settings) as (_, client):
        response = await client.get("/readyz")
    assert response.status_code == 503
    schema = response.json()["checks"]["schema"]
    assert f"at {SCHEMA_REVISIONS[-2]}, this version needs {SCHEMA_HEAD}" in schema


async def test_a_newer_revision_keeps_the_instance_ready(
    settings: Settings, engine: AsyncEngine
) -> None:
    """A release migrates before its instances replace the old ones, and migrations keep
    the previous version working: the old instances must stay in the load balancer."""
    await _stamp(engine, "9999")
    async with serving(settings) as (_, client):
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert "newer than this version's" in response.json()["checks"]["schema"]


async def test_at_head_a_probe_reads_no_revision(settings: Settings, engine: AsyncEngine) -> None:
    async with serving(settings) as (app, client):
        seen = statements_on(app)
        for _ in range(3):
            assert (await client.get("/readyz")).status_code == 200
    assert seen  # the database itself is still asked
    assert not [statement for statement in seen if "alembic_version" in statement]


async def test_behind_every_probe_reads_the_revision_again(
    settings: Settings, engine: AsyncEngine
) -> None:
    await _stamp(engine, SCHEMA_REVISIONS[0])
    async with serving(settings) as (app, client):
        seen = statements_on(app)
        for _ in range(2):
            assert (await client.get("/readyz")).status_code == 503
        await _stamp(engine, SCHEMA_HEAD)
        assert (await client.get("/readyz")).status_code == 200
    assert len([statement for statement in seen if "alembic_version" in statement]) == 3


async def test_at_head_the_revision_is_read_again_after_a_while(engine: AsyncEngine) -> None:
    now = [0.0]
    check = SchemaCheck(monotonic=lambda: now[0])
    async with engine.connect() as connection:
        assert (await check.state(connection)).ready
        await _stamp(engine, SCHEMA_REVISIONS[0])
        now[0] += RECHECK_AT_HEAD_SECONDS - 1
        assert (await check.state(connection)).ready  # from the last read
        now[0] += 2
        assert not (await check.state(connection)).ready
    assert not check.known_ready


async def test_a_request_needing_a_missing_table_is_503_and_logged_once(
    settings: Settings, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    await _drop_everything(engine)
    async with serving(settings) as (_, client):
        caplog.clear()
        response = await client.get("/v1/me", headers={"Authorization": "Bearer " + "a" * 43})
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert response.headers["Retry-After"]
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert MIGRATE in errors[0].getMessage()
    assert errors[0].exc_info is None  # no traceback: nothing is broken but the migration


async def test_a_missing_table_on_a_migrated_database_is_still_a_bug(
    settings: Settings, engine: AsyncEngine
) -> None:
    """Only a schema not known to be at head excuses a missing table."""
    async with serving(settings) as (app, client):
        assert (await client.get("/readyz")).status_code == 200
        async with app.state.engine.begin() as connection:
            await connection.exec_driver_sql("ALTER TABLE auth_sessions RENAME TO gone")
        try:
            response = await client.get("/v1/me", headers={"Authorization": "Bearer " + "a" * 43})
        finally:
            async with app.state.engine.begin() as connection:
                await connection.exec_driver_sql("ALTER TABLE gone RENAME TO auth_sessions")
    assert response.status_code == 500


async def test_start_up_names_the_database_setting_it_cannot_reach(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(database_url="postgresql://nobody:s3cret-pw@127.0.0.1:9/none")
    async with serving(settings) as (_, client):
        response = await client.get("/readyz")
    assert response.status_code == 503
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(
        message.startswith("DATABASE_URL: cannot reach the database at") for message in errors
    ), errors
    assert "127.0.0.1:9/none" in "\n".join(errors)
    assert "s3cret-pw" not in caplog.text
