"""`acting_for` and `RequireService` (`app.patients.deps`) on one route each, in detail.

The authorisation matrix calls every route for every identity case; these look
closely at one route per refusal: the problem's code, reason and plain-English
detail, and the audit row each refusal leaves (who, for whom, why, nothing sent).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import select

from app.audit.models import AuditRecord
from app.audit.types import AuditAction, AuditEvent
from app.patients.deps import RequireService, ServiceNotPermitted
from app.patients.rules import EXPLANATIONS, ServiceAccess, Unavailable
from tests.audit.rows import refused
from tests.conftest import SignedInUser, SignIn


async def refusals(app: FastAPI) -> list[tuple[Any, ...]]:
    return [(r.action, r.actor_id, r.patient_id, r.on_behalf, r.target) for r in await refused(app)]


async def account_of(app: FastAPI) -> str:
    async with app.state.sessionmaker() as db:
        actor = await db.scalar(
            select(AuditRecord.actor_id).where(AuditRecord.action == AuditAction.SIGN_IN)
        )
    assert actor is not None
    return actor


async def get(client: httpx.AsyncClient, user: SignedInUser, patient: str, path: str) -> Any:
    return await client.get(f"/v1/patients/{patient}{path}", headers=user.headers)


async def test_the_patient_themself_gets_through(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full")
    response = await get(client, user, user.patient_id(), "/appointments")
    assert response.status_code == 200, response.text
    assert await refusals(app) == []


async def test_an_id_they_do_not_act_for_is_not_found_and_audited_without_it(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full")
    response = await get(client, user, "guessed-id", "/practice")
    assert response.status_code == 404
    assert response.json()["code"] == "patient_not_found"
    assert await refusals(app) == [
        (AuditAction.ACCESS_REFUSED, await account_of(app), None, False, "patient_not_found")
    ]


async def test_a_suspended_proxy_is_told_why_and_the_refusal_names_the_patient(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    parent = await sign_in("parent-of-16")
    teen = parent.acts_for("age-16-proxied")
    response = await get(client, parent, teen, "/practice")
    assert response.status_code == 403
    problem = response.json()
    assert problem["code"] == "access_unavailable"
    assert problem["reason"] == "proxy_suspended_at_16"
    assert problem["detail"] == EXPLANATIONS[Unavailable.PROXY_SUSPENDED_AT_16]
    assert await refusals(app) == [
        (
            AuditAction.ACCESS_REFUSED,
            await account_of(app),
            teen,
            True,
            "access_unavailable:proxy_suspended_at_16",
        )
    ]


async def test_a_proxy_without_the_service_is_told_and_the_refusal_names_the_service(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    carer = await sign_in("carer")
    resident = carer.acts_for("care-home-resident")  # prescriptions only
    response = await get(client, carer, resident, "/appointments")
    assert response.status_code == 403
    problem = response.json()
    assert problem["code"] == "service_not_permitted"
    assert problem["reason"] == "not_granted"
    assert problem["detail"] == EXPLANATIONS[Unavailable.NOT_GRANTED]
    assert await refusals(app) == [
        (
            AuditAction.ACCESS_REFUSED,
            await account_of(app),
            resident,
            True,
            "service_not_permitted:appointments:not_granted",
        )
    ]
    # The service they hold goes through.
    assert (await get(client, carer, resident, "/prescriptions/courses")).status_code == 200


async def test_a_patient_only_service_refuses_a_proxy_with_its_own_reason(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    parent = await sign_in("proxy-parent")
    child = parent.acts_for("child-under-11")
    response = await get(client, parent, child, "/access-log")
    assert response.status_code == 403
    assert response.json()["reason"] == "patient_only"
    assert response.json()["detail"] == EXPLANATIONS[Unavailable.PATIENT_ONLY]


async def test_a_p5_user_is_asked_to_verify_before_any_patient_is_looked_up(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("p5-identity")
    response = await get(client, user, user.patient_id(), "/practice")
    assert response.status_code == 403
    assert response.json()["code"] == "identity_verification_required"


async def test_a_refusal_without_a_reason_is_reported_as_not_granted(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Defensive: the rules always give a reason, but a refusal must never lack one."""
    check = RequireService("record", lambda access: ServiceAccess(False))
    assert check.service == "record"
    acting = SimpleNamespace(
        profile=SimpleNamespace(access=None),
        audit_event=lambda action, target: AuditEvent(
            action=action, actor_id="account-1", target=target
        ),
    )
    request = Request({"type": "http", "app": app, "method": "GET", "path": "/", "headers": []})
    with pytest.raises(ServiceNotPermitted) as refused:
        await check(request, acting)  # type: ignore[arg-type]
    assert refused.value.extra == {"reason": "not_granted"}
    assert refused.value.detail == EXPLANATIONS[Unavailable.NOT_GRANTED]
    assert await refusals(app) == [
        (
            AuditAction.ACCESS_REFUSED,
            "account-1",
            None,
            False,
            "service_not_permitted:record:not_granted",
        )
    ]


async def test_the_context_is_fetched_once_and_reused_while_fresh(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full")
    calls = app.state.gp_registry.calls
    assert (await get(client, user, user.patient_id(), "/practice")).status_code == 200
    warm = calls.total
    assert (await get(client, user, user.patient_id(), "/practice")).status_code == 200
    assert calls.total == warm  # the second request made no GP call
