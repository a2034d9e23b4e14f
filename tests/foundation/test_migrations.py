"""Migrations run both ways on every backend, and match the models exactly."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from app.tables import metadata

ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    return config


async def _drop_everything(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
        await connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


async def _table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def _run(engine: AsyncEngine, database_url: str, *steps: tuple[str, str]) -> None:
    # Alembic's env runs its own event loop; hand it a connection from ours instead.
    config = alembic_config(database_url)
    async with engine.begin() as connection:

        def run(sync_connection: object) -> None:
            config.attributes["connection"] = sync_connection
            for step, target in steps:
                getattr(command, step)(config, target)

        await connection.run_sync(run)


async def test_upgrade_downgrade_upgrade(engine: AsyncEngine, database_url: str) -> None:
    await _drop_everything(engine)
    await _run(engine, database_url, ("upgrade", "head"))
    expected = set(metadata.tables) | {"alembic_version"}
    assert await _table_names(engine) == expected
    await _run(engine, database_url, ("downgrade", "base"))
    assert await _table_names(engine) <= {"alembic_version"}
    await _run(engine, database_url, ("upgrade", "head"))
    assert await _table_names(engine) == expected


async def test_models_and_migrations_agree(engine: AsyncEngine, database_url: str) -> None:
    await _drop_everything(engine)
    await _run(engine, database_url, ("upgrade", "head"))
    async with engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), metadata
            )
        )
    assert diff == []
