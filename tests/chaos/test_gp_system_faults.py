"""A GP system that hangs, answers 5xx, or answers garbage, at each practice in turn.

One server process serves four practices: the three sandbox practices (EMIS-, TPP- and
Vision-like), whose faults are switched through the sandbox database as any process
would switch them (`python -m app.adapters.sandbox faults`), and a practice on GP
Connect, whose provider is a process of its own on loopback (`gp_connect_stand_in.py`)
that hangs, answers 5xx or answers garbage over real HTTP.

For each fault at each practice: the practice's patient gets `503 gp_system_unavailable`
with `Retry-After`, never a 500 and never a wait past the read deadline; each of the
first requests reaches the GP system (reads are retried, a bounded number of times) until
the practice's breaker opens at its threshold, and from then on it answers at once,
without calling. Patients of the other practices are served throughout, and the instance
stays ready. Once the fault clears and the cool-down has passed, the practice recovers by
itself: no restart.

The deadline, retries, threshold and cool-down are small in this server's practices file,
so each case takes seconds. `X-GP-Calls` (`EXPOSE_GP_CALLS`) says how many calls each
request made to a GP system.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.adapters.sandbox.faults import switch_faults
from app.auth import service as auth_service
from app.auth.oidc import identity_from_claims
from app.auth.types import Via
from app.clock import FrozenClock
from app.config import DEFAULT_PRACTICES_FILE, Settings
from app.db import create_engine
from app.gp.calls import GP_CALLS_HEADER
from app.gp.errors import GPSystemUnavailable
from app.gp.registry import Faults
from app.main import create_app
from tests.adapters.gpconnect import fake_server as provider
from tests.chaos import gp_connect_stand_in as stand_in
from tests.frozen import SUITE_NOW
from tests.live_server import PROJECT, LiveServer, free_port, live_server

READ_TIMEOUT = 0.5
READ_ATTEMPTS = 2
THRESHOLD = 3
COOLDOWN = 2
# However the GP system fails, an answer comes within the deadline of every try, the
# waits between them and this much more; the client gives up after that, failing the test.
CLIENT_TIMEOUT = READ_TIMEOUT * READ_ATTEMPTS + 5
RECOVERY_DEADLINE = COOLDOWN + CLIENT_TIMEOUT + 5
POLL_INTERVAL = 0.2
STAND_IN = (sys.executable, "-m", "tests.chaos.gp_connect_stand_in")

SANDBOX = {
    "A81001": "adult-full",
    "B82002": "historic-access",
    "C83003": "detailed-and-prospective",
}
GP_CONNECT = "D84004"
PRACTICES = (*SANDBOX, GP_CONNECT)
FAULTS = ("hang", "error", "garbage")
# In the sandbox, an error is the supplier's own "unavailable" answer (its 5xx).
SANDBOX_FAULTS = {
    "hang": Faults(hang=True),
    "error": Faults(outage=True),
    "garbage": Faults(garbage=True),
}
# The booking organisation; the patient-facing APIs need no Spine ASIDs, and without a
# token URL (not prod) the patient's token is the platform sandbox's.
GP_CONNECT_ENV = {
    "GPCONNECT_CONSUMER_ODS_CODE": "X26",
    "GPCONNECT_CONSUMER_TELEPHONE": "0300 303 5678",
}


@dataclass(frozen=True)
class Patient:
    ods_code: str
    token: str
    patient_id: str

    @property
    def appointments(self) -> str:
        return f"/v1/patients/{self.patient_id}/appointments"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Service:
    server: LiveServer
    provider_url: str  # the GP Connect stand-in
    database_url: str  # the server's, where the sandbox's switches are
    patients: dict[str, Patient]


def practices_file(directory: Path, provider_port: int) -> Path:
    """The demo practices and one on GP Connect, all with a short deadline and a small
    breaker."""
    practices = [
        practice
        for practice in json.loads(DEFAULT_PRACTICES_FILE.read_text())["practices"]
        if practice["ods_code"] != GP_CONNECT
    ]
    practices.append(
        {
            "ods_code": GP_CONNECT,
            "name": "Quayside Surgery",
            "adapter": "gpconnect",
            "endpoints": stand_in.endpoints(provider_port),
        }
    )
    for practice in practices:
        practice["timeouts"] = {"connect": READ_TIMEOUT, "read": READ_TIMEOUT}
        practice["resilience"] = {
            "read_attempts": READ_ATTEMPTS,
            "failure_threshold": THRESHOLD,
            "cooldown_seconds": COOLDOWN,
            "retry_wait_seconds": 0.05,
        }
    path = directory / "practices.json"
    path.write_text(json.dumps({"practices": practices}))
    return path


@contextmanager
def gp_connect_provider(directory: Path) -> Iterator[str]:
    """The stand-in provider in a process of its own; its base URL once it answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (directory / "provider.log").open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*STAND_IN, "--port", str(port)],
            cwd=PROJECT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (directory / "provider.log").read_text()
            try:
                httpx.get(f"{url}/_chaos/requests", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the GP Connect stand-in did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _sign_in_over_gp_connect(database_url: str, practices: Path) -> str:
    """A session for the stand-in's patient, linked over the wire by NHS number and
    demographics as GP Connect requires (a token only: the server process serves it)."""
    settings = Settings(
        _env_file=None, app_env="test", database_url=database_url, practices_file=practices
    )
    app = create_app(settings, clock=FrozenClock(SUITE_NOW))
    claims = {
        "sub": "gp-connect-chaos-patient",
        "nhs_number": provider.NHS_NUMBER,
        "family_name": provider.FAMILY_NAME,
        "birthdate": provider.BIRTH_DATE.isoformat(),
        "identity_proofing_level": "P9",
        "vot": "P9.Cp.Cd",
        "gp_registration_details": {"gp_ods_code": GP_CONNECT},
    }
    async with LifespanManager(app), app.state.sessionmaker() as db:
        issued = await auth_service.sign_in(
            db,
            identity_from_claims(claims, claims),
            registry=app.state.gp_registry,
            cipher=app.state.auth.cipher,
            clock=app.state.clock,
            policy=app.state.auth.policy,
            via="bearer",
        )
    return issued.token


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    directory = tmp_path_factory.mktemp("gp-faults")
    database_url = f"sqlite+aiosqlite:///{directory / 'app.db'}"
    with gp_connect_provider(directory) as provider_url:
        practices = practices_file(directory, int(provider_url.rsplit(":", 1)[1]))
        env = {
            "PRACTICES_FILE": str(practices),
            "EXPOSE_GP_CALLS": "true",
            # Each patient asks many times a second; their budgets are not what is tested.
            "RATE_LIMIT_ENABLED": "false",
            **GP_CONNECT_ENV,
        }
        sign_in: dict[str, tuple[str, Via]] = {ods: (tag, "bearer") for ods, tag in SANDBOX.items()}
        with (
            pytest.MonkeyPatch.context() as env_for_sign_in,
            live_server(directory, env=env, sign_in=sign_in, database_url=database_url) as server,
        ):
            for name, value in GP_CONNECT_ENV.items():
                env_for_sign_in.setenv(name, value)
            token = asyncio.run(_sign_in_over_gp_connect(database_url, practices))
            with server.client(headers={"Authorization": f"Bearer {token}"}) as client:
                own = client.get("/v1/me/patients").json()["items"][0]["patient_id"]
            patients = {
                ods: Patient(ods, session.token, session.patient_id)
                for ods, session in server.sessions.items()
            }
            patients[GP_CONNECT] = Patient(GP_CONNECT, token, own)
            yield Service(server, provider_url, database_url, patients)


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service.server.base_url, timeout=CLIENT_TIMEOUT) as http:
        yield http


