"""Races through the real HTTP stack: uvicorn with two worker processes on PostgreSQL.

- 50 different patients book the same slot at once: exactly one gets it.
- One patient sends the same booking 20 times at once (a retry storm): one booking.
- One patient orders the same medicine 10 times at once with different keys: one request.

Runs only with TEST_DATABASE_URL (and must run when REQUIRE_POSTGRES=1).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.adapters.sandbox import tables as sandbox
from app.adapters.sandbox.personas import LOAD_TEST_PRACTICE, Persona, load_test_personas_at
from app.adapters.sandbox.seed import build_seed_rows, load
from app.audit.models import AuditRecord
from app.audit.types import AuditAction
from app.clock import FrozenClock
from app.config import Settings
from app.db import create_engine
from app.devtools.sessions import persona_patient_id, sign_in_persona
from app.main import create_app
from tests.conftest import LIFESPAN_TIMEOUT, _create_database, postgres_url, reset_schema
from tests.frozen import SUITE_NOW, SUITE_TODAY

RACERS = 50
STORM = 20
ORDERS = 10  # one course ordered at once, each with its own key
PROJECT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres_only, pytest.mark.timeout(90)]


@dataclass(frozen=True)
class Racer:
    persona: Persona
    patient_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Server:
    base_url: str
    database_url: str
    sandbox_url: str
    racers: list[Racer]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _prepare(database_url: str, sandbox_url: str) -> list[Racer]:
    """Migrate (create_all) the app database, seed the sandbox, sign the racers in."""
    engine = create_engine(database_url)
    await reset_schema(engine)
    await engine.dispose()
    sandbox_engine = create_engine(sandbox_url)
    await load(sandbox_engine, build_seed_rows(SUITE_TODAY))
    await sandbox_engine.dispose()

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        app_env="test",
        database_url=database_url,
        sandbox_database_url=sandbox_url,
    )
    clock = FrozenClock(SUITE_NOW)
    app = create_app(settings, clock=clock)
    racers = []
    async with LifespanManager(app, startup_timeout=LIFESPAN_TIMEOUT):
        for persona in load_test_personas_at(SUITE_TODAY, LOAD_TEST_PRACTICE)[: RACERS + 2]:
            issued = await sign_in_persona(app, persona, clock=clock)
            racers.append(
                Racer(
                    persona,
                    persona_patient_id(app, persona),
                    issued.token,
                )
            )
    return racers


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # uvicorn's manager stops its workers
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own process group, started below
        process.wait(timeout=5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    url = postgres_url()
    if not url:
        pytest.skip("the race tests need PostgreSQL (TEST_DATABASE_URL)")
    parsed = make_url(url)
    urls = []
    for suffix in ("race", "race_sandbox"):
        name = f"{parsed.database}_{suffix}"
        assert asyncio.run(_create_database(url, name)), f"cannot create database {name}"
        urls.append(parsed.set(database=name).render_as_string(hide_password=False))
    database_url, sandbox_url = urls
    racers = asyncio.run(_prepare(database_url, sandbox_url))

    port = _free_port()
    log = tmp_path_factory.mktemp("race") / "uvicorn.log"
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "SANDBOX_DATABASE_URL": sandbox_url,
        "LOG_LEVEL": "WARNING",
        "FROZEN_NOW": SUITE_NOW.isoformat(),
        # The storm is about idempotency; the booking budget has tests of its own.
        "RATE_LIMIT_BOOKING": "1000/hour",
        "RATE_LIMIT_PRESCRIPTION_REQUEST": "1000/hour",
        # The racers stand for different patients, with addresses of their own in life;
        # here they share loopback, which would hold only one client's share of a worker.
        "MAX_CONCURRENT_REQUESTS_PER_ADDRESS": "1000",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
             "--workers", "2", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "warning"],
            cwd=PROJECT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"uvicorn exited:\n{log.read_text()}"
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"uvicorn did not start:\n{log.read_text()}"
            time.sleep(0.2)
        yield Server(base_url, database_url, sandbox_url, racers)
    finally:
        _stop(process)


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=RACERS + 10, max_keepalive_connections=RACERS + 10)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30, limits=limits) as client:
        yield client


async def _free_slot(http: httpx.AsyncClient, racer: Racer, index: int) -> str:
    """A free slot a few days ahead, different for each test."""
    response = await http.get(f"/v1/patients/{racer.patient_id}/slots", headers=racer.headers)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert len(items) > index
    slot_id: str = items[-1 - index]["slot_id"]
    return slot_id


async def _appointments_for_slot(server: Server, slot_id: str) -> list[str]:
    engine = create_engine(server.sandbox_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(sandbox.appointments.c.appointment_id).where(
                    sandbox.appointments.c.slot_id == slot_id,
                    sandbox.appointments.c.status == "booked",
                )
            )
            return list(rows.scalars())
    finally:
        await engine.dispose()


async def _audited(server: Server, appointment_id: str) -> int:
    engine = create_engine(server.database_url)
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                select(func.count())
                .select_from(AuditRecord)
                .where(
                    AuditRecord.action == AuditAction.APPOINTMENT_BOOKED,
                    AuditRecord.target == appointment_id,
                )
            )
            return count or 0
    finally:
        await engine.dispose()


async def test_fifty_patients_racing_for_one_slot(server: Server, http: httpx.AsyncClient) -> None:
    racers = server.racers[:RACERS]
    assert len({r.patient_id for r in racers}) == RACERS
    assert {r.persona.ods_code for r in racers} == {LOAD_TEST_PRACTICE}
    slot_id = await _free_slot(http, racers[0], 0)
    # Every racer and this test meet at the line; then all send at once.
    start = asyncio.Barrier(RACERS + 1)

    async def book(racer: Racer, number: int) -> httpx.Response:
        await start.wait()
        return await http.post(
            f"/v1/patients/{racer.patient_id}/appointments",
            json={"slot_id": slot_id},
            headers={**racer.headers, "Idempotency-Key": f"race-{number:03d}-{slot_id}"},
        )

    tasks = [asyncio.create_task(book(r, n)) for n, r in enumerate(racers)]
    await start.wait()
    answers = await asyncio.gather(*tasks)

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * (RACERS - 1), [
        a.text for a in answers if a.status_code >= 500
    ]
    losers = [a.json()["code"] for a in answers if a.status_code == 409]
    assert set(losers) == {"slot_unavailable"}
    winner = next(a for a in answers if a.status_code == 201).json()
    assert await _appointments_for_slot(server, slot_id) == [winner["appointment_id"]]
    assert await _audited(server, winner["appointment_id"]) == 1


async def test_a_retry_storm_books_once(server: Server, http: httpx.AsyncClient) -> None:
    racer = server.racers[RACERS]  # someone who took no part in the race
    slot_id = await _free_slot(http, racer, 1)
    key = f"storm-{slot_id}"
    start = asyncio.Barrier(STORM + 1)

    async def book() -> httpx.Response:
        await start.wait()
        return await http.post(
            f"/v1/patients/{racer.patient_id}/appointments",
            json={"slot_id": slot_id, "reason": "Follow-up"},
            headers={**racer.headers, "Idempotency-Key": key},
        )

    tasks = [asyncio.create_task(book()) for _ in range(STORM)]
    await start.wait()
    answers = await asyncio.gather(*tasks)

    booked = [a for a in answers if a.status_code == 201]
    waiting = [a for a in answers if a.status_code == 409]
    assert len(booked) + len(waiting) == STORM, [a.text for a in answers]
    assert booked, "at least the first request books"
    assert all(a.json()["code"] == "request_in_progress" for a in waiting)
    assert len({a.text for a in booked}) == 1
    assert len({a.headers["location"] for a in booked}) == 1
    appointment = booked[0].json()
    assert await _appointments_for_slot(server, slot_id) == [appointment["appointment_id"]]
    assert await _audited(server, appointment["appointment_id"]) == 1
    # The Location resolves on whichever worker answers.
    fetched = await http.get(booked[0].headers["location"], headers=racer.headers)
    assert fetched.status_code == 200
    assert fetched.json() == appointment


async def _gp_course_named(server: Server, patient_ref: str, name: str) -> str:
    """The GP system's id of the patient's course whose name starts with `name`."""
    engine = create_engine(server.sandbox_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.scalars(
                select(sandbox.courses.c.course_id).where(
                    sandbox.courses.c.patient_ref == patient_ref,
                    sandbox.courses.c.name.startswith(name),
                )
            )
            (course_id,) = rows.all()
            return course_id
    finally:
        await engine.dispose()


async def _pending_requests_for(server: Server, course_id: str) -> int:
    engine = create_engine(server.sandbox_url)
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                select(func.count())
                .select_from(sandbox.prescription_request_items.join(sandbox.prescription_requests))
                .where(
                    sandbox.prescription_request_items.c.course_id == course_id,
                    sandbox.prescription_requests.c.status == "requested",
                )
            )
            return count or 0
    finally:
        await engine.dispose()


async def test_one_course_ordered_at_once_on_both_workers_is_ordered_once(
    server: Server, http: httpx.AsyncClient
) -> None:
    racer = server.racers[RACERS + 1]  # someone who took no part in the other races
    courses = await http.get(
        f"/v1/patients/{racer.patient_id}/prescriptions/courses", headers=racer.headers
    )
    course = next(c for c in courses.json()["items"] if c["name"].startswith("Amlodipine"))
    assert course["orderable"], course
    start = asyncio.Barrier(ORDERS + 1)

    async def order(number: int) -> httpx.Response:
        await start.wait()
        return await http.post(
            f"/v1/patients/{racer.patient_id}/prescriptions/requests",
            json={"course_ids": [course["course_id"]], "note": "No changes"},
            headers={**racer.headers, "Idempotency-Key": f"order-{number:03d}-{racer.patient_id}"},
        )

    tasks = [asyncio.create_task(order(n)) for n in range(ORDERS)]
    await start.wait()
    answers = await asyncio.gather(*tasks)

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * (ORDERS - 1), [
        a.text for a in answers if a.status_code >= 500
    ]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"request_pending"}
    # The API shows its own id for the course; the GP system holds it by its own.
    gp_course = await _gp_course_named(server, racer.persona.patient_ref, "Amlodipine")
    assert gp_course != course["course_id"]
    assert await _pending_requests_for(server, gp_course) == 1
