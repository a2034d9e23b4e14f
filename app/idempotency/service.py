"""Run a request at most once per (account, Idempotency-Key).

The key is claimed in its own committed transaction before the action runs, so
concurrent retries see the claim: they wait for the first to finish and return
its stored response. The same key with a different request is refused. When
the action fails in a way that left nothing done (the GP system was
unavailable), the claim is released so that a retry can try again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import Clock
from app.gp.errors import GPError, GPSystemUnavailable
from app.idempotency.models import IdempotencyRecord
from app.problems import PROBLEM_MEDIA_TYPE, Problem, problem_parts

IDEMPOTENCY_TTL = timedelta(hours=24)
WAIT_FOR_FIRST = 15.0  # seconds a concurrent retry waits for the first request to finish
POLL_INTERVAL = 0.05


class IdempotencyKeyReused(Problem):
    status = 422
    code = "idempotency_key_reused"
    title = "Idempotency key reused"
    default_detail = (
        "This Idempotency-Key was already used for a different request. "
        "Use a new key for a new request."
    )


class RequestInProgress(Problem):
    status = 409
    code = "request_in_progress"
    title = "Request in progress"
    default_detail = "The same request is still being processed. Please try again in a moment."

    example_extra: ClassVar[Mapping[str, object]] = {"retry_after": 2}

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "2"}, extra={"retry_after": 2})


# `responses=` entry for a 201 whose `Location` names what was made (`StoredResponse`).
CREATED_WITH_LOCATION: dict[int | str, dict[str, Any]] = {
    201: {
        "description": "Created; `Location` is its address. A replay returns the same answer.",
        "headers": {
            "Location": {
                "description": "The path of what was created.",
                "schema": {"type": "string"},
            }
        },
    }
}

# What a route taking an `Idempotency-Key` may answer because of it.
IDEMPOTENCY_PROBLEMS = (IdempotencyKeyReused, RequestInProgress)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """What the first request answered; replayed as it was to every retry."""

    status_code: int
    body: dict[str, Any]
    location: str | None = None

    @property
    def is_problem(self) -> bool:
        return self.status_code >= 400


def fingerprint(scope: str, body: object) -> str:
    canonical = json.dumps([scope, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _claim(
    sessions: async_sessionmaker[AsyncSession],
    account_id: str,
    key: str,
    print_: str,
    clock: Clock,
) -> tuple[bool, IdempotencyRecord | None]:
    """Try to claim the key: `(True, None)` when claimed, else `(False, the existing record)`.

    `(False, None)` means another request held the key but released it before
    we could read it: the caller tries again.
    """
    async with sessions() as session:
        # An expired claim no longer protects anything: let the key be used afresh.
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.account_id == account_id,
                IdempotencyRecord.key == key,
                IdempotencyRecord.created_at < clock.now() - IDEMPOTENCY_TTL,
            )
        )
        session.add(
            IdempotencyRecord(
                account_id=account_id, key=key, fingerprint=print_, created_at=clock.now()
            )
        )
        try:
            await session.commit()
            return True, None
        except IntegrityError:
            await session.rollback()
        existing = await session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.account_id == account_id, IdempotencyRecord.key == key
            )
        )
        return False, existing


async def _wait_for_result(
    sessions: async_sessionmaker[AsyncSession], account_id: str, key: str
) -> IdempotencyRecord | None:
    """The first request's finished record, or None if it released the key.

    Raises `RequestInProgress` when it is still running after `WAIT_FOR_FIRST`.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_FOR_FIRST
    while loop.time() < deadline:
        async with sessions() as session:
            record = await session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.account_id == account_id, IdempotencyRecord.key == key
                )
            )
        if record is None or record.status_code is not None:
            return record
        await asyncio.sleep(POLL_INTERVAL)
    raise RequestInProgress()


async def _release(sessions: async_sessionmaker[AsyncSession], account_id: str, key: str) -> None:
    async with sessions() as session:
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.account_id == account_id, IdempotencyRecord.key == key
            )
        )
        await session.commit()


async def _store(
    sessions: async_sessionmaker[AsyncSession],
    account_id: str,
    key: str,
    response: StoredResponse,
) -> None:
    async with sessions() as session:
        record = await session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.account_id == account_id, IdempotencyRecord.key == key
            )
        )
        if record is not None:
            record.status_code = response.status_code
            record.response_body = response.body
            record.location = response.location
            await session.commit()


def _stored(record: IdempotencyRecord) -> StoredResponse:
    assert record.status_code is not None  # noqa: S101 - checked by the caller
    return StoredResponse(record.status_code, record.response_body or {}, record.location)


async def run_once(
    sessions: async_sessionmaker[AsyncSession],
    *,
    account_id: str,
    key: str,
    scope: str,
    body: object,
    clock: Clock,
    action: Callable[[], Awaitable[StoredResponse]],
) -> StoredResponse:
    """Run `action` once for this key; replay its stored response to every retry.

    A refusal (slot taken, limit reached…) is stored and replayed too, so a
    retry cannot turn a "no" into a second attempt. A GP system outage or an
    unexpected error releases the key: nothing was done, so a retry may try.
    """
    print_ = fingerprint(scope, body)
    for _ in range(3):
        claimed, existing = await _claim(sessions, account_id, key, print_, clock)
        if claimed:
            break
        if existing is not None and existing.status_code is None:
            if existing.fingerprint != print_:
                raise IdempotencyKeyReused()
            existing = await _wait_for_result(sessions, account_id, key)
        if existing is None:
            continue  # the first attempt released its claim (nothing was done): claim it
        if existing.fingerprint != print_:
            raise IdempotencyKeyReused()
        return _stored(existing)
    else:
        raise RequestInProgress()

    try:
        response = await action()
    except (GPSystemUnavailable, RequestInProgress):
        # Nothing was done (the GP system was out, or another action for the patient
        # held its lock): a retry with the same key may try again.
        await _release(sessions, account_id, key)
        raise
    except (Problem, GPError) as refusal:
        parts = problem_parts(refusal)
        await _store(sessions, account_id, key, StoredResponse(parts.status, parts.body()))
        raise
    except BaseException:
        await _release(sessions, account_id, key)
        raise
    await _store(sessions, account_id, key, response)
    return response


async def create_once(
    sessions: async_sessionmaker[AsyncSession],
    *,
    account_id: str,
    key: str,
    scope: str,
    body: BaseModel,
    clock: Clock,
    create: Callable[[], Awaitable[tuple[BaseModel, str]]],
) -> JSONResponse:
    """A `201 Created` made at most once per key: `create` returns the new resource and
    its `Location`; the first answer (or refusal) is what every retry gets."""

    async def action() -> StoredResponse:
        created, location = await create()
        return StoredResponse(201, created.model_dump(mode="json"), location)

    stored = await run_once(
        sessions,
        account_id=account_id,
        key=key,
        scope=scope,
        body=body.model_dump(mode="json"),
        clock=clock,
        action=action,
    )
    return as_response(stored)


def as_response(stored: StoredResponse) -> JSONResponse:
    """The stored outcome as an HTTP response: the first one, or its replay."""
    headers = {"Location": stored.location} if stored.location else {}
    media_type = PROBLEM_MEDIA_TYPE if stored.is_problem else "application/json"
    return JSONResponse(
        stored.body, status_code=stored.status_code, headers=headers, media_type=media_type
    )


async def prune(session: AsyncSession, *, now: datetime) -> int:
    """Delete records older than `IDEMPOTENCY_TTL`: they protect nothing any more."""
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - IDEMPOTENCY_TTL)
    )
    await session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