async def switch(service: Service, ods_code: str, fault: str | None) -> None:
    """Make the practice's GP system fail with `fault` from its next call (None: mend it)."""
    if ods_code == GP_CONNECT:
        async with httpx.AsyncClient(base_url=service.provider_url) as control:
            answer = await control.put("/_chaos/fault", json={"mode": fault or "none"})
            answer.raise_for_status()
        return
    engine = create_engine(service.database_url)
    try:
        await switch_faults(engine, ods_code, SANDBOX_FAULTS[fault] if fault else None)
    finally:
        await engine.dispose()


async def provider_requests(service: Service) -> int:
    """Requests that reached the GP Connect stand-in, whatever it answered."""
    async with httpx.AsyncClient(base_url=service.provider_url) as control:
        count: int = (await control.get("/_chaos/requests")).json()["count"]
        return count


async def circuit(client: httpx.AsyncClient, ods_code: str) -> str:
    systems = (await client.get("/status/gp-systems")).json()["gp_systems"]
    return str(next(system["circuit"] for system in systems if system["ods_code"] == ods_code))


def gp_calls(response: httpx.Response) -> int:
    return int(response.headers[GP_CALLS_HEADER])


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == GPSystemUnavailable.code
    assert int(response.headers["retry-after"]) >= 1


