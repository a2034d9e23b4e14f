"""One action at a time per patient: the lock itself, and the routes that hold it.

The sandbox GP systems serialise their own writes, so an overlap could go
unnoticed in the answers alone; `OverlapWatch` stands between the service and
the sandbox and records how many calls for one patient were in the GP system
at once. A first call waits briefly for a second to arrive: without the lock
the second would, and the watch would see two.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sandbox import find_sandbox
from app.db import create_sessionmaker
from app.idempotency import locks
from app.idempotency.lease import lease_length, wall_now
from app.idempotency.locks import one_at_a_time
from app.idempotency.service import RequestInProgress
from tests.conftest import FakeClock, SignIn

OVERLAP_WAIT = 0.5  # seconds a first call waits to see whether a second arrives


class OverlapWatch:
    """Counts calls of `method` in progress at once; everything else passes through."""

    def __init__(self, inner: Any, method: str) -> None:
        self._inner = inner
        self._method = method
        self.inside = 0
        self.most = 0
        self._second = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        if name != self._method:
            return getattr(self._inner, name)
        real = getattr(self._inner, name)

        async def watched(*args: Any, **kwargs: Any) -> Any:
            self.inside += 1
            self.most = max(self.most, self.inside)
            try:
                if self.inside == 1:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._second.wait(), OVERLAP_WAIT)
                else:
                    self._second.set()
                return await real(*args, **kwargs)
            finally:
                self.inside -= 1

        return watched


def watch(app: FastAPI, ods_code: str, method: str) -> OverlapWatch:
    sandbox = find_sandbox(app.state.gp_registry.for_practice(ods_code))
    watcher = OverlapWatch(sandbox._inner, method)
    sandbox._inner = watcher
    return watcher


async def test_two_orders_at_once_reach_the_gp_system_one_after_the_other(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full", ods_code="A81001")
    base = f"/v1/patients/{user.patient_id()}"
    courses = (await client.get(f"{base}/prescriptions/courses", headers=user.headers)).json()
    amlodipine = next(c for c in courses["items"] if c["name"].startswith("Amlodipine"))
    watcher = watch(app, "A81001", "request_prescription")

    async def order(key: str) -> httpx.Response:
        return await client.post(
            f"{base}/prescriptions/requests",
            json={"course_ids": [amlodipine["course_id"]]},
            headers={**user.headers, "Idempotency-Key": key},
        )

    answers = await asyncio.gather(order("lock-test-0001"), order("lock-test-0002"))

    assert watcher.most == 1
    assert sorted(a.status_code for a in answers) == [201, 409]
    assert next(a for a in answers if a.status_code == 409).json()["code"] == "request_pending"


async def test_two_bookings_at_once_cannot_both_pass_the_limit(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    # The EMIS-like practice allows two future appointments; Olivia has one booked.
    user = await sign_in("adult-full", ods_code="A81001")
    base = f"/v1/patients/{user.patient_id()}"
    start = (clock.now() + timedelta(days=2)).isoformat()
    slots = (
        await client.get(f"{base}/slots", params={"from": start}, headers=user.headers)
    ).json()["items"]
    watcher = watch(app, "A81001", "book_appointment")

    async def book(slot: dict[str, Any], key: str) -> httpx.Response:
        return await client.post(
            f"{base}/appointments",
            json={"slot_id": slot["slot_id"], "reason": "Follow-up"},
            headers={**user.headers, "Idempotency-Key": key},
        )

    answers = await asyncio.gather(
        book(slots[0], "lock-test-0003"), book(slots[1], "lock-test-0004")
    )

    assert watcher.most == 1
    assert sorted(a.status_code for a in answers) == [201, 409]
    assert next(a for a in answers if a.status_code == 409).json()["code"] == (
        "booking_limit_reached"
    )


# --- the lock on its own -------------------------------------------------------------------


async def test_a_second_holder_waits_for_the_first(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    order: list[str] = []
    first_in = asyncio.Event()
    first_may_leave = asyncio.Event()

    async def first() -> None:
        async with one_at_a_time(sessions, "book:p1"):
            order.append("first in")
            first_in.set()
            await first_may_leave.wait()
            order.append("first out")

    async def second() -> None:
        await first_in.wait()
        async with one_at_a_time(sessions, "book:p1"):
            order.append("second in")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await first_in.wait()
    # Another patient's lock is another lock: taken at once while p1's is held.
    async with one_at_a_time(sessions, "book:p2"):
        order.append("other patient")
    first_may_leave.set()
    await asyncio.gather(*tasks)

    assert order == ["first in", "other patient", "first out", "second in"]


async def test_a_lock_left_by_a_request_that_died_expires(
    engine: AsyncEngine, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = create_sessionmaker(engine)
    monkeypatch.setattr(locks, "WAIT", 0.2)
    assert await locks._try_take(sessions, "book:p1", "died-holding-it")

    # The service's clock moving on does not end the lock's lease: real time does.
    clock.advance(timedelta(days=1))
    with pytest.raises(RequestInProgress):
        async with one_at_a_time(sessions, "book:p1"):
            pass

    later = wall_now() + lease_length() + timedelta(seconds=1)
    monkeypatch.setattr(locks, "wall_now", lambda: later)
    async with one_at_a_time(sessions, "book:p1"):
        pass


async def test_the_lock_is_released_when_the_action_fails(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = create_sessionmaker(engine)
    monkeypatch.setattr(locks, "WAIT", 0.2)
    with pytest.raises(ValueError, match="refused"):
        async with one_at_a_time(sessions, "book:p1"):
            raise ValueError("refused")
    async with one_at_a_time(sessions, "book:p1"):
        pass
