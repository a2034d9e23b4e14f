"""The GP Connect stand-in as a real process, with an NHS login issuer of the test's own.

The issuer (discovery and JWKS on loopback, in a thread) signs the ID tokens the tests
exchange; the stand-in is told it is the service's `NHS_LOGIN_ISSUER`, as it would be
told of the real one. The stand-in's clock stands at the suite's instant.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.frozen import SUITE_NOW
from tests.live_server import free_port

PROJECT = Path(__file__).resolve().parents[2]
CLIENT_ID = "gp-online-test"
START_SECONDS = 90
BASE = "/gp-connect/patient-facing"
# The suite's own settings that would point the stand-in elsewhere.
INHERITED_NOT = frozenset({"SANDBOX_DATABASE_URL", "NHS_LOGIN_ISSUER", "PRACTICES_FILE"})


class Issuer:
    """A minimal OpenID provider: discovery, JWKS, and ID tokens signed RS512."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"use": "sig"}, auto_kid=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/nhs-login"
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.endswith("/.well-known/openid-configuration"):
                    body: dict[str, Any] = {
                        "issuer": issuer.url,
                        "jwks_uri": f"{issuer.url}/.well-known/jwks.json",
                    }
                elif self.path.endswith("/.well-known/jwks.json"):
                    body = {"keys": [issuer.key.as_dict(private=False)]}
                else:
                    self.send_error(404)
                    return
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def id_token(self, nhs_number: str, **overrides: Any) -> str:
        now = int(SUITE_NOW.timestamp())
        claims = {
            "iss": self.url,
            "sub": str(uuid.uuid4()),
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 3600,
            "nhs_number": nhs_number,
            "identity_proofing_level": "P9",
            "vot": "P9.Cp.Cd",
        }
        claims.update(overrides)
        header = {"alg": "RS512", "kid": self.key.kid}
        return jwt.encode(header, claims, self.key, algorithms=["RS512"])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class StandIn:
    url: str
    client_key: RSAKey
    issuer: Issuer | None

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def assertion(self, **overrides: Any) -> str:
        now = int(SUITE_NOW.timestamp())
        claims = {
            "iss": CLIENT_ID,
            "sub": CLIENT_ID,
            "aud": f"{self.url}/oauth2/token",
            "jti": str(uuid.uuid4()),
            "iat": now,
            "exp": now + int(timedelta(minutes=5).total_seconds()),
        }
        claims.update(overrides)
        header = {"alg": "RS512", "typ": "JWT", "kid": "test"}
        return jwt.encode(header, claims, self.client_key, algorithms=["RS512"])

    def exchange(self, id_token: str) -> httpx.Response:
        form = {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "subject_token": id_token,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": self.assertion(),
        }
        with self.client() as client:
            return client.post("/oauth2/token", data=form)

    def token_for(self, nhs_number: str) -> str:
        assert self.issuer is not None
        response = self.exchange(self.issuer.id_token(nhs_number))
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token


def headers(token: str | None, **extra: str) -> dict[str, str]:
    """What the service's client sends: a bearer token and a fresh X-Request-ID."""
    sent = {"X-Request-ID": str(uuid.uuid4()), "Accept": "application/fhir+json", **extra}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    return sent


@pytest.fixture(scope="session")
def issuer() -> Iterator[Issuer]:
    started = Issuer()
    yield started
    started.close()


def _start(
    directory: Path, args: list[str], env: dict[str, str], *, port: int | None = None
) -> tuple[str, Any]:
    port = port or free_port()
    log = (directory / "standin.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 (our own module, fixed arguments)
        [sys.executable, "-m", "app.standin", "--port", str(port), *args],
        cwd=PROJECT,
        env={**{k: v for k, v in os.environ.items() if k not in INHERITED_NOT}, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((directory / "standin.log").read_text())
        try:
            if httpx.get(f"{url}/_health", timeout=1).status_code == 200:
                return url, process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the stand-in did not start: " + (directory / "standin.log").read_text())


def _stop(process: Any) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def _environment(directory: Path, issuer_url: str | None) -> dict[str, str]:
    env = {
        "APP_ENV": "test",
        "DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'app.db'}",
        "FROZEN_NOW": SUITE_NOW.isoformat(),
        "NHS_LOGIN_CLIENT_ID": CLIENT_ID,
        "LOG_LEVEL": "WARNING",
    }
    if issuer_url:
        env["NHS_LOGIN_ISSUER"] = issuer_url
    return env


@pytest.fixture(scope="session")
def standin(tmp_path_factory: pytest.TempPathFactory, issuer: Issuer) -> Iterator[StandIn]:
    """The stand-in enforcing tokens, checking the client's assertions with its key."""
    directory = tmp_path_factory.mktemp("standin")
    client_key = RSAKey.generate_key(2048)
    key_file = directory / "client.pem"
    key_file.write_bytes(client_key.as_pem(private=False))
    url, process = _start(
        directory, ["--client-key", str(key_file)], _environment(directory, issuer.url)
    )
    try:
        yield StandIn(url, client_key, issuer)
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def open_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    """The stand-in as the platform's sandbox: any bearer token, one practice."""
    directory = tmp_path_factory.mktemp("standin-open")
    url, process = _start(
        directory, ["--open-access", "--practice", "A81001"], _environment(directory, None)
    )
    try:
        yield StandIn(url, RSAKey.generate_key(2048), None)
    finally:
        _stop(process)
