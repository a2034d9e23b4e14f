"""Fault injection: outage, deterministic error rate, latency, config and runtime."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack

import pytest

from app.adapters.sandbox import SandboxFactory, SandboxFaults, create_sandbox_factory, find_sandbox
from app.config import Settings
from app.gp import errors
from app.gp.registry import Faults, PracticeConfig
from tests.conftest import FakeClock


async def test_outage_raises_unavailable_with_the_supplier_code(factory: SandboxFactory) -> None:
    system = factory.systems["B82002"]
    factory.faults("B82002").outage = True
    with pytest.raises(errors.GPSystemUnavailable) as down:
        await system.get_practice_settings()
    assert down.value.supplier_code == "99"
    factory.faults("B82002").set()
    assert (await system.get_practice_settings()).ods_code == "B82002"


async def test_error_rate_is_deterministic(factory: SandboxFactory) -> None:
    system = factory.systems["A81001"]

    async def outcomes() -> list[bool]:
        result = []
        for _ in range(40):
            try:
                await system.list_cancellation_reasons()
                result.append(True)
            except errors.GPSystemUnavailable:
                result.append(False)
        return result

    system.faults.set(error_rate=0.5, seed=7)
    first = await outcomes()
    system.faults.set(error_rate=0.5, seed=7)
    assert await outcomes() == first
    assert 5 < first.count(False) < 35


async def test_latency(factory: SandboxFactory) -> None:
    factory.faults("C83003").set(latency_ms=120)
    started = time.perf_counter()
    await factory.systems["C83003"].list_cancellation_reasons()
    assert time.perf_counter() - started >= 0.12


def test_faults_from_the_practice_config() -> None:
    faults = SandboxFaults.from_config(Faults(latency_ms=5, error_rate=0.25), ods_code="A81001")
    assert (faults.latency_ms, faults.error_rate, faults.outage) == (5, 0.25, False)
    with pytest.raises(ValueError, match="error_rate"):
        faults.set(error_rate=2.0)


async def test_configured_outage_and_find_sandbox(settings: Settings, clock: FakeClock) -> None:
    async with AsyncExitStack() as stack:
        factory = await create_sandbox_factory(settings, clock, stack)
        config = PracticeConfig(
            ods_code="A81001", name="x", adapter="sandbox", profile="emis",
            faults=Faults(outage=True),
        )  # fmt: skip
        system = factory(config)
        assert find_sandbox(system) is system
        with pytest.raises(errors.GPSystemUnavailable) as down:
            await system.get_practice_settings()
        assert down.value.supplier_code == "-1000"


async def test_unreachable_database_is_unavailable_not_a_crash(clock: FakeClock) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        app_env="test",
        database_url="postgresql+asyncpg://nobody@127.0.0.1:9/none",
    )
    async with AsyncExitStack() as stack:
        factory = await create_sandbox_factory(settings, clock, stack)
        system = factory(PracticeConfig(ods_code="C83003", name="x", adapter="sandbox",
                                        profile="vision"))  # fmt: skip
        with pytest.raises(errors.GPSystemUnavailable) as down:
            await system.get_practice_settings()
        assert down.value.supplier_code == "-1"


def test_find_sandbox_refuses_other_systems() -> None:
    with pytest.raises(LookupError):
        find_sandbox(object())