async def served(client: httpx.AsyncClient, patient: Patient) -> bool:
    response = await client.get(patient.appointments, headers=patient.headers)
    if response.status_code != 200:
        assert_unavailable(response)  # not yet recovered from an earlier case: never worse
    return response.status_code == 200


async def until_served(client: httpx.AsyncClient, patients: list[Patient]) -> None:
    """Every patient served, once any open breaker has let a trial call through."""
    deadline = time.monotonic() + RECOVERY_DEADLINE
    for patient in patients:
        while not await served(client, patient):
            assert time.monotonic() < deadline, f"{patient.ods_code} did not recover"
            await asyncio.sleep(POLL_INTERVAL)


async def _watch(
    client: httpx.AsyncClient,
    patients: list[Patient],
    stop: asyncio.Event,
    seen: list[tuple[str, int]],
) -> None:
    while not stop.is_set():
        for patient in patients:
            response = await client.get(patient.appointments, headers=patient.headers)
            seen.append((patient.ods_code, response.status_code))
        seen.append(("/readyz", (await client.get("/readyz")).status_code))
        await asyncio.sleep(POLL_INTERVAL / 2)


@asynccontextmanager
async def bystanders(
    client: httpx.AsyncClient, patients: list[Patient]
) -> AsyncIterator[list[tuple[str, int]]]:
    """The other practices' patients, and a load balancer asking for readiness, all the
    while: what each was answered."""
    seen: list[tuple[str, int]] = []
    stop = asyncio.Event()
    watching = asyncio.create_task(_watch(client, patients, stop, seen))
    try:
        yield seen
    finally:
        stop.set()
        await watching


async def open_the_breaker(client: httpx.AsyncClient, patient: Patient) -> None:
    """The first requests each reach the GP system, every try of the read, and fail; then
    the breaker is open and answers at once with the time left of its cool-down."""
    for _ in range(THRESHOLD):
        response = await client.get(patient.appointments, headers=patient.headers)
        assert_unavailable(response)
        assert gp_calls(response) == READ_ATTEMPTS
    assert await circuit(client, patient.ods_code) == "opened"
    response = await client.get(patient.appointments, headers=patient.headers)
    assert_unavailable(response)
    assert gp_calls(response) == 0
    assert int(response.headers["retry-after"]) <= COOLDOWN


async def recover(client: httpx.AsyncClient, patient: Patient) -> None:
    """Served again by itself after the cool-down; until then, answered at once."""
    deadline = time.monotonic() + RECOVERY_DEADLINE
    while True:
        response = await client.get(patient.appointments, headers=patient.headers)
        if response.status_code == 200:
            break
        assert_unavailable(response)
        assert gp_calls(response) == 0  # the breaker answers until a trial call succeeds
        assert time.monotonic() < deadline, "the practice did not recover by itself"
        await asyncio.sleep(POLL_INTERVAL)
    assert await circuit(client, patient.ods_code) == "closed"


@pytest.mark.parametrize("ods_code", PRACTICES)
@pytest.mark.parametrize("fault", FAULTS)
async def test_a_failing_gp_system_is_a_503_at_its_own_practice_only(
    service: Service, client: httpx.AsyncClient, fault: str, ods_code: str
) -> None:
    patient = service.patients[ods_code]
    others = [other for other in service.patients.values() if other is not patient]
    await until_served(client, [patient, *others])
    async with bystanders(client, others) as seen:
        try:
            await switch(service, ods_code, fault)
            reached = await provider_requests(service)
            await open_the_breaker(client, patient)
            if ods_code == GP_CONNECT:
                # On the wire: every try of every failing request, and nothing once open.
                assert await provider_requests(service) == reached + THRESHOLD * READ_ATTEMPTS
        finally:
            await switch(service, ods_code, None)
        await recover(client, patient)

    assert {practice for practice, _ in seen} == {*(other.ods_code for other in others), "/readyz"}
    assert {status for _, status in seen} == {200}, [answer for answer in seen if answer[1] != 200]
