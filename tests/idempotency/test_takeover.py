"""Claims and locks left by a request that died: leases, take-overs and `recover`.

A dead request is played by claiming a key (or taking a lock) and never finishing.
Real time is moved on by replacing `wall_now` where the leases read it: the service's
own clock is not what a lease counts (see `app.idempotency.lease`), and the tests show
that moving it changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db import create_sessionmaker
from app.gp.errors import GPSystemUnavailable
from app.idempotency import lease, locks, service
from app.idempotency.models import ActionLock, IdempotencyRecord
from app.idempotency.service import (
    RequestInProgress,
    StoredResponse,
    fingerprint,
    run_once,
)
from tests.conftest import FakeClock

Sessions = async_sessionmaker[AsyncSession]
BODY = {"slot": "s-1"}
MADE = StoredResponse(201, {"id": "a-1"}, "/v1/things/a-1")
FOUND = StoredResponse(201, {"id": "made-before-it-died"}, "/v1/things/made-before-it-died")


@pytest.fixture
def sessions(engine: AsyncEngine) -> Sessions:
    return create_sessionmaker(engine)


@pytest.fixture(autouse=True)
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "WAIT_FOR_FIRST", 0.3)
    monkeypatch.setattr(locks, "WAIT", 0.3)


class RealTime:
    """Stands in for the real clock the leases read; `pass_lease()` moves it past one."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = lease.wall_now()
        monkeypatch.setattr(service, "wall_now", lambda: self.now)
        monkeypatch.setattr(locks, "wall_now", lambda: self.now)

    def pass_lease(self) -> None:
        self.now += lease.lease_length() + timedelta(seconds=1)


@pytest.fixture
def real_time(monkeypatch: pytest.MonkeyPatch) -> RealTime:
    return RealTime(monkeypatch)


class Counted:
    """An async step that counts its runs and answers `answer` (or raises `error`)."""

    def __init__(self, answer: StoredResponse | None, error: BaseException | None = None):
        self.answer, self.error, self.runs = answer, error, 0
        self.started = asyncio.Event()
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> StoredResponse | None:
        self.runs += 1
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return self.answer


def once(
    sessions: Sessions,
    clock: FakeClock,
    action: Callable[[], Awaitable[StoredResponse | None]],
    recover: Callable[[], Awaitable[StoredResponse | None]] | None = None,
) -> Awaitable[StoredResponse]:
    return run_once(
        sessions,
        account_id="account-1",
        key="key-1",
        scope="book",
        body=BODY,
        clock=clock,
        action=action,  # type: ignore[arg-type]
        recover=recover,
    )


async def die_holding_the_key(sessions: Sessions, clock: FakeClock) -> None:
    """A request claims the key, then its worker is killed: nothing more happens."""
    claimed, _ = await service._claim(
        sessions, "account-1", "key-1", fingerprint("book", BODY), "dead-worker", clock
    )
    assert claimed


async def stored(sessions: Sessions) -> list[tuple[int | None, object]]:
    async with sessions() as session:
        records = (await session.scalars(select(IdempotencyRecord))).all()
        return [(r.status_code, r.response_body) for r in records]


async def leases(sessions: Sessions) -> list[str]:
    async with sessions() as session:
        return list((await session.scalars(select(ActionLock.holder))).all())


# --- the claim's lease ---------------------------------------------------------------------


async def test_a_claim_left_by_a_dead_request_is_taken_over_once_its_lease_runs_out(
    sessions: Sessions, clock: FakeClock, real_time: RealTime
) -> None:
    await die_holding_the_key(sessions, clock)
    action = Counted(MADE)

    # Within the lease the holder may still be alive: the retry is told to come back.
    with pytest.raises(RequestInProgress):
        await once(sessions, clock, action)
    # The service's clock moving on does not end a lease; only real time does.
    clock.advance(timedelta(days=1) - timedelta(seconds=1))
    with pytest.raises(RequestInProgress):
        await once(sessions, clock, action)
    assert action.runs == 0

    real_time.pass_lease()
    assert await once(sessions, clock, action) == MADE
    assert action.runs == 1
    assert await stored(sessions) == [(201, {"id": "a-1"})]
    assert await leases(sessions) == []  # the finished claim holds no lease
    assert await once(sessions, clock, action) == MADE
    assert action.runs == 1


async def test_a_live_claim_is_not_taken_over(
    sessions: Sessions, clock: FakeClock, real_time: RealTime
) -> None:
    first = Counted(MADE)
    first.gate = asyncio.Event()
    running = asyncio.create_task(once(sessions, clock, first))
    await first.started.wait()
    retry = Counted(StoredResponse(201, {"id": "second"}))
    with pytest.raises(RequestInProgress):
        await once(sessions, clock, retry)
    first.gate.set()
    assert await running == MADE
    assert await once(sessions, clock, retry) == MADE
    assert retry.runs == 0


