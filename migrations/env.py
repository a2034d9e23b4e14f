"""Alembic environment: async engine, app metadata only (never the sandbox GP tables)."""

from __future__ import annotations

import asyncio
import sys
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from app.config import InvalidSettings, read_settings
from app.db import create_engine
from app.health.schema import database_location, failure_reason
from app.tables import metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

SANDBOX_PREFIX = "sandbox_"


def _database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    try:
        return read_settings().database_url
    except InvalidSettings as invalid:
        sys.exit(str(invalid))  # one line per setting, not a traceback


def _include_name(name: str | None, type_: str, _parent: Any) -> bool:
    # The sandbox GP systems keep their own tables beside ours in dev; they are not ours.
    return not (type_ == "table" and name is not None and name.startswith(SANDBOX_PREFIX))


def _configure(connection: Connection | None = None, **kwargs: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_name=_include_name,
        render_as_batch=True,
        compare_type=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    url = _database_url()
    engine = create_engine(url)
    try:
        async_connection = await engine.connect()
    except (SQLAlchemyError, OSError) as unreachable:
        await engine.dispose()
        sys.exit(
            f"DATABASE_URL: cannot reach the database at {database_location(url)} "
            f"({failure_reason(unreachable)}). Check its host, port, name and credentials."
        )
    try:
        await async_connection.run_sync(_run_sync)
        await async_connection.commit()
    finally:
        await async_connection.close()
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
elif (given := config.attributes.get("connection")) is not None:
    # Tests hand over a connection from their own event loop.
    _run_sync(given)
else:
    asyncio.run(run_migrations_online())
