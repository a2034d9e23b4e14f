"""Run a request at most once per (account, Idempotency-Key).

The key is claimed in its own committed transaction before the action runs, so
concurrent retries see the claim: they wait for the first to finish and return
its stored response. The same key with a different request is refused. When
the action fails in a way that left nothing done (the GP system was
unavailable), the claim is released so that a retry can try again.

A claim is held under a lease (`app.idempotency.lease`, an `ActionLock` named for
the key). A request whose worker died mid-way leaves its claim unfinished and its
lease running out; a retry then takes the claim over instead of waiting for ever.
The dead request may have acted before it died (the GP system booked, and the
worker was killed before it wrote the answer down), so the action can give a
`recover` step that first looks for what it made.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Delete, Select, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import Clock
from app.gp.errors import GPError, GPSystemUnavailable
from app.idempotency.lease import lease_length, wall_now
from app.idempotency.models import ActionLock, IdempotencyRecord
from app.problems import PROBLEM_MEDIA_TYPE, Problem, problem_parts
from app.ratelimit.service import RateLimited

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


def _lease_name(account_id: str, key: str) -> str:
    """The name of the lock that is the lease of the claim on (account, key)."""
    pair = f"{account_id}\n{key}".encode()
    return f"claim:{hashlib.sha256(pair).hexdigest()}"


def _lease(name: str, holder: str) -> ActionLock:
    return ActionLock(name=name, holder=holder, expires_at=wall_now() + lease_length())


def _lapsed_lease(name: str) -> Delete:
    """Deletes the lease `name` if it has run out: its holder died."""
    return delete(ActionLock).where(ActionLock.name == name, ActionLock.expires_at < wall_now())


def _our_lease(name: str, holder: str) -> Delete:
    return delete(ActionLock).where(ActionLock.name == name, ActionLock.holder == holder)


def _record(account_id: str, key: str) -> Select[IdempotencyRecord]:
    return select(IdempotencyRecord).where(
        IdempotencyRecord.account_id == account_id, IdempotencyRecord.key == key
    )


async def _claim(
    sessions: async_sessionmaker[AsyncSession],
    account_id: str,
    key: str,
    print_: str,
    holder: str,
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
        name = _lease_name(account_id, key)
        await session.execute(_lapsed_lease(name))
        session.add(
            IdempotencyRecord(
                account_id=account_id, key=key, fingerprint=print_, created_at=clock.now()
            )
        )
        session.add(_lease(name, holder))
        try:
            await session.commit()
            return True, None
        except IntegrityError:
            await session.rollback()
        existing = await session.scalar(_record(account_id, key))
        return False, existing


async def _wait_for_result(
    sessions: async_sessionmaker[AsyncSession], account_id: str, key: str
) -> IdempotencyRecord | None:
    """The first request's record once it has finished, or once it is abandoned (still
    unfinished, its lease run out: its request died); None if it released the key.

    Raises `RequestInProgress` when it is still running after `WAIT_FOR_FIRST`.
    """
    lease = select(ActionLock.expires_at).where(ActionLock.name == _lease_name(account_id, key))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_FOR_FIRST
    while loop.time() < deadline:
        async with sessions() as session:
            record = await session.scalar(_record(account_id, key))
            if record is None or record.status_code is not None:
                return record
            expires_at = await session.scalar(lease)
        if expires_at is None or expires_at < wall_now():
            return record
        await asyncio.sleep(POLL_INTERVAL)
    raise RequestInProgress()


async def _take_over(
    sessions: async_sessionmaker[AsyncSession], account_id: str, key: str, holder: str
) -> bool:
    """Take over an abandoned claim; False if its holder is alive after all, another retry
    took it over first, or it finished or was released meanwhile.

    One transaction ends the run-out lease, takes a new one and checks that the claim
    is still unfinished, so a request that finished is never run again.
    """
    name = _lease_name(account_id, key)
    async with sessions() as session:
        await session.execute(_lapsed_lease(name))
        session.add(_lease(name, holder))
        try:
            await session.flush()
        except IntegrityError:
            await session.rollback()
            return False
        record = await session.scalar(_record(account_id, key))
        if record is None or record.status_code is not None:
            await session.rollback()
            return False
        await session.commit()
        return True


async def _release(
    sessions: async_sessionmaker[AsyncSession], account_id: str, key: str, holder: str
) -> None:
    async with sessions() as session:
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.account_id == account_id, IdempotencyRecord.key == key
            )
        )
        await session.execute(_our_lease(_lease_name(account_id, key), holder))
        await session.commit()


async def _let_go(
    sessions: async_sessionmaker[AsyncSession], account_id: str, key: str, holder: str
) -> None:
    """End our lease but leave the claim unfinished: the next retry takes it over at once."""
    async with sessions() as session:
        await session.execute(_our_lease(_lease_name(account_id, key), holder))
        await session.commit()


async def _store(
    sessions: async_sessionmaker[AsyncSession],
    account_id: str,
    key: str,
    holder: str,
    response: StoredResponse,
) -> None:
    async with sessions() as session:
        record = await session.scalar(_record(account_id, key))
        if record is not None:
            record.status_code = response.status_code
            record.response_body = response.body
            record.location = response.location
        await session.execute(_our_lease(_lease_name(account_id, key), holder))
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
    recover: Callable[[], Awaitable[StoredResponse | None]] | None = None,
) -> StoredResponse:
    """Run `action` once for this key; replay its stored response to every retry.

    A refusal (slot taken, limit reached…) is stored and replayed too, so a
    retry cannot turn a "no" into a second attempt. A GP system outage, a spent
    rate limit (429) or an unexpected error releases the key: nothing was done, so
    a retry may try.

    A retry that takes over the claim of a request that died runs `recover` first,
    where given: what it finds the dead request made is the answer.
    """
    print_ = fingerprint(scope, body)
    holder = secrets.token_hex(16)
    for _ in range(3):
        claimed, existing = await _claim(sessions, account_id, key, print_, holder, clock)
        if claimed:
            break
        if existing is not None and existing.status_code is None:
            if existing.fingerprint != print_:
                raise IdempotencyKeyReused()
            existing = await _wait_for_result(sessions, account_id, key)
            if existing is not None and existing.status_code is None:
                # Abandoned by a request that died: take it over, or wait for whoever did.
                if await _take_over(sessions, account_id, key, holder):
                    found = await _recovered(sessions, account_id, key, holder, recover)
                    if found is not None:
                        return found
                    break
                continue
        if existing is None:
            continue  # the first attempt released its claim (nothing was done): claim it
        if existing.fingerprint != print_:
            raise IdempotencyKeyReused()
        return _stored(existing)
    else:
        raise RequestInProgress()

    try:
        response = await action()
    except (GPSystemUnavailable, RequestInProgress, RateLimited):
        # Nothing was done (the GP system was out, another action for the patient held
        # its lock, or the action's budget was spent): a retry with the same key may try.
        await _release(sessions, account_id, key, holder)
        raise
    except (Problem, GPError) as refusal:
        parts = problem_parts(refusal)
        refused = StoredResponse(parts.status, parts.body())
        await _store(sessions, account_id, key, holder, refused)
        raise
    except BaseException:
        await _release(sessions, account_id, key, holder)
        raise
    await _store(sessions, account_id, key, holder, response)
    return response


async def _recovered(
    sessions: async_sessionmaker[AsyncSession],
    account_id: str,
    key: str,
    holder: str,
    recover: Callable[[], Awaitable[StoredResponse | None]] | None,
) -> StoredResponse | None:
    """What the dead request made, stored as this key's answer; None if nothing was found."""
    if recover is None:
        return None
    try:
        found = await recover()
    except BaseException:
        # Whether the dead request acted is still unknown: leave the claim unfinished,
        # so that the next retry takes it over at once and looks again.
        await _let_go(sessions, account_id, key, holder)
        raise
    if found is not None:
        await _store(sessions, account_id, key, holder, found)
    return found