async def test_two_retries_take_over_a_dead_claim_and_only_one_runs(
    sessions: Sessions, clock: FakeClock, real_time: RealTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "WAIT_FOR_FIRST", 5.0)  # the loser waits for the winner
    waits = 0
    both_looked = asyncio.Event()
    real_wait = service._wait_for_result

    async def counted_wait(*args: Any) -> IdempotencyRecord | None:
        nonlocal waits
        waits += 1
        if waits == 2:  # both have found the claim taken: one runs, the other looks on
            both_looked.set()
        return await real_wait(*args)

    monkeypatch.setattr(service, "_wait_for_result", counted_wait)
    await die_holding_the_key(sessions, clock)
    real_time.pass_lease()
    action = Counted(MADE)
    action.gate = asyncio.Event()
    retries = [asyncio.create_task(once(sessions, clock, action)) for _ in range(2)]
    await action.started.wait()
    await both_looked.wait()
    action.gate.set()
    assert await asyncio.gather(*retries) == [MADE, MADE]
    assert action.runs == 1


async def test_a_claim_that_finished_is_never_taken_over(
    sessions: Sessions, clock: FakeClock, real_time: RealTime
) -> None:
    await die_holding_the_key(sessions, clock)
    await service._store(sessions, "account-1", "key-1", "dead-worker", MADE)
    real_time.pass_lease()
    assert not await service._take_over(sessions, "account-1", "key-1", "retry")
    assert await leases(sessions) == []


# --- recover ----------------------------------------------------------------------------------


async def test_a_take_over_answers_with_what_the_dead_request_made(
    sessions: Sessions, clock: FakeClock, real_time: RealTime
) -> None:
    await die_holding_the_key(sessions, clock)
    real_time.pass_lease()
    action, recover = Counted(MADE), Counted(FOUND)

    assert await once(sessions, clock, action, recover) == FOUND
    assert (action.runs, recover.runs) == (0, 1)
    assert await once(sessions, clock, action, recover) == FOUND  # stored, and replayed
    assert (action.runs, recover.runs) == (0, 1)


async def test_a_take_over_that_finds_nothing_runs_the_action(
    sessions: Sessions, clock: FakeClock, real_time: RealTime
) -> None:
    await die_holding_the_key(sessions, clock)
    real_time.pass_lease()
    action, recover = Counted(MADE), Counted(None)
    assert await once(sessions, clock, action, recover) == MADE
    assert (action.runs, recover.runs) == (1, 1)


async def test_recover_runs_only_on_a_take_over(sessions: Sessions, clock: FakeClock) -> None:
    action, recover = Counted(MADE), Counted(FOUND)
    assert await once(sessions, clock, action, recover) == MADE
    assert (action.runs, recover.runs) == (1, 0)


async def test_when_recover_fails_the_next_retry_looks_again(
    sessions: Sessions, clock: FakeClock, real_time: RealTime
) -> None:
    await die_holding_the_key(sessions, clock)
    real_time.pass_lease()
    action = Counted(MADE)
    down = Counted(None, GPSystemUnavailable())
    with pytest.raises(GPSystemUnavailable):
        await once(sessions, clock, action, down)
    # Still unknown whether the dead request acted: the claim stays unfinished, with no
    # lease, so the next retry takes over at once (no lease to wait out) and looks again.
    assert await stored(sessions) == [(None, None)]
    assert await leases(sessions) == []
    recover = Counted(FOUND)
    assert await once(sessions, clock, action, recover) == FOUND
    assert action.runs == 0


async def test_prune_deletes_leases_that_ran_out(
    sessions: Sessions, clock: FakeClock, real_time: RealTime
) -> None:
    await die_holding_the_key(sessions, clock)
    assert await locks._try_take(sessions, "book:p1", "dead-worker")
    async with sessions() as session:
        await service.prune(session, now=clock.now())
    assert await leases(sessions) == ["dead-worker", "dead-worker"]  # may still be alive
    real_time.pass_lease()
    assert await locks._try_take(sessions, "book:p2", "live-worker")
    async with sessions() as session:
        await service.prune(session, now=clock.now())
    assert await leases(sessions) == ["live-worker"]


# --- the setting ---------------------------------------------------------------------------


def test_the_lease_is_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDEMPOTENCY_LEASE_SECONDS", "2.5")
    lease.lease_length.cache_clear()
    try:
        assert lease.lease_length() == timedelta(seconds=2.5)
    finally:
        lease.lease_length.cache_clear()
    assert isinstance(lease.wall_now(), datetime)
