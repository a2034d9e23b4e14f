"""PostgreSQL stopped and restarted while a patient books appointments.

The server runs on a PostgreSQL cluster of this test's own (never the shared one): the
app's tables and the sandbox GP systems' both live there. A patient books one slot after
another, each with its own Idempotency-Key. The cluster is stopped, started again, and
then restarted at once, each time just as a booking has claimed its key and is waiting on
the GP system, the moment that can lose or double a booking.

While it is down, every request must answer 503 straight away (`database_unavailable`,
or `gp_system_unavailable` from the sandbox GP system in the same database) with
Retry-After: never 500, never a dropped connection, never a wait past the client's own
timeout. Once it is back, the same server process must serve again by itself. And every
booking is made exactly once: those answered 201 are in the patient's list once, those
answered 503 end booked once when sent again with the same key, and no slot is booked
twice.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.auth.types import Via
from tests.conftest import demo_practices_with
from tests.frozen import SUITE_NOW
from tests.live_server import LiveServer, free_port, live_server

CLIENT_TIMEOUT = 10  # seconds, as `LiveServer.client` waits: slower counts as no answer
CONNECT_TIMEOUT = 2  # the server's DATABASE_CONNECT_TIMEOUT_SECONDS
# A request the outage cut off leaves its claim on the key and its lock on the patient's
# bookings behind; they lapse after this long (IDEMPOTENCY_LEASE_SECONDS), short here.
LEASE_SECONDS = 3
# Each sandbox GP call takes this long, so a booking waits on the GP system long enough
# after claiming its key for the outage to begin right then.
GP_LATENCY_MS = 300
RETRY_TIMEOUT = 30  # a retry waits for a lapsed claim, then books (or finds the booking)
WAIT_SECONDS = 60  # deadline for each thing the test waits to see
OUTAGE_CODES = {"database_unavailable", "gp_system_unavailable"}
PRACTICE = "A81001"  # the adult-full persona's; EMIS-like, so a reason is asked for
REASON = "Sore throat for a week"
DATABASE = "gp_online"
CTL_SECONDS = 60
# A booking's claim on its key (a uuid the test made), taken and not yet finished.
UNFINISHED_CLAIM = (
    "SELECT count(*) FROM idempotency_records WHERE key = '{key}' AND status_code IS NULL"
)
# In the sandbox GP system's own tables: any slot holding more than one live booking.
DOUBLE_BOOKED_SLOTS = (
    "SELECT slot_id FROM sandbox_appointments WHERE status = 'booked' "
    "GROUP BY slot_id HAVING count(*) > 1"
)


# --- a private PostgreSQL cluster ----------------------------------------------------


def _postgres_bindir() -> Path | None:
    """Where initdb and pg_ctl are: `pg_config --bindir`, else the newest Debian install."""
    candidates: list[str] = []
    if pg_config := shutil.which("pg_config"):
        found = subprocess.run(  # noqa: S603 - PostgreSQL's own tool, fixed arguments
            [pg_config, "--bindir"], capture_output=True, text=True
        )
        candidates.append(found.stdout.strip())
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda path: int(Path(path).parent.name) if Path(path).parent.name.isdigit() else 0,
        reverse=True,
    )
    if initdb := shutil.which("initdb"):
        candidates.append(str(Path(initdb).parent))
    for candidate in candidates:
        if candidate and all((Path(candidate) / tool).exists() for tool in ("initdb", "pg_ctl")):
            return Path(candidate)
    return None


@dataclass
class Cluster:
    """A PostgreSQL cluster in a directory of its own, on a free loopback port."""

    bindir: Path
    root: Path
    port: int
    # PostgreSQL refuses to run as root: as root, its tools run as `postgres`.
    run_as: list[str] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        # Never pg_ctl's own output: the server would hold that pipe open.
        return self.root / "postgres.log"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str) -> str:
        command = [*self.run_as, str(self.bindir / tool), *args]
        result = subprocess.run(  # noqa: S603 - PostgreSQL's own tools, the test's arguments
            command, capture_output=True, text=True, timeout=CTL_SECONDS
        )
        assert result.returncode == 0, f"{tool} {args}: {result.stdout}{result.stderr}"
        return result.stdout.strip()

    def _ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", str(CTL_SECONDS), *args)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._ctl("start", "-o", options, "-l", str(self.log))

    def stop(self, mode: str = "fast") -> None:
        self._ctl("stop", "-m", mode)

    def restart(self) -> None:
        """Stop and start at once, as an upgrade or a failover would."""
        self._ctl("restart", "-m", "fast", "-l", str(self.log))

    def sql(self, statement: str, database: str = DATABASE) -> None:
        self.query(statement, database)

    def query(self, statement: str, database: str = DATABASE) -> str:
        """What `statement` returns, one row a line."""
        return self._run(
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
            "-v", "ON_ERROR_STOP=1", "-qAtc", statement,
        )  # fmt: skip


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    bindir = _postgres_bindir()
    if bindir is None:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but PostgreSQL's initdb and pg_ctl were not found")
        pytest.skip("needs PostgreSQL's server tools (initdb, pg_ctl)")
    # Not pytest's tmp_path: as root, the tools run as `postgres`, which must reach it.
    root = Path(tempfile.mkdtemp(prefix="gp-online-chaos-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        postgres = pwd.getpwnam("postgres")
        os.chown(root, postgres.pw_uid, postgres.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    running = Cluster(bindir, root, free_port(), run_as)
    try:
        running.init()
        running.start()
        running.sql(f'CREATE DATABASE "{DATABASE}"', database="postgres")
        yield running
    finally:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            running.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def server(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("database-restart")
    env = {
        "DATABASE_CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT),
        "IDEMPOTENCY_LEASE_SECONDS": str(LEASE_SECONDS),
        "PRACTICES_FILE": str(
            demo_practices_with(directory, PRACTICE, faults={"latency_ms": GP_LATENCY_MS})
        ),
        # Budgets and limits that would otherwise stop the many bookings this test makes.
        "RATE_LIMIT_BOOKING": "10000/hour",
        "RATE_LIMIT_ACCOUNT": "10000/minute",
        "PRACTICE_SETTINGS_SECONDS": "0",
    }
    sign_in: dict[str, tuple[str, Via]] = {"patient": ("adult-full", "bearer")}
    with live_server(
        directory, env=env, sign_in=sign_in, database_url=cluster.url(DATABASE)
    ) as running:
        cluster.sql("UPDATE sandbox_practices SET max_future_appointments = 1000")
        yield running


# --- the patient --------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What one request got: a status and problem code, or no answer at all."""

    status: int | None
    code: str | None = None
    retry_after: str | None = None
    appointment_id: str | None = None
    failure: str | None = None  # why there was no answer

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        body = response.json() if response.content else {}
        return cls(
            response.status_code,
            body.get("code"),
            response.headers.get("retry-after"),
            body.get("appointment_id") if response.status_code == 201 else None,
        )

    @property
    def is_outage(self) -> bool:
        """The 503 a patient should get while the database is down."""
        return self.status == 503 and self.code in OUTAGE_CODES and bool(self.retry_after)


