"""The sandbox tables' schema, kept by their own Alembic history (`migrations/`).

The bootstrap upgrades it before seeding or topping up, so a new version's
tables arrive with the demo bookings, orders and messages kept. Its version
lives in `sandbox_alembic_version`, apart from the app's history, because the
sandbox may share the app's database.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import sqlalchemy
from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

logger = logging.getLogger(__name__)

PREFIX = "sandbox_"
VERSION_TABLE = "sandbox_alembic_version"
# The schema `create_all` made before the sandbox had migrations.
BASELINE = "0001"
MIGRATIONS = Path(__file__).with_name("migrations")
# Any fixed 64-bit number nothing else in the database locks on.
UPGRADE_LOCK_KEY = 0x6770_6F6E_7362_7570  # "gponsbup"


def is_sandbox_table(name: str) -> bool:
    """A table of the simulated GP systems (not their version table, not the app's)."""
    return name.startswith(PREFIX) and name != VERSION_TABLE


def alembic_config(connection: Connection | None = None) -> Config:
    """The sandbox history, run on `connection` when one is given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the sandbox tables to the newest revision, keeping their rows.

    Safe from several processes at once: each takes its turn, and one transaction
    holds the whole upgrade, so the next finds it done (or nothing of it). The turn is
    taken before Alembic runs, as Alembic's context is one for the whole process.
    """
    async with engine.begin() as connection:
        await _take_turns(connection)
        await connection.run_sync(_upgrade)


async def _take_turns(connection: AsyncConnection) -> None:
    if connection.dialect.name == "postgresql":
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK_KEY}
        )
    elif connection.dialect.name == "sqlite":
        # The driver starts no transaction before DDL; this one takes the write lock now.
        await connection.exec_driver_sql("BEGIN IMMEDIATE")


def _upgrade(connection: Connection) -> None:
    names = set(inspect(connection).get_table_names())
    present = {name for name in names if is_sandbox_table(name)}
    config = alembic_config(connection)
    if VERSION_TABLE in names and not present:
        # Someone dropped the tables but not the version: nothing to keep, start afresh.
        drop_all(connection)
    elif VERSION_TABLE not in names and present:
        _adopt(connection, present, config)
    command.upgrade(config, "head")


def _adopt(connection: Connection, present: set[str], config: Config) -> None:
    """Tables made before the sandbox had migrations: stamped at the baseline if they
    are its schema, else (an even older version's) dropped to be made and seeded again."""
    if _columns(connection, present) == _baseline_columns():
        command.stamp(config, BASELINE)
        logger.info("sandbox tables from before migrations adopted at the baseline")
        return
    logger.warning("sandbox tables are from a version before the baseline: recreating them")
    drop_all(connection)


def _columns(connection: Connection, names: set[str]) -> dict[str, frozenset[str]]:
    inspector = inspect(connection)
    return {
        name: frozenset(column["name"] for column in inspector.get_columns(name)) for name in names
    }


@cache
def _baseline_columns() -> dict[str, frozenset[str]]:
    """Each table's columns at the baseline, read back from an in-memory database upgraded
    to it, so that the baseline revision stays the one statement of that schema."""
    engine = sqlalchemy.create_engine("sqlite://")
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), BASELINE)
            names = {
                name for name in inspect(connection).get_table_names() if is_sandbox_table(name)
            }
            return _columns(connection, names)
    finally:
        engine.dispose()


def drop_all(connection: Connection) -> None:
    """Drop every sandbox table there is and the version table, whatever version made them."""
    reflected = MetaData()
    reflected.reflect(connection, only=lambda name, _metadata: name.startswith(PREFIX))
    reflected.drop_all(connection)
