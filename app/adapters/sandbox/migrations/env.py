"""Alembic environment of the sandbox GP systems' tables: their own history and version table.

The sandbox's tables may share the app's database, so only `sandbox_` tables are
compared, and the version is kept in `sandbox_alembic_version`, never the app's.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator

from app.adapters.sandbox.schema import VERSION_TABLE, is_sandbox_table
from app.adapters.sandbox.tables import metadata
from app.config import Settings
from app.db import create_engine

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _include_name(name: str | None, type_: str, _parent: Any) -> bool:
    return type_ != "table" or (name is not None and is_sandbox_table(name))


def _render_item(type_: str, obj: Any, _context: AutogenContext) -> str | Literal[False]:
    # A revision states the stored type, so that it never imports today's models.
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def _configure(connection: Connection | None = None, **kwargs: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_name=_include_name,
        render_item=_render_item,
        render_as_batch=True,
        compare_type=True,
        **kwargs,
    )


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(url: str) -> None:
    engine = create_engine(url)
    async with engine.connect() as async_connection:
        await async_connection.run_sync(_run_sync)
        await async_connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    _configure(url=Settings().sandbox_url, literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    # The bootstrap (and tests) hand over a connection from their own event loop.
    _run_sync(given)
else:
    asyncio.run(_run_online(Settings().sandbox_url))