def _ask(send: Callable[[], httpx.Response]) -> Answer:
    try:
        return Answer.of(send())
    except httpx.TransportError as error:  # dropped, refused, or past the client's timeout
        return Answer(None, failure=repr(error))


@dataclass(frozen=True)
class Attempt:
    slot_id: str
    key: str
    answer: Answer


class Patient:
    """The signed-in patient, booking free slots one after another on a thread."""

    def __init__(self, server: LiveServer) -> None:
        session = server.sessions["patient"]
        self.base = f"/v1/patients/{session.patient_id}"
        self._headers = {"Authorization": f"Bearer {session.token}"}
        self._server = server
        self.client = server.client(headers=self._headers)
        self.attempts: list[Attempt] = []
        self.sending: str | None = None  # the key of the booking under way
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def book(
        self,
        slot_id: str,
        key: str,
        *,
        client: httpx.Client | None = None,
        timeout: float = CLIENT_TIMEOUT,
    ) -> Answer:
        return _ask(
            lambda: (client or self.client).post(
                f"{self.base}/appointments",
                json={"slot_id": slot_id, "reason": REASON},
                headers={"Idempotency-Key": key},
                timeout=timeout,
            )
        )

    def get(self, path: str) -> Answer:
        return _ask(lambda: self.client.get(path))

    def appointments(self) -> list[dict[str, Any]]:
        response = self.client.get(f"{self.base}/appointments")
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def free_slots(self) -> list[str]:
        start = (SUITE_NOW + timedelta(days=2)).isoformat()
        response = self.client.get(f"{self.base}/slots", params={"from": start, "limit": 500})
        assert response.status_code == 200, response.text
        return [slot["slot_id"] for slot in response.json()["items"]]

    def start_booking(self, slots: list[str]) -> None:
        self._thread = threading.Thread(target=self._book_each, args=(slots,), daemon=True)
        self._thread.start()

    def stop_booking(self) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=RETRY_TIMEOUT)
        assert not self._thread.is_alive()

    def _book_each(self, slots: list[str]) -> None:
        # Its own client: httpx clients are not for sharing between threads.
        with self._server.client(headers=self._headers) as client:
            for slot_id in slots:
                if self._stop.is_set():
                    return
                key = f"chaos-{uuid.uuid4()}"
                self.sending = key
                answer = self.book(slot_id, key, client=client)
                self.sending = None
                self.attempts.append(Attempt(slot_id, key, answer))
                # Sooner than Retry-After asks, as an impatient app would.
                time.sleep(0.05 if answer.status == 201 else 0.2)

    def booked(self) -> int:
        return sum(attempt.answer.status == 201 for attempt in list(self.attempts))


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.02)


