"""`python -m app.audit verify`: plain-English result, non-zero exit when broken."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.audit.conftest import WriteEvents, sample_events

ROOT = Path(__file__).resolve().parents[2]


async def run_verify(database_url: str) -> tuple[int, str]:
    environment = {**os.environ, "DATABASE_URL": database_url, "APP_ENV": "test"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.audit",
        "verify",
        cwd=ROOT,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_an_intact_chain_exits_zero(
    engine: AsyncEngine, database_url: str, write_events: WriteEvents
) -> None:
    await write_events(sample_events(4))
    code, output = await run_verify(database_url)
    assert code == 0, output
    assert "intact: 4 entries checked" in output


async def test_a_changed_row_exits_non_zero_and_names_it(
    engine: AsyncEngine, database_url: str, write_events: WriteEvents
) -> None:
    await write_events(sample_events(4))
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE audit_events SET target = 'x' WHERE sequence = 3"))
    code, output = await run_verify(database_url)
    assert code == 1, output
    assert "BROKEN at entry number 3" in output
    assert "changed after it was written" in output


async def test_a_deleted_row_exits_non_zero_and_names_the_gap(
    engine: AsyncEngine, database_url: str, write_events: WriteEvents
) -> None:
    await write_events(sample_events(4))
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM audit_events WHERE sequence = 2"))
    code, output = await run_verify(database_url)
    assert code == 1, output
    assert "BROKEN at entry number 3" in output
    assert "entry numbered 2 is missing" in output


async def test_an_unreadable_database_exits_two(engine: AsyncEngine, database_url: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE audit_events"))
    code, output = await run_verify(database_url)
    assert code == 2, output
    assert "Could not read the audit trail" in output
