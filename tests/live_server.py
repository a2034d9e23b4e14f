"""A real server process (`python -m app`: uvicorn with the project's protocol) for tests
of limits and headers that the in-process transport cannot show.

The database is a SQLite file made for the server, or, where the suite runs on
PostgreSQL (`TEST_DATABASE_URL`), a database of its own there that the server uses
as the production serving role (docs/app-database-role.sql), not as the owner: a
route that needs a right the serving role lacks fails here. Personas can be signed
in beforehand (bearer or cookie sessions), through the same code as a real sign-in.
The server's clock stands at the suite's instant (`FROZEN_NOW`), like every other
test's, and the sandbox is seeded for that date.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import make_url

from app.adapters.sandbox.personas import find_persona
from app.auth.types import Via
from app.clock import FrozenClock, today
from app.config import Settings
from app.db import create_engine
from app.devtools.sessions import persona_patient_id, sign_in_persona
from app.main import create_app
from tests.conftest import _create_database, drop_database, postgres_url, reset_schema
from tests.database_role import as_serving_role, grant_serving_role
from tests.frozen import SUITE_NOW

PROJECT = Path(__file__).resolve().parent.parent
START_SECONDS = 60


@dataclass(frozen=True)
class Session:
    token: str
    patient_id: str
    csrf_token: str


@dataclass
class LiveServer:
    base_url: str
    host: str
    port: int
    log: Path
    sessions: dict[str, Session] = field(default_factory=dict)

    def client(self, *, source: str | None = None, **kwargs: object) -> httpx.Client:
        """An HTTP client; `source` (e.g. `127.0.0.2`) makes it another client address."""
        transport = httpx.HTTPTransport(local_address=source) if source else None
        return httpx.Client(base_url=self.base_url, timeout=10, transport=transport, **kwargs)  # type: ignore[arg-type]

    def connect(self, timeout: float = 10, *, source: str | None = None) -> socket.socket:
        """A raw connection, from the loopback address `source` if given."""
        return socket.create_connection(
            (self.host, self.port), timeout=timeout, source_address=(source, 0) if source else None
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _prepare(
    env: dict[str, str], sign_in: dict[str, tuple[str, Via]], *, owner_url: str
) -> dict[str, Session]:
    engine = create_engine(owner_url)
    try:
        await reset_schema(engine)
        if owner_url != env["DATABASE_URL"]:
            await grant_serving_role(engine)
    finally:
        await engine.dispose()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        app_env="test",
        database_url=env["DATABASE_URL"],
        sandbox_database_url=env.get("SANDBOX_DATABASE_URL"),
        secret_key=env.get("SECRET_KEY", Settings().secret_key),
    )
    clock = FrozenClock(datetime.fromisoformat(env["FROZEN_NOW"]))
    app = create_app(settings, clock=clock)
    sessions = {}
    async with LifespanManager(app):
        for name, (tag, via) in sign_in.items():
            persona = find_persona(today(clock), tag)
            issued = await sign_in_persona(app, persona, via=via)
            sessions[name] = Session(
                issued.token,
                persona_patient_id(app, persona),
                app.state.auth.csrf_token(issued.signed_in.session_id),
            )
    return sessions


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own process group, started below
        process.wait(timeout=5)


@contextmanager
def _own_database(directory: Path, port: int) -> Iterator[tuple[str, dict[str, str]]]:
    """The owner's URL of the server's own database, and the server's settings for it.

    On PostgreSQL the server signs in as the serving role, and the sandbox GP systems
    (another system, not ours) keep their tables there under the owner.
    """
    server_url = postgres_url()
    if not server_url or make_url(server_url).get_backend_name() != "postgresql":
        url = f"sqlite+aiosqlite:///{directory / 'app.db'}"
        yield url, {"DATABASE_URL": url}
        return
    name = f"{make_url(server_url).database}_live_{port}"
    owner_url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_create_database(server_url, name))
    try:
        yield (
            owner_url,
            {
                "DATABASE_URL": as_serving_role(owner_url),
                "SANDBOX_DATABASE_URL": owner_url,
            },
        )
    finally:
        asyncio.run(drop_database(server_url, name))


@contextmanager
def live_server(
    directory: Path,
    *,
    env: Mapping[str, str | None] | None = None,
    sign_in: dict[str, tuple[str, Via]] | None = None,
    database_url: str | None = None,
) -> Iterator[LiveServer]:
    """Start `python -m app` on a free port with `env` (None unsets a variable); stop it
    afterwards.

    With `database_url` the server uses that database as it is given (servers sharing
    one, say); otherwise a database of its own (`_own_database`).
    """
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with contextlib.ExitStack() as stack:
        if database_url:
            owner_url, database = database_url, {"DATABASE_URL": database_url}
        else:
            owner_url, database = stack.enter_context(_own_database(directory, port))
        yield stack.enter_context(_serve(directory, port, env, sign_in, owner_url, database))


@contextmanager
def _serve(
    directory: Path,
    port: int,
    env: Mapping[str, str | None] | None,
    sign_in: dict[str, tuple[str, Via]] | None,
    owner_url: str,
    database: dict[str, str],
) -> Iterator[LiveServer]:
    merged_env: dict[str, str | None] = {
        **os.environ,
        "APP_ENV": "test",
        **database,
        "LOG_LEVEL": "WARNING",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "FROZEN_NOW": SUITE_NOW.isoformat(),
        **(env or {}),
    }
    server_env = {name: value for name, value in merged_env.items() if value is not None}
    sessions = asyncio.run(_prepare(server_env, sign_in or {}, owner_url=owner_url))
    log = directory / f"server-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app"],
            cwd=PROJECT,
            env=server_env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert process.poll() is None, f"the server exited:\n{log.read_text()}"
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"the server did not start:\n{log.read_text()}"
            time.sleep(0.2)
        yield LiveServer(base_url, "127.0.0.1", port, log, sessions)
    finally:
        _stop(process)


def read_response(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or the socket times out)."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (ConnectionResetError, TimeoutError):
        pass
    return b"".join(chunks)