def _mid_booking(patient: Patient, cluster: Cluster) -> None:
    """Wait until a booking has claimed its key and not yet finished: it is waiting on
    the GP system, with its claim and the patient's lock held."""

    def claimed() -> bool:
        key = patient.sending
        return key is not None and cluster.query(UNFINISHED_CLAIM.format(key=key)) == "1"

    _until(claimed, "a booking under way")


# --- the test -----------------------------------------------------------------------


def test_a_database_restart_fails_fast_and_loses_or_doubles_no_booking(
    server: LiveServer, cluster: Cluster
) -> None:
    patient = Patient(server)
    before = {item["appointment_id"] for item in patient.appointments()}
    slots = patient.free_slots()
    outage_slot, slots = slots[0], slots[1:]
    patient.start_booking(slots)
    try:
        _until(lambda: patient.booked() >= 2, "bookings before the outage")

        _mid_booking(patient, cluster)
        during = len(patient.attempts)
        cluster.stop()
        probes = {
            "GET /v1/me": patient.get("/v1/me"),
            "GET appointments": patient.get(f"{patient.base}/appointments"),
            "GET slots": patient.get(f"{patient.base}/slots"),
        }
        outage_key = f"chaos-{uuid.uuid4()}"
        probes["POST appointments"] = patient.book(outage_slot, outage_key)
        ready = patient.client.get("/readyz")
        _until(lambda: len(patient.attempts) >= during + 3, "bookings during the outage")
        outage_answers = [attempt.answer for attempt in patient.attempts[during:]]
        cluster.start()

        _until(
            lambda: patient.get(f"{patient.base}/appointments").status == 200,
            "the service to serve again after PostgreSQL came back",
        )
        recovered = patient.client.get("/readyz").status_code
        mark = patient.booked()
        _until(lambda: patient.booked() >= mark + 2, "bookings after the database came back")

        # Restarted at once: every pooled connection is stale, yet the service recovers.
        _mid_booking(patient, cluster)
        cluster.restart()
        mark = patient.booked()
        _until(lambda: patient.booked() >= mark + 2, "bookings after a restart")
    finally:
        patient.stop_booking()

    # While down: a prompt 503 for each, readiness reporting the database.
    for what, answer in probes.items():
        assert answer.is_outage, f"{what} while PostgreSQL was down: {answer}"
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "unavailable"
    assert outage_answers
    assert all(answer.is_outage for answer in outage_answers), outage_answers
    assert recovered == 200
    # Throughout: a booking answers 201 or the outage's 503, nothing else.
    unexpected = [a for a in patient.attempts if a.answer.status != 201 and not a.answer.is_outage]
    assert not unexpected, unexpected

    # Each booking that met the outage, sent again with its key, is made now (or found,
    # if the GP system booked it before the outage cut the request off).
    refused = [(a.slot_id, a.key) for a in patient.attempts if a.answer.status != 201]
    refused.append((outage_slot, outage_key))
    retried = {key: patient.book(slot_id, key, timeout=RETRY_TIMEOUT) for slot_id, key in refused}
    assert all(answer.status == 201 for answer in retried.values()), retried
    # A key already answered 201 replays that booking rather than making another.
    first = next(a for a in patient.attempts if a.answer.status == 201)
    assert patient.book(first.slot_id, first.key).appointment_id == first.answer.appointment_id

    made = [a.answer.appointment_id or "" for a in patient.attempts if a.answer.status == 201]
    made += [answer.appointment_id or "" for answer in retried.values()]
    listed = [item["appointment_id"] for item in patient.appointments()]
    new = [appointment for appointment in listed if appointment not in before]
    # Every booking the patient was told of is there once, and nothing else was booked:
    # one appointment for each key, each in a slot of its own.
    assert sorted(new) == sorted(made)
    assert len(set(made)) == len(made) == len(patient.attempts) + 1
    assert cluster.query(DOUBLE_BOOKED_SLOTS) == ""
