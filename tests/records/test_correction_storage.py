"""A report's text is free text about someone's health: the app's database holds it only
encrypted (GP_CREDENTIALS_KEY, as it holds GP credentials and NHS login ID tokens), and
the migration that brought this in encrypted the reports already stored."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.credentials import credentials_cipher
from app.config import Settings
from tests.conftest import SignIn
from tests.foundation.test_migrations import _drop_everything, _run
from tests.records.test_correction_budget import corrections_url, report

SECRET = "not allergic to peanuts, zq-secret-7731"


async def _rows(engine: AsyncEngine, table: str) -> list[dict[str, object]]:
    async with engine.connect() as connection:
        result = await connection.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
        return [dict(row) for row in result.mappings()]


async def test_a_reports_text_is_stored_only_encrypted(
    client: httpx.AsyncClient, sign_in: SignIn, settings: Settings, engine: AsyncEngine
) -> None:
    user = await sign_in("adult-full", ods_code="A81001")
    response = await report(client, user, {"section": "allergies", "description": SECRET})
    assert response.status_code == 201, response.text
    assert response.json()["description"] == SECRET

    [row] = await _rows(engine, "record_corrections")
    assert SECRET not in repr(row)
    stored = row["description_encrypted"]
    assert isinstance(stored, str)
    assert credentials_cipher(settings).decrypt(stored.encode()).decode() == SECRET
    # Nor is it kept in the clear with the request's Idempotency-Key.
    assert SECRET not in repr(await _rows(engine, "idempotency_records"))
    # The person who wrote it still reads it back.
    listed = (await client.get(corrections_url(user), headers=user.headers)).json()["items"]
    assert [c["description"] for c in listed] == [SECRET]


async def test_the_upgrade_encrypts_reports_already_stored_and_the_downgrade_restores_them(
    engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Migrations read their settings from the environment, as the release job does.
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("GP_CREDENTIALS_KEY", key)
    await _drop_everything(engine)
    await _run(engine, database_url, ("upgrade", "0009"))
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO record_corrections (id, patient_id, account_id, on_behalf, "
                "section, entry_id, description, status, gp_message_id, created_at) VALUES "
                "('c-1', 'p-1', 'a-1', false, 'allergies', NULL, :text, 'sent', 'm-1', :at)"
            ),
            {"text": SECRET, "at": datetime(2026, 10, 1, 9, 0, tzinfo=UTC)},
        )

    await _run(engine, database_url, ("upgrade", "head"))
    [row] = await _rows(engine, "record_corrections")
    assert SECRET not in repr(row)
    stored = row["description_encrypted"]
    assert isinstance(stored, str)
    assert MultiFernet([Fernet(key)]).decrypt(stored.encode()).decode() == SECRET
    assert (row["id"], row["status"], row["section"]) == ("c-1", "sent", "allergies")

    await _run(engine, database_url, ("downgrade", "0009"))
    [row] = await _rows(engine, "record_corrections")
    assert (row["id"], row["description"]) == ("c-1", SECRET)
