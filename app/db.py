"""Database engine, the per-request session dependency and the declarative base."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, TypeDecorator, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from app.pool import FairAsyncPool

# One naming convention so that Alembic migrations name constraints the same on
# SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# How long a request waits to open a connection (`DATABASE_CONNECT_TIMEOUT_SECONDS`).
CONNECT_TIMEOUT_SECONDS = 5.0
# How long a request queues for a pooled connection while every one is in use. A burst
# queues here in order (app.pool); past this the database is not keeping up, and the
# request answers 503 rather than outlast its client. While the database is down nobody
# waits this long: each connection that fails makes room for the next waiter to try.
POOL_WAIT_SECONDS = 10.0


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, also on SQLite (which keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        aware: datetime = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC)


class Base(DeclarativeBase):
    """Base class for the tables the app owns (not the sandbox GP systems')."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 0,
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
) -> AsyncEngine:
    """An async engine; SQLite files get their folder, WAL and foreign keys.

    A request waits at most `connect_timeout` seconds to open a connection, and
    `POOL_WAIT_SECONDS` for one from the pool, so that while the database is down it is
    answered at once (503, `app.problems`) rather than after asyncpg's own 60 s.
    """
    parsed = make_url(url)
    # Bound parameters hold NHS numbers, booking reasons and phone numbers; SQLAlchemy
    # would otherwise print them in every database error's message (and so in logs).
    # No overflow by default: connections beyond the pool are closed when returned, so
    # under sustained load each request would open one (measured: p99 of seconds).
    # No pre-ping: it would add a round trip to every checkout. A connection the server
    # dropped fails one query, and SQLAlchemy then replaces every pooled connection;
    # recycling keeps connections younger than typical server and proxy idle limits.
    kwargs: dict[str, Any] = {
        "hide_parameters": True,
        "pool_recycle": 1800,
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": POOL_WAIT_SECONDS,
        # Waiting requests get connections in the order they asked (app.pool).
        "poolclass": FairAsyncPool,
    }
    if parsed.get_driver_name() == "asyncpg":
        kwargs["connect_args"] = {"timeout": connect_timeout}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs = {"hide_parameters": True, "connect_args": {"timeout": 30}}
    engine = create_async_engine(url, **kwargs)
    event.listen(engine.sync_engine, "do_connect", _connect_or_operational_error)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _connect_or_operational_error(
    dialect: Dialect, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
) -> Any:
    """Open a connection; whatever stops that is the driver's `OperationalError`.

    asyncpg raises a bare `ConnectionRefusedError` while the server is down and
    `TimeoutError` when it does not answer, which SQLAlchemy lets through as they are, and
    its own errors for a server starting up or shutting down. As an `OperationalError`
    each is one thing: the database could not be reached (answered 503 by
    `app.problems`), and a `SQLAlchemyError` to the code that tolerates a failed write.
    """
    dbapi = dialect.loaded_dbapi
    try:
        return dialect.connect(*cargs, **cparams)
    except dbapi.OperationalError:
        raise
    except (dbapi.Error, OSError) as exc:
        raise dbapi.OperationalError(f"could not connect: {type(exc).__name__}: {exc}") from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; committed by the service that changes data."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        yield session


async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """For work that needs its own transactions (idempotency claims)."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return sessionmaker


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, for single statements that need no transaction around them.

    A statement here is its own transaction: no BEGIN before it and no ROLLBACK after,
    so a read is one round trip (the session check on every request).
    """
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def autocommit_engine(request: Request) -> AsyncEngine:
    reader: AsyncEngine = request.app.state.autocommit_engine
    return reader


SessionDep = Annotated[AsyncSession, Depends(get_session)]
SessionmakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]