async def create_once(
    sessions: async_sessionmaker[AsyncSession],
    *,
    account_id: str,
    key: str,
    scope: str,
    body: BaseModel,
    clock: Clock,
    create: Callable[[], Awaitable[tuple[BaseModel, str]]],
    find_created: Callable[[], Awaitable[tuple[BaseModel, str] | None]] | None = None,
) -> JSONResponse:
    """A `201 Created` made at most once per key: `create` returns the new resource and
    its `Location`; the first answer (or refusal) is what every retry gets.

    `find_created` looks for what a request that died mid-way may have made (the same
    resource and `Location`, or None); a retry that takes over its claim answers with it.
    """

    async def action() -> StoredResponse:
        return _created(*await create())

    stored = await run_once(
        sessions,
        account_id=account_id,
        key=key,
        scope=scope,
        body=body.model_dump(mode="json"),
        clock=clock,
        action=action,
        recover=_as_recover(find_created),
    )
    return as_response(stored)


def _created(resource: BaseModel, location: str) -> StoredResponse:
    return StoredResponse(201, resource.model_dump(mode="json"), location)


def _as_recover(
    find_created: Callable[[], Awaitable[tuple[BaseModel, str] | None]] | None,
) -> Callable[[], Awaitable[StoredResponse | None]] | None:
    if find_created is None:
        return None

    async def recover() -> StoredResponse | None:
        found = await find_created()
        return None if found is None else _created(*found)

    return recover


def as_response(stored: StoredResponse) -> JSONResponse:
    """The stored outcome as an HTTP response: the first one, or its replay."""
    headers = {"Location": stored.location} if stored.location else {}
    media_type = PROBLEM_MEDIA_TYPE if stored.is_problem else "application/json"
    return JSONResponse(
        stored.body, status_code=stored.status_code, headers=headers, media_type=media_type
    )


async def prune(session: AsyncSession, *, now: datetime) -> int:
    """Delete records older than `IDEMPOTENCY_TTL`: they protect nothing any more. So do
    leases and locks that ran out, left by requests that died and never taken over."""
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - IDEMPOTENCY_TTL)
    )
    await session.execute(delete(ActionLock).where(ActionLock.expires_at < wall_now()))
    await session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
