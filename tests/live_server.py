"""A real server process (`python -m app`: uvicorn with the project's protocol) for tests
of limits and headers that the in-process transport cannot show.

The database is a SQLite file made for the server; personas can be signed in
beforehand (bearer or cookie sessions), through the same code as a real sign-in.
The server's clock stands at the suite's instant (`FROZEN_NOW`), like every other
test's, and the sandbox is seeded for that date.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from app.adapters.sandbox.personas import find_persona
from app.auth.types import Via
from app.clock import FrozenClock, today
from app.config import Settings
from app.db import create_engine
from app.devtools.sessions import persona_patient_id, sign_in_persona
from app.main import create_app
from tests.conftest import reset_schema
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


async def _prepare(env: dict[str, str], sign_in: dict[str, tuple[str, Via]]) -> dict[str, Session]:
    engine = create_engine(env["DATABASE_URL"])
    await reset_schema(engine)
    await engine.dispose()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        app_env="test",
        database_url=env["DATABASE_URL"],
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
def live_server(
    directory: Path,
    *,
    env: dict[str, str] | None = None,
    sign_in: dict[str, tuple[str, Via]] | None = None,
    database_url: str | None = None,
) -> Iterator[LiveServer]:
    """Start `python -m app` on a free port with `env`; stop it afterwards."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server_env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": database_url or f"sqlite+aiosqlite:///{directory / 'app.db'}",
        "LOG_LEVEL": "WARNING",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "FROZEN_NOW": SUITE_NOW.isoformat(),
        **(env or {}),
    }
    sessions = asyncio.run(_prepare(server_env, sign_in or {}))
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
