"""`run_once` and `create_once` on their own, over the real tables (SQLite and PostgreSQL).

The booking and prescription tests show a retried request from outside; these pin down
each rule of the service directly: what is replayed, what is refused, what frees a
key for another try, and exactly when a claim expires. Concurrent retries are ordered
with events (the first action waits until the retry is waiting), never with sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db import create_sessionmaker
from app.gp.errors import GPSystemUnavailable, SlotUnavailable
from app.idempotency import service
from app.idempotency.models import IdempotencyRecord
from app.idempotency.service import (
    IDEMPOTENCY_TTL,
    IdempotencyKeyReused,
    RequestInProgress,
    StoredResponse,
    as_response,
    create_once,
    fingerprint,
    prune,
    run_once,
)
from app.problems import PROBLEM_MEDIA_TYPE
from app.ratelimit.service import Budget, RateLimited
from tests.conftest import FakeClock

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def sessions(engine: AsyncEngine) -> Sessions:
    return create_sessionmaker(engine)


class Action:
    """Counts its runs; answers `answer`, or raises `error` (or the next of `failures`);
    can be held at a gate."""

    def __init__(self, answer: StoredResponse | None = None) -> None:
        self.answer = answer or StoredResponse(201, {"id": "a-1"}, "/v1/things/a-1")
        self.error: BaseException | None = None
        self.failures: list[BaseException] = []
        self.runs = 0
        self.started = asyncio.Event()
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> StoredResponse:
        self.runs += 1
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        if self.error is not None:
            raise self.error
        return self.answer


async def once(
    sessions: Sessions,
    clock: FakeClock,
    action: Callable[[], Awaitable[StoredResponse]],
    *,
    key: str = "key-1",
    body: object = None,
    account_id: str = "account-1",
    scope: str = "book",
) -> StoredResponse:
    return await run_once(
        sessions,
        account_id=account_id,
        key=key,
        scope=scope,
        body={"slot": "s-1"} if body is None else body,
        clock=clock,
        action=action,
    )


async def records(sessions: Sessions) -> list[IdempotencyRecord]:
    async with sessions() as session:
        return list((await session.scalars(select(IdempotencyRecord))).all())


# --- the fingerprint --------------------------------------------------------------------


def test_the_fingerprint_is_of_the_scope_and_the_body_in_any_key_order() -> None:
    assert fingerprint("book", {"a": 1, "b": 2}) == fingerprint("book", {"b": 2, "a": 1})
    assert fingerprint("book", {"a": 1}) != fingerprint("order", {"a": 1})
    assert fingerprint("book", {"a": 1}) != fingerprint("book", {"a": 2})
    assert fingerprint("book", {"day": date(2030, 1, 2)}) == fingerprint(
        "book", {"day": "2030-01-02"}
    )
    assert len(fingerprint("book", None)) == 64


# --- replay ---------------------------------------------------------------------------------


async def test_the_first_answer_is_stored_and_replayed(
    sessions: Sessions, clock: FakeClock
) -> None:
    action = Action()
    first = await once(sessions, clock, action)
    again = await once(sessions, clock, action)
    assert first == again == StoredResponse(201, {"id": "a-1"}, "/v1/things/a-1")
    assert action.runs == 1
    (record,) = await records(sessions)
    assert (record.account_id, record.key) == ("account-1", "key-1")
    assert record.fingerprint == fingerprint("book", {"slot": "s-1"})
    assert record.created_at == clock.now()
    assert (record.status_code, record.response_body, record.location) == (
        201,
        {"id": "a-1"},
        "/v1/things/a-1",
    )


async def test_a_stored_answer_without_a_body_replays_as_an_empty_one(
    sessions: Sessions, clock: FakeClock
) -> None:
    action = Action(StoredResponse(204, {}))
    await once(sessions, clock, action)
    async with sessions() as session:
        record = await session.scalar(select(IdempotencyRecord))
        assert record is not None
        record.response_body = None
        await session.commit()
    assert await once(sessions, clock, action) == StoredResponse(204, {}, None)


async def test_the_same_key_for_another_request_is_refused(
    sessions: Sessions, clock: FakeClock
) -> None:
    action = Action()
    await once(sessions, clock, action)
    with pytest.raises(IdempotencyKeyReused):
        await once(sessions, clock, action, body={"slot": "s-2"})
    with pytest.raises(IdempotencyKeyReused):
        await once(sessions, clock, action, scope="order")
    assert action.runs == 1


async def test_keys_belong_to_one_account(sessions: Sessions, clock: FakeClock) -> None:
    theirs, mine = Action(StoredResponse(201, {"id": "theirs"})), Action()
    await once(sessions, clock, theirs, account_id="account-2")
    # The same key in another account: its own request, its own answer, replayed to it.
    assert (await once(sessions, clock, mine)).body == {"id": "a-1"}
    assert (await once(sessions, clock, mine)).body == {"id": "a-1"}
    assert (await once(sessions, clock, theirs, account_id="account-2")).body == {"id": "theirs"}
    await once(sessions, clock, mine, key="key-2")
    assert (theirs.runs, mine.runs) == (1, 2)


async def test_each_key_of_an_account_replays_its_own_answer(
    sessions: Sessions, clock: FakeClock
) -> None:
    one, two = (
        Action(StoredResponse(201, {"id": "one"})),
        Action(StoredResponse(201, {"id": "two"})),
    )
    await once(sessions, clock, one, key="key-1")
    await once(sessions, clock, two, key="key-2", body={"slot": "s-2"})
    assert (await once(sessions, clock, one, key="key-1")).body == {"id": "one"}
    assert (await once(sessions, clock, two, key="key-2", body={"slot": "s-2"})).body == {
        "id": "two"
    }
    assert (one.runs, two.runs) == (1, 1)


async def test_freeing_a_key_leaves_the_accounts_other_keys_alone(
    sessions: Sessions, clock: FakeClock
) -> None:
    done = Action(StoredResponse(201, {"id": "done"}))
    await once(sessions, clock, done, key="key-1")
    failing = Action()
    failing.error = GPSystemUnavailable()
    with pytest.raises(GPSystemUnavailable):
        await once(sessions, clock, failing, key="key-2")
    assert (await once(sessions, clock, done, key="key-1")).body == {"id": "done"}
    assert done.runs == 1


async def test_freeing_a_key_leaves_another_accounts_key_alone(
    sessions: Sessions, clock: FakeClock
) -> None:
    theirs = Action(StoredResponse(201, {"id": "theirs"}))
    await once(sessions, clock, theirs, account_id="account-2")
    failing = Action()
    failing.error = GPSystemUnavailable()
    with pytest.raises(GPSystemUnavailable):
        await once(sessions, clock, failing)
    assert (await once(sessions, clock, theirs, account_id="account-2")).body == {"id": "theirs"}
    assert theirs.runs == 1


async def test_a_refusal_is_stored_and_replayed_without_a_second_try(
    sessions: Sessions, clock: FakeClock
) -> None:
    action = Action()
    action.error = SlotUnavailable()
    with pytest.raises(SlotUnavailable):
        await once(sessions, clock, action)
    replay = await once(sessions, clock, action)
    assert replay.status_code == 409
    assert replay.body["code"] == "slot_unavailable"
    assert replay.location is None
    assert action.runs == 1


async def test_a_problem_raised_by_the_action_is_stored_too(
    sessions: Sessions, clock: FakeClock
) -> None:
    action = Action()
    action.error = IdempotencyKeyReused()
    with pytest.raises(IdempotencyKeyReused):
        await once(sessions, clock, action)
    replay = await once(sessions, clock, action)
    assert (replay.status_code, replay.body["code"]) == (422, "idempotency_key_reused")


# --- what frees a key ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        GPSystemUnavailable(),
        RequestInProgress(),
        RateLimited(Budget.RECORD_CORRECTION, 60),
        RuntimeError("bug"),
        asyncio.CancelledError(),
    ],
    ids=["GP system unavailable", "patient busy", "budget spent", "unexpected error", "cancelled"],
)
async def test_a_failure_that_did_nothing_frees_the_key(
    sessions: Sessions, clock: FakeClock, error: BaseException
) -> None:
    action = Action()
    action.error = error
    with pytest.raises(type(error)):
        await once(sessions, clock, action)
    assert await records(sessions) == []
    action.error = None
    assert (await once(sessions, clock, action)).status_code == 201
    assert action.runs == 2


async def test_a_claim_protects_for_exactly_its_ttl(sessions: Sessions, clock: FakeClock) -> None:
    action = Action()
    await once(sessions, clock, action)
    clock.advance(IDEMPOTENCY_TTL)
    await once(sessions, clock, action)
    assert action.runs == 1
    clock.advance(timedelta(microseconds=1))
    # Expired: the key is used afresh, even for another request.
    await once(sessions, clock, action, body={"slot": "s-2"})
    assert action.runs == 2
    (record,) = await records(sessions)
    assert record.fingerprint == fingerprint("book", {"slot": "s-2"})


async def test_an_expired_claim_of_another_account_is_left_alone(
    sessions: Sessions, clock: FakeClock
) -> None:
    action = Action()
    await once(sessions, clock, action, account_id="account-2")
    await once(sessions, clock, action, key="key-2")
    clock.advance(IDEMPOTENCY_TTL + timedelta(seconds=1))
    await once(sessions, clock, action)
    assert sorted((r.account_id, r.key) for r in await records(sessions)) == [
        ("account-1", "key-1"),
        ("account-1", "key-2"),
        ("account-2", "key-1"),
    ]


async def test_prune_deletes_only_what_has_expired(sessions: Sessions, clock: FakeClock) -> None:
    action = Action()
    await once(sessions, clock, action, key="old")
    clock.advance(timedelta(seconds=1))
    await once(sessions, clock, action, key="new")
    async with sessions() as session:
        assert await prune(session, now=clock.now() + IDEMPOTENCY_TTL) == 1
    assert [r.key for r in await records(sessions)] == ["new"]
    async with sessions() as session:
        assert await prune(session, now=clock.now() + IDEMPOTENCY_TTL) == 0
        count = await session.scalar(select(func.count()).select_from(IdempotencyRecord))
    assert count == 1


# --- concurrent retries ----------------------------------------------------------------------


@pytest.fixture
def retry_waiting(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Set once a retry is waiting for the first request (the real wait runs unchanged)."""
    waiting = asyncio.Event()
    real = service._wait_for_result

    async def observed(*args: Any) -> IdempotencyRecord | None:
        waiting.set()
        return await real(*args)

    monkeypatch.setattr(service, "_wait_for_result", observed)
    return waiting


