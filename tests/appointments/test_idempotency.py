"""The idempotency service under the booking route: claims, waits and take-overs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import create_sessionmaker
from app.gp.errors import GPSystemUnavailable
from app.idempotency import service
from app.idempotency.service import IdempotencyKeyReused, StoredResponse, run_once
from tests.conftest import FakeClock

KEY = "retry-key-0001"


def spy_on_waiting(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """An event set once a retry has found the key claimed and begun to wait."""
    waiting = asyncio.Event()
    real = service._wait_for_result

    async def spy(*args: Any, **kwargs: Any) -> Any:
        waiting.set()
        return await real(*args, **kwargs)

    monkeypatch.setattr(service, "_wait_for_result", spy)
    return waiting


async def test_a_waiting_retry_takes_over_when_the_first_attempt_did_nothing(
    engine: AsyncEngine, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = create_sessionmaker(engine)
    first_running, first_may_fail = asyncio.Event(), asyncio.Event()
    calls: list[str] = []

    async def unavailable() -> StoredResponse:
        calls.append("first")
        first_running.set()
        await first_may_fail.wait()
        raise GPSystemUnavailable()

    async def books() -> StoredResponse:
        calls.append("second")
        return StoredResponse(201, {"appointment_id": "A1"}, "/v1/x")

    def attempt(action: object) -> asyncio.Task[StoredResponse]:
        return asyncio.create_task(
            run_once(
                sessions,
                account_id="account-1",
                key=KEY,
                scope="book:p1",
                body={"slot_id": "S1"},
                clock=clock,
                action=action,  # type: ignore[arg-type]
            )
        )

    waiting = spy_on_waiting(monkeypatch)
    first = attempt(unavailable)
    await first_running.wait()
    second = attempt(books)  # finds the claim taken and waits for the outcome
    await waiting.wait()
    first_may_fail.set()
    with pytest.raises(GPSystemUnavailable):
        await first
    # Nothing was done, so the waiting retry runs the booking itself.
    assert await second == StoredResponse(201, {"appointment_id": "A1"}, "/v1/x")
    assert calls == ["first", "second"]
    # And from then on the key replays that result.
    replay = await attempt(books)
    assert replay == StoredResponse(201, {"appointment_id": "A1"}, "/v1/x")
    assert calls == ["first", "second"]


async def test_a_different_request_with_a_finished_key_is_refused(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    sessions = create_sessionmaker(engine)

    async def books() -> StoredResponse:
        return StoredResponse(201, {"appointment_id": "A1"})

    common = {"account_id": "account-1", "key": KEY, "scope": "book:p1", "clock": clock}
    await run_once(sessions, body={"slot_id": "S1"}, action=books, **common)  # type: ignore[arg-type]
    with pytest.raises(IdempotencyKeyReused):
        await run_once(sessions, body={"slot_id": "S2"}, action=books, **common)  # type: ignore[arg-type]


async def test_a_concurrent_retry_with_another_body_is_refused_not_replayed(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    sessions = create_sessionmaker(engine)
    first_running, first_may_finish = asyncio.Event(), asyncio.Event()

    async def books() -> StoredResponse:
        first_running.set()
        await first_may_finish.wait()
        return StoredResponse(201, {"appointment_id": "A1"})

    common = {"account_id": "account-1", "key": KEY, "scope": "book:p1", "clock": clock}
    first = asyncio.create_task(
        run_once(sessions, body={"slot_id": "S1"}, action=books, **common)  # type: ignore[arg-type]
    )
    await first_running.wait()
    # While the first is still running: another body under the same key is a mistake.
    with pytest.raises(IdempotencyKeyReused):
        await run_once(sessions, body={"slot_id": "S2"}, action=books, **common)  # type: ignore[arg-type]
    first_may_finish.set()
    assert (await first).body == {"appointment_id": "A1"}
