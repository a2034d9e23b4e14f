"""Is the database's schema the one this version of the service needs?

An instance whose database was never migrated, or not yet to this version, must not
take traffic: its first sign-in would fail on a missing table. Readiness says so until
the database's Alembic revision is this version's head (`SCHEMA_REVISIONS`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

# The app's migrations (migrations/versions/), oldest first. Kept here rather than read
# from the migrations folder, which the installed service does not carry;
# tests/foundation/test_schema_readiness.py fails when a migration is added without it.
SCHEMA_REVISIONS = (
    "0001",
    "0002",
    "0003",
    "0004",
    "0005",
    "0006",
    "0007",
    "0008",
    "0009",
    "0010",
    "0011",
    "0012",
    "0013",
)
SCHEMA_HEAD = SCHEMA_REVISIONS[-1]
# Once at head, the revision is read again only this often: a probe costs no query for
# it, and a database restored from an older backup is still noticed.
RECHECK_AT_HEAD_SECONDS = 300.0
MIGRATE = "run `alembic upgrade head` (make migrate)"

# SQLSTATEs of a missing table and a missing column.
_UNDEFINED_OBJECT = {"42P01", "42703"}
_SQLITE_UNDEFINED = ("no such table", "no such column")


def missing_schema_object(exc: BaseException) -> bool:
    """Whether a database error says a table or column does not exist: on a database the
    service knows is behind, the schema not migrated yet, not a bug."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _UNDEFINED_OBJECT:
        return True
    return getattr(orig, "sqlite_errorname", None) == "SQLITE_ERROR" and str(orig).startswith(
        _SQLITE_UNDEFINED
    )


def database_location(url: str) -> str:
    """The database URL as an operator may read it in a log: without its password."""
    return make_url(url).render_as_string(hide_password=True)


def failure_reason(exc: BaseException) -> str:
    """The driver's own words for a failure to connect or to read the revision: they name
    the host, the database or the role, never a statement's values."""
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    orig = getattr(exc, "orig", None) or exc
    words = " ".join(str(orig).split())
    return words.removeprefix("could not connect: ")[:200] or type(orig).__name__


@dataclass(frozen=True, slots=True)
class SchemaState:
    """What readiness reports: whether this version can serve on the schema, and why not."""

    ready: bool
    description: str


def schema_state(revision: str | None) -> SchemaState:
    """A revision this version knows and that is older than its head is behind. One it
    does not know is newer (a release migrated ahead of this instance): migrations keep
    the previous version working, so it serves on."""
    if revision == SCHEMA_HEAD:
        return SchemaState(ready=True, description="ok")
    if revision is None:
        return SchemaState(False, f"behind: the database has no schema yet; {MIGRATE}")
    if revision in SCHEMA_REVISIONS:
        return SchemaState(
            False,
            f"behind: the database is at {revision}, this version needs {SCHEMA_HEAD}; " + MIGRATE,
        )
    return SchemaState(
        True, f"ok (the database is at {revision}, newer than this version's {SCHEMA_HEAD})"
    )


async def read_revision(connection: AsyncConnection) -> str | None:
    """The database's Alembic revision; None when it has none (never migrated)."""
    try:
        revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    except DBAPIError as error:
        if missing_schema_object(error):
            return None
        raise
    return None if revision is None else str(revision)


class SchemaCheck:
    """The schema's state as last read, read again while it is not ready and, once it
    is, every `RECHECK_AT_HEAD_SECONDS`."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._state: SchemaState | None = None
        self._read_at = 0.0

    @property
    def known_ready(self) -> bool:
        """Whether the schema was last seen at (or past) this version's head."""
        return self._state is not None and self._state.ready

    async def state(self, connection: AsyncConnection) -> SchemaState:
        fresh = self._monotonic() - self._read_at < RECHECK_AT_HEAD_SECONDS
        if self._state is not None and self._state.ready and fresh:
            return self._state
        self._state = schema_state(await read_revision(connection))
        self._read_at = self._monotonic()
        return self._state
