"""The NHS login ID token kept for GP Connect's patient-facing APIs: encrypted at rest,
only from P9 sign-ins, and only while its session and the token itself are live."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from joserfc import jws
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sandbox.personas import Persona
from app.auth.credentials import credentials_cipher, decrypt_text
from app.auth.models import Account, AuthSession
from app.auth.nhs_login_tokens import SessionIdTokens
from app.config import Settings
from app.db import create_sessionmaker
from tests.auth.conftest import web_sign_in
from tests.auth.test_end_to_end import native_code
from tests.conftest import FakeClock


def claims_of(id_token: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(jws.extract_compact(id_token.encode()).payload)
    return payload


async def _bearer(web: httpx.AsyncClient, persona: Persona) -> dict[str, str]:
    created = await web.post("/v1/auth/session", json=await native_code(web, persona))
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['access_token']}"}


async def test_a_p9_sign_in_keeps_its_id_token_encrypted(
    web: httpx.AsyncClient,
    engine: AsyncEngine,
    persona: Callable[[str], Persona],
    standin_settings: Settings,
) -> None:
    olivia = persona("adult-full")
    await web_sign_in(web, olivia)

    async with engine.connect() as connection:
        row = (await connection.execute(select(AuthSession))).one()
        sub = (await connection.execute(select(Account.nhs_login_sub))).scalar_one()
    stored = row.nhs_login_id_token_encrypted
    assert stored is not None
    id_token = decrypt_text(credentials_cipher(standin_settings), stored, what="ID token")
    claims = claims_of(id_token)
    assert claims["sub"] == sub
    # Not in the clear: neither the token nor its payload segment.
    assert id_token.split(".")[1] not in stored
    assert row.nhs_login_id_token_expires_at.timestamp() == claims["exp"]


async def test_a_p5_sign_in_keeps_no_id_token(
    web: httpx.AsyncClient, engine: AsyncEngine, persona: Callable[[str], Persona]
) -> None:
    await web_sign_in(web, persona("p5-identity"))

    async with engine.connect() as connection:
        row = (await connection.execute(select(AuthSession))).one()
    assert row.nhs_login_id_token_encrypted is None


async def test_the_id_token_is_given_only_while_session_and_token_are_live(
    web: httpx.AsyncClient,
    engine: AsyncEngine,
    persona: Callable[[str], Persona],
    standin_settings: Settings,
    clock: FakeClock,
) -> None:
    olivia = persona("adult-full")
    tokens = SessionIdTokens(
        create_sessionmaker(engine), credentials_cipher(standin_settings), clock
    )
    headers = await _bearer(web, olivia)

    first = await tokens.id_token_for(olivia.nhs_number)
    assert first is not None
    async with engine.connect() as connection:
        sub = (await connection.execute(select(Account.nhs_login_sub))).scalar_one()
    assert claims_of(first)["sub"] == sub
    assert await tokens.id_token_for("9000000017") is None  # anyone else: nothing

    assert (await web.post("/v1/auth/logout", headers=headers)).status_code == 204
    assert await tokens.id_token_for(olivia.nhs_number) is None  # signed out

    await _bearer(web, olivia)
    assert await tokens.id_token_for(olivia.nhs_number) is not None
    clock.advance(timedelta(hours=2))  # past the ID token's own expiry
    assert await tokens.id_token_for(olivia.nhs_number) is None
