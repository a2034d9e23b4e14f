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


async def run_verify(database_url: str, *options: str, **env: str) -> tuple[int, str]:
    environment = {**os.environ, "DATABASE_URL": database_url, "APP_ENV": "test", **env}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.audit",
        "verify",
        *options,
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


TIP_KEY = {"AUDIT_TIP_KEY": "t" * 40}


async def kept_tip(database_url: str) -> str:
    code, output = await run_verify(database_url, "--print-tip", **TIP_KEY)
    assert code == 0, output
    tip = output.strip().splitlines()[-1]
    assert tip.startswith("gp-online-audit-tip.v1.4.")
    return tip


async def test_removing_the_newest_entries_is_caught_by_the_kept_tip(
    engine: AsyncEngine, database_url: str, write_events: WriteEvents
) -> None:
    await write_events(sample_events(4))
    tip = await kept_tip(database_url)
    code, output = await run_verify(database_url, "--tip", tip, **TIP_KEY)
    assert code == 0, output
    assert "still holds the kept tip (entry number 4)" in output

    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM audit_events WHERE sequence = 4"))
    # The chain alone cannot tell: a trail cut short is still a valid chain.
    assert (await run_verify(database_url))[0] == 0
    code, output = await run_verify(database_url, "--tip", tip, **TIP_KEY)
    assert code == 1, output
    assert "the trail ends at 3: its newest entries were removed" in output


async def test_a_newer_trail_still_holds_an_older_tip(
    engine: AsyncEngine, database_url: str, write_events: WriteEvents
) -> None:
    await write_events(sample_events(4))
    tip = await kept_tip(database_url)
    await write_events(sample_events(2))
    code, output = await run_verify(database_url, "--tip", tip, **TIP_KEY)
    assert code == 0, output


async def test_a_forged_tip_is_refused(
    engine: AsyncEngine, database_url: str, write_events: WriteEvents
) -> None:
    await write_events(sample_events(4))
    tip = await kept_tip(database_url)
    forged = tip.replace(".v1.4.", ".v1.3.", 1)
    code, output = await run_verify(database_url, "--tip", forged, **TIP_KEY)
    assert code == 3, output
    assert "not signed with this AUDIT_TIP_KEY" in output
    code, output = await run_verify(database_url, "--tip", tip, AUDIT_TIP_KEY="u" * 40)
    assert code == 3, output
