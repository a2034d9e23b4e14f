"""Fixtures: the sandbox adapter for each practice, on a freshly seeded database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import date

import pytest

from app.adapters.sandbox import SandboxFactory, SandboxGPSystem, create_sandbox_factory
from app.adapters.sandbox.personas import (
    EMIS_PRACTICE,
    TPP_PRACTICE,
    VISION_PRACTICE,
    Persona,
    find_persona,
)
from app.clock import today as clock_today
from app.config import Settings
from app.gp.registry import load_practices
from tests.conftest import FakeClock


@pytest.fixture
async def factory(settings: Settings, clock: FakeClock) -> AsyncIterator[SandboxFactory]:
    async with AsyncExitStack() as stack:
        built = await create_sandbox_factory(settings, clock, stack)
        for practice in load_practices(settings.practices_file):
            built(practice)
        yield built


@pytest.fixture
def emis(factory: SandboxFactory) -> SandboxGPSystem:
    return factory.systems[EMIS_PRACTICE]


@pytest.fixture
def tpp(factory: SandboxFactory) -> SandboxGPSystem:
    return factory.systems[TPP_PRACTICE]


@pytest.fixture
def vision(factory: SandboxFactory) -> SandboxGPSystem:
    return factory.systems[VISION_PRACTICE]


@pytest.fixture
def today(clock: FakeClock) -> date:
    return clock_today(clock)


@pytest.fixture
def persona(today: date) -> PersonaLookup:
    return PersonaLookup(today)


class PersonaLookup:
    def __init__(self, today: date) -> None:
        self.today = today

    def __call__(self, tag: str, ods_code: str | None = None) -> Persona:
        return find_persona(self.today, tag, ods_code=ods_code)
