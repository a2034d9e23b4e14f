"""A worker killed mid-request: a booking or an order is made once or not at all, is
visible either way, and a retry with the same Idempotency-Key gets a definite answer.

Two workers, so the service outlives the kill; every GP call is slowed so the kill can
land inside a request. The request is sent on a connection whose worker the test finds
(the process holding the server's end of it) and kills with SIGKILL: nothing in the
worker runs after it, as when a pod is evicted or a process runs out of memory.

- **Killed before the GP system acted** (while the first GP call waits): nothing was
  made, and the lists say so. The retry finds the dead worker's claim on the key still
  "in progress"; once its lease has run out (`IDEMPOTENCY_LEASE_SECONDS`, small here)
  the retry takes the claim over, and books or orders now.
- **Killed after the GP system acted**, before our own record said so (the test holds
  the app database's writes until the GP system has the booking or order, then kills):
  the GP system has it, and the lists show it once. The retry takes the claim over and
  must not act again. A booking is looked for first, by its slot, among the patient's
  appointments: the retry answers `201` with that appointment, as the first answer would
  have been. An order is not looked for: the GP system's own rule refuses a second
  request for a medicine already requested, so the retry answers `409 request_pending`,
  which says what is true ("you have already requested this medicine"), and the request
  list shows the one order.

Either way a retry never waits forever behind a claim or a patient's lock left by the
dead worker: both are leases, counted in real seconds (the service's clock stands still
in these tests, as `FROZEN_NOW` sets it).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, func, select

from app.adapters.sandbox import tables as sandbox
from app.adapters.sandbox.personas import find_persona
from app.idempotency.models import ActionLock
from tests.conftest import demo_practices_with
from tests.frozen import SUITE_TODAY
from tests.live_server import LiveServer, live_server, read_response

LATENCY_MS = 500  # every GP call: a request spends seconds in the GP system, as in life
LEASE_SECONDS = 2  # how long a dead worker's claim and lock outlive it, short for the test
RETRY_FOR = 40  # seconds a client keeps retrying before the test calls it stuck
POLL = 0.02
# Personas: each case acts for its own patient, so that one case's booking or order
# does not meet another's limit.
PERSONAS = {
    "olivia": "adult-full",
    "hannah": "summary-only",
    "kai": "registered-after-rollout",
}

pytestmark = pytest.mark.timeout(180)


class Databases:
    """The server's two SQLite files, read (and, for a moment, write-locked) by the test."""

    def __init__(self, directory: Path) -> None:
        self.app_path = directory / "app.db"
        self.app = create_engine(f"sqlite:///{self.app_path}")
        self.sandbox = create_engine(f"sqlite:///{directory / 'sandbox.db'}")

    def lock_holders(self, name: str) -> set[str]:
        return set(_scalars(self.app, select(ActionLock.holder).where(ActionLock.name == name)))

    def booked_in_slot(self, slot_id: str) -> int:
        table = sandbox.appointments
        query = select(func.count()).where(table.c.slot_id == slot_id, table.c.status == "booked")
        return int(_scalars(self.sandbox, query)[0])

    def pending_requests(self, patient_ref: str) -> int:
        table = sandbox.prescription_requests
        query = select(func.count()).where(
            table.c.patient_ref == patient_ref, table.c.status == "requested"
        )
        return int(_scalars(self.sandbox, query)[0])

    @contextmanager
    def app_writes_held(self) -> Iterator[None]:
        """Hold the app database's write lock: a worker's next write waits for it."""
        connection = sqlite3.connect(self.app_path, timeout=10, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()

    def dispose(self) -> None:
        self.app.dispose()
        self.sandbox.dispose()


def _scalars(engine: Engine, query: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(query).scalars())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("worker-killed")
    env = {
        "WEB_CONCURRENCY": "2",
        "PRACTICES_FILE": str(demo_practices_with(directory, faults={"latency_ms": LATENCY_MS})),
        "SANDBOX_DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'sandbox.db'}",
        "IDEMPOTENCY_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    sign_in = {name: (tag, "bearer") for name, tag in PERSONAS.items()}
    # SQLite files, whatever the suite's database: the test times each kill by holding the
    # app database's write lock, and reads both databases beside the server.
    app_database = f"sqlite+aiosqlite:///{directory / 'app.db'}"
    with live_server(
        directory,
        env=env,
        sign_in=sign_in,  # type: ignore[arg-type]
        database_url=app_database,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def databases(server: LiveServer) -> Iterator[Databases]:
    found = Databases(server.log.parent)
    yield found
    found.dispose()


class Patient:
    """One signed-in persona's calls, each on a new connection (none outlives a worker)."""

    def __init__(self, server: LiveServer, name: str) -> None:
        self.server = server
        self.session = server.sessions[name]
        self.patient_ref = find_persona(SUITE_TODAY, PERSONAS[name]).patient_ref
        self.base = f"/v1/patients/{self.session.patient_id}"
        self.headers = {"Authorization": f"Bearer {self.session.token}"}

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with httpx.Client(base_url=self.server.base_url, timeout=60) as client:
            return client.request(method, f"{self.base}{path}", **kwargs)

    def get(self, path: str, **params: Any) -> Any:
        response = self.call("GET", path, params=params, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: dict[str, Any], key: str) -> httpx.Response:
        return self.call("POST", path, json=body, headers={**self.headers, "Idempotency-Key": key})

    def send_and_leave(self, path: str, body: dict[str, Any], key: str) -> socket.socket:
        """Send the request on a raw connection and return it unread."""
        payload = json.dumps(body).encode()
        head = (
            f"POST {self.base}{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {self.session.token}\r\nIdempotency-Key: {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        connection = self.server.connect(timeout=30)
        connection.sendall(head.encode() + payload)
        return connection

    def retry_until_answered(self, path: str, body: dict[str, Any], key: str) -> httpx.Response:
        """Retry as a client would, after each `Retry-After`, until the answer is not
        "still in progress"; fails if that takes longer than `RETRY_FOR`."""
        deadline = time.monotonic() + RETRY_FOR
        while True:
            response = self.post(path, body, key)
            if response.status_code != 409 or response.json()["code"] != "request_in_progress":
                return response
            assert time.monotonic() < deadline, "the retry is stuck behind the dead worker"
            time.sleep(float(response.headers["Retry-After"]))


# --- finding and killing the worker ---------------------------------------------------------


def _socket_inode(local_port: int, remote_port: int) -> str:
    """The inode of the loopback TCP socket from `local_port` to `remote_port`."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if int(local.split(":")[1], 16) == local_port and (
            int(remote.split(":")[1], 16) == remote_port
        ):
            return inode
    raise AssertionError(f"no socket from port {local_port} to {remote_port}")


def _holders(inode: str) -> list[int]:
    target = f"socket:[{inode}]"
    found = []
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        try:
            links = [os.readlink(fd) for fd in (process / "fd").iterdir()]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if target in links:
            found.append(int(process.name))
    return found


def _parent(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("PPid:")).split()[1])


def kill_the_worker_serving(server: LiveServer, connection: socket.socket) -> int:
    """SIGKILL the worker holding the server's end of `connection`; its pid."""
    (worker,) = _holders(_socket_inode(server.port, connection.getsockname()[1]))
    # One of the workers that uvicorn's manager (`python -m app`) started, not the manager.
    manager = Path(f"/proc/{_parent(worker)}/cmdline").read_bytes().split(b"\0")
    assert manager[1:3] == [b"-m", b"app"], manager
    os.kill(worker, signal.SIGKILL)
    return worker


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(POLL)


def kill_mid_request(
    server: LiveServer,
    databases: Databases,
    connection: socket.socket,
    lock_name: str,
    held_before: set[str],
    *,
    after: Callable[[], bool] | None = None,
) -> None:
    """Kill the worker once the request holds the patient's lock (it is in the GP system).

    With `after`, kill only once `after()` holds (the GP system has acted), while the
    worker waits to write down what the GP system answered.
    """
    wait_for(lambda: bool(databases.lock_holders(lock_name) - held_before), "the request")
    if after is None:
        kill_the_worker_serving(server, connection)
    else:
        with databases.app_writes_held():
            wait_for(after, "the GP system to act")
            kill_the_worker_serving(server, connection)
    # The client sees its connection dropped, with no answer.
    assert read_response(connection) == b""
    connection.close()


# --- bookings -------------------------------------------------------------------------------


def _free_slot(patient: Patient) -> dict[str, Any]:
    slots: list[dict[str, Any]] = patient.get("/slots")["items"]
    return slots[-1]  # the latest free slot in the usual search window


def _at(patient: Patient, start: str) -> list[dict[str, Any]]:
    return [a for a in patient.get("/appointments")["items"] if a["start"] == start]


def _book_and_kill(
    server: LiveServer, databases: Databases, patient: Patient, *, gp_acted: bool
) -> tuple[dict[str, Any], dict[str, Any], str]:
    slot = _free_slot(patient)
    body = {"slot_id": slot["slot_id"], "reason": "Follow-up"}
    key = f"killed-{uuid.uuid4()}"
    lock = f"book:{patient.session.patient_id}"
    held = databases.lock_holders(lock)
    connection = patient.send_and_leave("/appointments", body, key)
    booked = (lambda: databases.booked_in_slot(slot["slot_id"]) == 1) if gp_acted else None
    kill_mid_request(server, databases, connection, lock, held, after=booked)
    return slot, body, key


def test_a_booking_killed_before_the_gp_system_acted_is_made_by_the_retry(
    server: LiveServer, databases: Databases
) -> None:
    patient = Patient(server, "olivia")
    slot, body, key = _book_and_kill(server, databases, patient, gp_acted=False)

    # Not made, and not shown.
    assert databases.booked_in_slot(slot["slot_id"]) == 0
    assert _at(patient, slot["start"]) == []

    retry = patient.retry_until_answered("/appointments", body, key)
    assert retry.status_code == 201, retry.text
    (shown,) = _at(patient, slot["start"])
    assert shown["appointment_id"] == retry.json()["appointment_id"]
    assert databases.booked_in_slot(slot["slot_id"]) == 1
    # From then on the key replays that answer.
    again = patient.post("/appointments", body, key)
    assert (again.status_code, again.json()) == (201, retry.json())
    assert databases.booked_in_slot(slot["slot_id"]) == 1


def test_a_booking_killed_after_the_gp_system_booked_is_not_booked_again(
    server: LiveServer, databases: Databases
) -> None:
    patient = Patient(server, "hannah")
    slot, body, key = _book_and_kill(server, databases, patient, gp_acted=True)

    # Made, and shown once, though the worker never answered.
    (shown,) = _at(patient, slot["start"])
    assert databases.booked_in_slot(slot["slot_id"]) == 1

    # The retry answers with that appointment, as the first answer would have been.
    retry = patient.retry_until_answered("/appointments", body, key)
    assert retry.status_code == 201, retry.text
    assert retry.json()["appointment_id"] == shown["appointment_id"]
    assert retry.headers["location"] == f"{patient.base}/appointments/{shown['appointment_id']}"
    assert [a["appointment_id"] for a in _at(patient, slot["start"])] == [shown["appointment_id"]]
    assert databases.booked_in_slot(slot["slot_id"]) == 1
    again = patient.post("/appointments", body, key)
    assert (again.status_code, again.json()) == (201, retry.json())


# --- orders ---------------------------------------------------------------------------------


def _course(patient: Patient, name: str) -> dict[str, Any]:
    course: dict[str, Any] = next(
        c for c in patient.get("/prescriptions/courses")["items"] if c["name"].startswith(name)
    )
    assert course["orderable"], course
    return course


def _pending_with(patient: Patient, course_id: str) -> list[dict[str, Any]]:
    return [
        request
        for request in patient.get("/prescriptions/requests", limit=100)["items"]
        if request["status"] == "requested"
        and any(item["course_id"] == course_id for item in request["items"])
    ]


def _order_and_kill(
    server: LiveServer, databases: Databases, patient: Patient, course: str, *, gp_acted: bool
) -> tuple[str, dict[str, Any], str, int]:
    course_id = _course(patient, course)["course_id"]
    body = {"course_ids": [course_id]}
    key = f"killed-{uuid.uuid4()}"
    lock = f"prescriptions:{patient.session.patient_id}"
    held = databases.lock_holders(lock)
    pending = databases.pending_requests(patient.patient_ref)
    connection = patient.send_and_leave("/prescriptions/requests", body, key)
    placed = (
        (lambda: databases.pending_requests(patient.patient_ref) == pending + 1)
        if gp_acted
        else None
    )
    kill_mid_request(server, databases, connection, lock, held, after=placed)
    return course_id, body, key, pending


def test_an_order_killed_before_the_gp_system_acted_is_placed_by_the_retry(
    server: LiveServer, databases: Databases
) -> None:
    patient = Patient(server, "kai")
    course_id, body, key, pending = _order_and_kill(
        server, databases, patient, "Amlodipine", gp_acted=False
    )

    assert databases.pending_requests(patient.patient_ref) == pending
    assert _pending_with(patient, course_id) == []

    retry = patient.retry_until_answered("/prescriptions/requests", body, key)
    assert retry.status_code == 201, retry.text
    (shown,) = _pending_with(patient, course_id)
    assert shown["request_id"] == retry.json()["request_id"]
    assert databases.pending_requests(patient.patient_ref) == pending + 1
    again = patient.post("/prescriptions/requests", body, key)
    assert (again.status_code, again.json()) == (201, retry.json())


def test_an_order_killed_after_the_gp_system_placed_it_is_not_placed_again(
    server: LiveServer, databases: Databases
) -> None:
    patient = Patient(server, "kai")
    course_id, body, key, pending = _order_and_kill(
        server, databases, patient, "Sertraline", gp_acted=True
    )

    (shown,) = _pending_with(patient, course_id)
    assert databases.pending_requests(patient.patient_ref) == pending + 1

    # The GP system's rule answers the retry: the medicine is already requested.
    retry = patient.retry_until_answered("/prescriptions/requests", body, key)
    assert (retry.status_code, retry.json()["code"]) == (409, "request_pending"), retry.text
    assert retry.json()["course_id"] == course_id
    assert [r["request_id"] for r in _pending_with(patient, course_id)] == [shown["request_id"]]
    assert databases.pending_requests(patient.patient_ref) == pending + 1
    again = patient.post("/prescriptions/requests", body, key)
    assert (again.status_code, again.json()) == (409, retry.json())
