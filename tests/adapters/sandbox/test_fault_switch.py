"""The hang and garbage faults, and faults switched for every process through the sandbox
database (`python -m app.adapters.sandbox faults`)."""

from __future__ import annotations

import asyncio

import pytest

from app.adapters.sandbox import SandboxFactory
from app.adapters.sandbox.__main__ import main
from app.adapters.sandbox.faults import MALFORMED_RESPONSE, switch_faults
from app.adapters.sandbox.switches import UnknownPractice
from app.config import Settings
from app.gp import errors
from app.gp.registry import Faults
from tests.frozen import SUITE_NOW


async def test_a_hang_never_answers(factory: SandboxFactory) -> None:
    factory.faults("A81001").set(hang=True)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await factory.systems["A81001"].list_cancellation_reasons()


async def test_garbage_is_unavailable_as_an_unreadable_answer(factory: SandboxFactory) -> None:
    factory.faults("C83003").set(garbage=True)
    with pytest.raises(errors.GPSystemUnavailable) as down:
        await factory.systems["C83003"].get_practice_settings()
    assert down.value.supplier_code == MALFORMED_RESPONSE


async def test_a_switched_fault_reaches_every_process_until_cleared(
    factory: SandboxFactory, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = factory.systems["B82002"]
    monkeypatch.setenv("DATABASE_URL", settings.sandbox_url)
    monkeypatch.delenv("SANDBOX_DATABASE_URL", raising=False)
    monkeypatch.setenv("FROZEN_NOW", SUITE_NOW.isoformat())  # the command tops up no other day

    assert await asyncio.to_thread(main, ["faults", "B82002", "--outage"]) == 0
    with pytest.raises(errors.GPSystemUnavailable) as down:
        await system.get_practice_settings()
    assert down.value.supplier_code == "99"  # the TPP-like system's own "unavailable"
    # Only that practice.
    assert (await factory.systems["A81001"].get_practice_settings()).ods_code == "A81001"

    assert await asyncio.to_thread(main, ["faults", "b82002", "--clear"]) == 0
    assert (await system.get_practice_settings()).ods_code == "B82002"


async def test_a_switch_stands_in_for_the_process_own_faults(factory: SandboxFactory) -> None:
    system = factory.systems["A81001"]
    factory.faults("A81001").set(outage=True)
    engine = system.database.engine
    await switch_faults(engine, "A81001", Faults())  # switched: nothing wrong
    assert (await system.get_practice_settings()).ods_code == "A81001"
    await switch_faults(engine, "A81001", None)
    with pytest.raises(errors.GPSystemUnavailable):
        await system.get_practice_settings()


async def test_no_switch_for_a_practice_the_sandbox_does_not_serve(
    factory: SandboxFactory,
) -> None:
    with pytest.raises(UnknownPractice):
        await switch_faults(factory.systems["A81001"].database.engine, "Z99999", Faults())