@pytest.fixture
def claims(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The account of every attempt to claim a key (the real claim runs unchanged)."""
    seen: list[str] = []
    real = service._claim

    async def observed(*args: Any) -> tuple[bool, IdempotencyRecord | None]:
        seen.append(args[1])
        return await real(*args)

    monkeypatch.setattr(service, "_claim", observed)
    return seen


async def test_a_retry_during_the_first_request_waits_for_its_answer(
    sessions: Sessions, clock: FakeClock, retry_waiting: asyncio.Event, claims: list[str]
) -> None:
    action = Action()
    action.gate = asyncio.Event()
    first = asyncio.create_task(once(sessions, clock, action))
    await action.started.wait()
    retry = asyncio.create_task(once(sessions, clock, action))
    await retry_waiting.wait()
    action.gate.set()
    assert await retry == await first
    assert action.runs == 1
    # The retry claimed once, then waited: it never spun on the key while the first ran.
    assert claims == ["account-1", "account-1"]


async def test_a_retry_waits_for_its_own_accounts_request(
    sessions: Sessions, clock: FakeClock, retry_waiting: asyncio.Event, claims: list[str]
) -> None:
    # Finished records for the same key in another account, and another key in this one.
    theirs = Action(StoredResponse(201, {"id": "theirs"}))
    await once(sessions, clock, theirs, account_id="account-2")
    await once(sessions, clock, Action(StoredResponse(201, {"id": "other"})), key="key-0")
    action = Action()
    action.gate = asyncio.Event()
    first = asyncio.create_task(once(sessions, clock, action))
    await action.started.wait()
    retry = asyncio.create_task(once(sessions, clock, action))
    await retry_waiting.wait()
    action.gate.set()
    assert (await retry).body == (await first).body == {"id": "a-1"}
    assert claims == ["account-2", "account-1", "account-1", "account-1"]


async def test_a_retry_waits_for_a_released_key_then_runs_itself(
    sessions: Sessions, clock: FakeClock, retry_waiting: asyncio.Event
) -> None:
    action = Action()
    action.gate = asyncio.Event()
    action.failures = [GPSystemUnavailable()]  # out for the first, back for the retry
    first = asyncio.create_task(once(sessions, clock, action))
    await action.started.wait()
    retry = asyncio.create_task(once(sessions, clock, action))
    await retry_waiting.wait()
    action.gate.set()
    with pytest.raises(GPSystemUnavailable):
        await first
    assert (await retry).status_code == 201
    assert action.runs == 2


async def test_another_request_during_the_first_is_refused_at_once(
    sessions: Sessions, clock: FakeClock, retry_waiting: asyncio.Event
) -> None:
    action = Action()
    action.gate = asyncio.Event()
    first = asyncio.create_task(once(sessions, clock, action))
    await action.started.wait()
    with pytest.raises(IdempotencyKeyReused):
        await once(sessions, clock, action, body={"slot": "s-2"})
    assert not retry_waiting.is_set()
    action.gate.set()
    await first


async def test_a_retry_gives_up_waiting_with_request_in_progress(
    sessions: Sessions, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "WAIT_FOR_FIRST", 0.2)
    action = Action()
    action.gate = asyncio.Event()
    first = asyncio.create_task(once(sessions, clock, action))
    await action.started.wait()
    with pytest.raises(RequestInProgress) as refused:
        await once(sessions, clock, action)
    assert refused.value.headers == {"Retry-After": "2"}
    assert refused.value.extra == {"retry_after": 2}
    action.gate.set()
    await first
    assert action.runs == 1


async def test_a_key_released_three_times_over_is_request_in_progress(
    sessions: Sessions, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each claim fails and each look finds the key released: give up, do not spin."""
    attempts = 0

    async def never_claimed(*_args: Any) -> tuple[bool, None]:
        nonlocal attempts
        attempts += 1
        return False, None

    monkeypatch.setattr(service, "_claim", never_claimed)
    action = Action()
    with pytest.raises(RequestInProgress):
        await once(sessions, clock, action)
    assert (attempts, action.runs) == (3, 0)


# --- create_once and the HTTP answer ---------------------------------------------------------


class Thing(BaseModel):
    name: str
    day: date


async def test_create_once_answers_201_with_location_and_replays_it(
    sessions: Sessions, clock: FakeClock
) -> None:
    made: list[Thing] = []

    async def create() -> tuple[BaseModel, str]:
        made.append(Thing(name="t", day=date(2030, 1, 2)))
        return made[-1], "/v1/things/1"

    body = Thing(name="request", day=date(2030, 1, 2))
    for _ in range(2):
        response = await create_once(
            sessions, account_id="a", key="k", scope="s", body=body, clock=clock, create=create
        )
        assert response.status_code == 201
        assert response.headers["location"] == "/v1/things/1"
        assert response.headers["content-type"] == "application/json"
        assert response.body == b'{"name":"t","day":"2030-01-02"}'
    assert len(made) == 1
    (record,) = await records(sessions)
    assert record.fingerprint == fingerprint("s", {"name": "request", "day": "2030-01-02"})


@pytest.mark.parametrize(
    ("status", "media_type"), [(399, "application/json"), (400, PROBLEM_MEDIA_TYPE)]
)
def test_a_stored_problem_is_answered_as_problem_json(status: int, media_type: str) -> None:
    response = as_response(StoredResponse(status, {"code": "x"}))
    assert response.status_code == status
    assert response.headers["content-type"] == media_type
    assert "location" not in response.headers
