"""One GP call per patient action: the acting-for context is reused while it is fresh.

GP calls are counted by the resilience layer (`registry.calls`) and asserted per
request through the HTTP API, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import delete, func, select, update

from app.adapters.sandbox import tables as sandbox
from app.adapters.sandbox.personas import find_persona
from app.auth.models import AuthSession, SessionContext
from app.clock import today
from app.config import Settings
from app.db import create_engine
from app.devtools.sessions import persona_patient_id, sign_in_persona
from app.gp.calls import GP_CALLS_HEADER
from app.main import create_app
from app.patients import context
from tests.conftest import FakeClock, SignedInUser, SignIn

Request = Callable[[], Awaitable[httpx.Response]]


async def gp_calls(app: FastAPI, request: Request, *, status: int = 200) -> int:
    """GP system calls made while serving one request."""
    before = app.state.gp_registry.calls.total
    response = await request()
    assert response.status_code == status, response.text
    return int(app.state.gp_registry.calls.total - before)


def get(client: httpx.AsyncClient, user: SignedInUser, path: str) -> Request:
    return lambda: client.get(path, headers=user.headers)


async def test_a_warm_context_costs_no_gp_call_and_an_action_exactly_one(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("proxy-parent")
    base = f"/v1/patients/{user.patient_id()}"
    # Cold: relationships, practice settings, and the record access settings of the user
    # and of the child they act for (whose settings bind them).
    assert await gp_calls(app, get(client, user, "/v1/me/patients")) == 4
    assert await gp_calls(app, get(client, user, "/v1/me/patients")) == 0
    assert await gp_calls(app, get(client, user, f"{base}/practice")) == 0
    assert (
        await gp_calls(
            app, get(client, user, f"/v1/patients/{user.acts_for('child-under-11')}/practice")
        )
        == 0
    )
    assert await gp_calls(app, get(client, user, "/v1/me")) == 0
    assert await gp_calls(app, get(client, user, f"{base}/slots?limit=20")) == 1
    assert await gp_calls(app, get(client, user, f"{base}/appointments")) == 1


async def test_me_on_a_cold_context_warms_it_for_what_follows(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("proxy-parent")
    me = await client.get("/v1/me", headers=user.headers)
    assert me.json()["given_name"] == user.persona.given_name
    assert await gp_calls(app, get(client, user, f"/v1/patients/{user.patient_id()}/practice")) == 0


async def test_the_context_is_asked_again_once_its_lifetime_is_over(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock, settings: Settings
) -> None:
    user = await sign_in("proxy-parent")
    practice = f"/v1/patients/{user.patient_id()}/practice"
    assert await gp_calls(app, get(client, user, practice)) == 4
    clock.advance(timedelta(seconds=settings.acting_context_seconds - 1))
    assert await gp_calls(app, get(client, user, practice)) == 0
    clock.advance(timedelta(seconds=1))
    # Relationships and both patients' record access again; practice settings live longer.
    assert await gp_calls(app, get(client, user, practice)) == 3


async def revoke_relationship(settings: Settings, user: SignedInUser, tag: str) -> None:
    """The practice ends a proxy relationship in its GP system."""
    other = next(o for o in user.persona.acts_for if tag in o.tags)
    engine = create_engine(settings.sandbox_url)
    try:
        async with engine.begin() as connection:
            removed = await connection.execute(
                delete(sandbox.relationships).where(
                    sandbox.relationships.c.user_ref == user.persona.patient_ref,
                    sandbox.relationships.c.patient_ref == other.patient_ref,
                )
            )
            assert removed.rowcount == 1
    finally:
        await engine.dispose()


async def test_a_revoked_proxy_loses_access_within_the_context_lifetime(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock, settings: Settings
) -> None:
    parent = await sign_in("proxy-parent")
    child = f"/v1/patients/{parent.acts_for('child-under-11')}/appointments"
    assert (await client.get(child, headers=parent.headers)).status_code == 200
    await revoke_relationship(settings, parent, "child-under-11")
    clock.advance(timedelta(seconds=settings.acting_context_seconds))
    refused = await client.get(child, headers=parent.headers)
    assert refused.status_code == 404
    assert refused.json()["code"] == "patient_not_found"
    listed = await client.get("/v1/me/patients", headers=parent.headers)
    assert [item["relationship"] for item in listed.json()["items"]] == ["self"]


@asynccontextmanager
async def second_instance(
    settings: Settings, clock: FakeClock
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """Another instance of the service on the same databases (as behind a load balancer)."""
    other = create_app(settings, clock=clock)
    async with (
        LifespanManager(other) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://other"
        ) as client,
    ):
        yield other, client


async def test_instances_share_the_context_and_its_end(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock, settings: Settings
) -> None:
    parent = await sign_in("proxy-parent")
    child = f"/v1/patients/{parent.acts_for('child-under-11')}/practice"
    async with second_instance(settings, clock) as (other, other_client):
        assert await gp_calls(app, get(client, parent, child)) == 4
        # The other instance reads the stored context: no GP call there either.
        assert await gp_calls(other, get(other_client, parent, child)) == 1  # practice settings
        assert await gp_calls(other, get(other_client, parent, child)) == 0
        await revoke_relationship(settings, parent, "child-under-11")
        clock.advance(timedelta(seconds=settings.acting_context_seconds))
        for instance in (client, other_client):
            assert (await instance.get(child, headers=parent.headers)).status_code == 404
        # Signed out on one instance: refused by both at once.
        assert (
            await other_client.post("/v1/auth/logout", headers=parent.headers)
        ).status_code == 204
        for instance in (client, other_client):
            refused = await instance.get("/v1/me/patients", headers=parent.headers)
            assert refused.status_code == 401


async def test_signing_out_drops_the_stored_context(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("proxy-parent")
    assert (await client.get("/v1/me/patients", headers=user.headers)).status_code == 200
    async with app.state.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(SessionContext)) == 1
    assert (await client.post("/v1/auth/logout", headers=user.headers)).status_code == 204
    async with app.state.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(SessionContext)) == 0
    assert (await client.get("/v1/me/patients", headers=user.headers)).status_code == 401


async def test_forgetting_an_accounts_context_asks_the_gp_system_again(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("proxy-parent")
    practice = f"/v1/patients/{user.patient_id()}/practice"
    assert await gp_calls(app, get(client, user, practice)) == 4
    async with app.state.sessionmaker() as db:
        account_id = await db.scalar(select(AuthSession.account_id))
        assert account_id is not None
        await app.state.acting_contexts.forget_for_account(db, account_id)
    assert await gp_calls(app, get(client, user, practice)) == 3


async def test_another_patients_id_is_refused_on_a_warm_context(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("proxy-parent")
    stranger = await sign_in("load-test")
    assert (await client.get("/v1/me/patients", headers=user.headers)).status_code == 200
    assert (
        await gp_calls(
            app, get(client, user, f"/v1/patients/{stranger.patient_id()}/practice"), status=404
        )
        == 0
    )


async def test_the_gp_calls_header_counts_each_requests_calls(
    make_settings: Callable[..., Settings],
    sandbox_database_url: str,
    engine: object,
    clock: FakeClock,
) -> None:
    settings = make_settings(sandbox_database_url=sandbox_database_url, expose_gp_calls=True)
    async with second_instance(settings, clock) as (other, client):
        persona = find_persona(today(clock), "proxy-parent")
        issued = await sign_in_persona(other, persona, clock=clock)
        headers = {"Authorization": f"Bearer {issued.token}"}
        slots = f"/v1/patients/{persona_patient_id(other, persona)}/slots"
        assert (await client.get(slots, headers=headers)).headers[GP_CALLS_HEADER] == "5"
        assert (await client.get(slots, headers=headers)).headers[GP_CALLS_HEADER] == "1"
        assert (await client.get("/healthz")).headers[GP_CALLS_HEADER] == "0"


async def test_booking_and_cancelling_cost_two_gp_calls_each_on_a_warm_context(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    user = await sign_in("load-test")
    base = f"/v1/patients/{user.patient_id()}/appointments"
    start = (clock.now() + timedelta(days=3)).isoformat()
    listed = await client.get(
        f"/v1/patients/{user.patient_id()}/slots",
        params={"from": start, "limit": 1},
        headers=user.headers,
    )
    [slot] = listed.json()["items"]
    # Warm: the practice's cancellation reasons, as an app shows them before cancelling.
    reasons = await client.get(f"{base}/cancellation-reasons", headers=user.headers)
    reason = reasons.json()["items"][0]["code"]
    booked_id: list[str] = []

    async def book() -> httpx.Response:
        response = await client.post(
            base,
            json={"slot_id": slot["slot_id"]},
            headers={**user.headers, "Idempotency-Key": "count-gp-calls"},
        )
        booked_id.append(response.json()["appointment_id"])
        return response

    # The booking limit is checked against the patient's appointments, then the booking.
    assert await gp_calls(app, book, status=201) == 2

    async def cancel() -> httpx.Response:
        return await client.post(
            f"{base}/{booked_id[0]}/cancel", json={"reason_code": reason}, headers=user.headers
        )

    # The appointment is read (cut-off, ownership), then cancelled; reasons are kept.
    assert await gp_calls(app, cancel) == 2


async def test_a_warm_context_does_not_outlive_an_expired_session(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    user = await sign_in("proxy-parent")
    practice = f"/v1/patients/{user.patient_id()}/practice"
    assert (await client.get(practice, headers=user.headers)).status_code == 200
    clock.advance(timedelta(minutes=30))
    expired = await client.get(practice, headers=user.headers)
    assert expired.status_code == 401
    assert expired.json()["code"] == "session_expired"


async def test_a_p5_session_gets_no_context_and_costs_no_gp_call(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("p5-identity")
    assert await gp_calls(app, get(client, user, "/v1/me/patients"), status=403) == 0
    assert await gp_calls(app, get(client, user, "/v1/me")) == 0
    async with app.state.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(SessionContext)) == 0


@contextmanager
def connections_held_when_the_gp_system_is_asked(app: FastAPI) -> Iterator[list[int]]:
    """For each acting-for context asked of the GP system: the app's checked-out connections."""
    held: list[int] = []
    ask = context.fetch_facts

    async def asking(*args: Any) -> Any:
        held.append(app.state.engine.sync_engine.pool.checkedout())
        return await ask(*args)

    context.fetch_facts = asking
    try:
        yield held
    finally:
        context.fetch_facts = ask


async def test_no_connection_is_held_while_the_gp_system_is_asked(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock, settings: Settings
) -> None:
    user = await sign_in("proxy-parent")
    practice = f"/v1/patients/{user.patient_id()}/practice"
    with connections_held_when_the_gp_system_is_asked(app) as held:
        assert (await client.get(practice, headers=user.headers)).status_code == 200
    assert held == [0]  # never fetched: the session query's connection is back
    # A stored context this instance cannot read: looked up, then asked again.
    async with app.state.sessionmaker() as db:
        await db.execute(update(SessionContext).values(payload="not a Fernet token"))
        await db.commit()
    async with second_instance(settings, clock) as (other, other_client):
        with connections_held_when_the_gp_system_is_asked(other) as held:
            assert (await other_client.get(practice, headers=user.headers)).status_code == 200
        assert held == [0]
