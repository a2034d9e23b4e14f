"""A database that cannot be reached answers 503 `database_unavailable` with Retry-After,
at once and never as a 500; and the service serves again as soon as it is back.

`tests/chaos/test_database_restart.py` restarts a real PostgreSQL under a running
server; these show each piece in process (app.db, app.problems).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

from app import db
from app.config import Settings
from app.db import create_engine
from app.main import create_app
from app.problems import install_problem_handlers
from tests.conftest import LIFESPAN_TIMEOUT, FakeClock, reset_schema
from tests.foundation.test_problems import assert_problem
from tests.live_server import free_port

# Far longer than any of the connect timeouts below, far shorter than asyncpg's own 60 s.
DEADLINE = 10


def _unused_address() -> str:
    """A PostgreSQL URL on a loopback port where nothing listens."""
    return f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/gp_online"


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A PostgreSQL URL whose server takes the connection and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # the kernel completes each handshake; nothing ever replies
        port = listener.getsockname()[1]
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/gp_online"


def _assert_database_unavailable(response: httpx.Response) -> None:
    body = assert_problem(response, 503, "database_unavailable")
    assert response.headers["retry-after"] == str(body["retry_after"])
    assert int(response.headers["retry-after"]) > 0


@pytest.fixture
async def client_without_database() -> AsyncIterator[httpx.AsyncClient]:
    """The whole app, with its database (and the sandbox's) where nothing listens."""
    address = _unused_address()
    settings = Settings(
        _env_file=None, app_env="test", database_url=address, sandbox_database_url=address
    )
    app = create_app(settings, clock=FakeClock())
    async with (
        LifespanManager(app, startup_timeout=LIFESPAN_TIMEOUT) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app, raise_app_exceptions=False),
            base_url="http://testserver",
        ) as client,
    ):
        yield client


async def test_requests_while_the_database_is_down_answer_503_not_500(
    client_without_database: httpx.AsyncClient,
) -> None:
    client = client_without_database
    signed_in = {"Authorization": "Bearer any-token"}
    async with asyncio.timeout(DEADLINE):
        _assert_database_unavailable(await client.get("/v1/me", headers=signed_in))
        booking = await client.post(
            "/v1/patients/p1/appointments",
            json={"slot_id": "s1"},
            headers={**signed_in, "Idempotency-Key": "k1"},
        )
        _assert_database_unavailable(booking)
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "unavailable"


@pytest.mark.parametrize("address", ["refused", "silent"])
async def test_a_connection_that_cannot_be_made_fails_fast_as_an_operational_error(
    address: str, silent_server: str
) -> None:
    """Refused, or taken and never answered: either way an `OperationalError` within the
    connect timeout, not asyncpg's bare `OSError` or its 60 s wait."""
    url = _unused_address() if address == "refused" else silent_server
    engine = create_engine(url, connect_timeout=0.5)
    try:
        async with asyncio.timeout(DEADLINE):
            with pytest.raises(OperationalError):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


async def test_while_the_database_is_down_no_request_waits_for_the_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """More requests than the pool holds: each place freed by a failed connection goes
    to the next waiter, who fails as fast, rather than waiting out the pool's timeout."""
    monkeypatch.setattr(db, "POOL_WAIT_SECONDS", 600)
    engine = create_engine(_unused_address(), pool_size=2, connect_timeout=0.5)

    async def query() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    try:
        async with asyncio.timeout(DEADLINE):
            failures = await asyncio.gather(*(query() for _ in range(30)), return_exceptions=True)
    finally:
        await engine.dispose()
    assert all(isinstance(failure, OperationalError) for failure in failures), failures


# --- which database errors are an unreachable database ----------------------------------


class _Driver(Exception):
    """Stands for the driver's own error inside SQLAlchemy's."""


def _lost() -> DBAPIError:
    return DBAPIError(
        "SELECT 1", None, _Driver("connection was closed"), connection_invalidated=True
    )


UNREACHABLE: dict[str, Callable[[], Exception]] = {
    "could not connect": lambda: OperationalError("connect", None, _Driver("refused")),
    "connection lost": _lost,
    "connection closed": lambda: InterfaceError("SELECT 1", None, _Driver("closed")),
    "no pooled connection free in time": lambda: PoolTimeout("QueuePool limit reached"),
}
REFUSED_STATEMENTS: dict[str, Callable[[], Exception]] = {
    "constraint": lambda: IntegrityError("INSERT", None, _Driver("duplicate key")),
    "bad SQL": lambda: ProgrammingError("SELEC", None, _Driver("syntax error")),
    "other driver error": lambda: DBAPIError("SELECT 1", None, _Driver("division by zero")),
}


@pytest.fixture
async def raising_client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/raise/{name}")
    async def raise_(name: str) -> None:
        raise {**UNREACHABLE, **REFUSED_STATEMENTS}[name]()

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.mark.parametrize("name", UNREACHABLE)
async def test_a_database_that_cannot_be_reached_is_a_503(
    raising_client: httpx.AsyncClient, name: str
) -> None:
    response = await raising_client.get(f"/raise/{name}")
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert response.headers["retry-after"]


@pytest.mark.parametrize("name", REFUSED_STATEMENTS)
async def test_a_statement_the_database_refused_is_still_a_500(
    raising_client: httpx.AsyncClient, name: str
) -> None:
    response = await raising_client.get(f"/raise/{name}")
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"


# --- recovery ---------------------------------------------------------------------------


@pytest.fixture
async def postgres_app(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("drops the connections from PostgreSQL's side")
    tables = create_engine(database_url)
    await reset_schema(tables)
    await tables.dispose()
    settings = Settings(
        _env_file=None,
        app_env="test",
        database_url=database_url,
        sandbox_database_url=f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}",
    )
    app = create_app(settings, clock=FakeClock())
    async with LifespanManager(app, startup_timeout=LIFESPAN_TIMEOUT):
        yield app


async def _drop_pooled_connections(app: FastAPI) -> None:
    """End every connection in the app's pool from the server's side, as a restart would."""
    engine: AsyncEngine = app.state.engine
    async with AsyncExitStack() as stack:
        held = [
            await stack.enter_async_context(engine.connect())
            for _ in range(max(1, engine.sync_engine.pool.checkedin()))  # type: ignore[attr-defined]
        ]
        pids = [await connection.scalar(text("SELECT pg_backend_pid()")) for connection in held]
    killer = create_engine(app.state.settings.database_url)
    try:
        async with killer.connect() as connection:
            for pid in pids:
                await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await killer.dispose()


async def test_after_its_connections_are_dropped_the_service_serves_again_by_itself(
    postgres_app: FastAPI,
) -> None:
    signed_in = {"Authorization": "Bearer no-such-session"}
    transport = httpx.ASGITransport(app=postgres_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/v1/me", headers=signed_in)).status_code == 401
        await _drop_pooled_connections(postgres_app)
        # The request that meets a dropped connection is told to try again...
        _assert_database_unavailable(await client.get("/v1/me", headers=signed_in))
        # ...and the next is served: SQLAlchemy replaced the pool's stale connections.
        assert (await client.get("/v1/me", headers=signed_in)).status_code == 401
