"""The sandbox adapter: simulated GP systems with EMIS-, TPP- and Vision-like behaviour.

It is the embedded default: `create_sandbox_factory` opens the sandbox
database (`settings.sandbox_url`), creates and seeds its `sandbox_` tables
when needed, and returns a factory that the registry calls once per practice.

Public API:

- `create_sandbox_factory(settings, clock, stack) -> SandboxFactory`
- `SandboxFactory.faults(ods_code) -> SandboxFaults` (latency, error rate, outage)
- `find_sandbox(system) -> SandboxGPSystem`, to reach the faults through the registry
- `app.adapters.sandbox.personas.persona_catalogue(today)`: who to sign in as
- `python -m app.adapters.sandbox seed|personas|dump`
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

from sqlalchemy.exc import SQLAlchemyError

from app.adapters.sandbox.access_changes import SandboxSupplier
from app.adapters.sandbox.adapter import SandboxGPSystem, find_sandbox
from app.adapters.sandbox.database import SandboxDatabase
from app.adapters.sandbox.faults import SandboxFaults
from app.adapters.sandbox.profiles import get_profile
from app.adapters.sandbox.seed import PracticeSeed
from app.clock import Clock
from app.config import Settings
from app.db import create_engine
from app.gp.port import GPSystem
from app.gp.registry import PracticeConfig, PracticesFileInvalid, load_practices

__all__ = [
    "SandboxFactory",
    "SandboxFaults",
    "SandboxGPSystem",
    "create_sandbox_factory",
    "find_sandbox",
    "sandbox_practices",
]

logger = logging.getLogger(__name__)


def sandbox_practices(practices: list[PracticeConfig]) -> list[PracticeSeed]:
    """The practices the sandbox serves, checked for a known supplier profile."""
    seeds = []
    for practice in practices:
        if practice.adapter != "sandbox":
            continue
        try:
            profile = get_profile(practice.profile)
        except ValueError as exc:
            raise PracticesFileInvalid(f"{practice.ods_code}: {exc}") from None
        seeds.append(PracticeSeed(practice.ods_code, practice.name, profile.name))
    return seeds


class SandboxFactory:
    """Practice configuration → its simulated GP system (one per ODS code)."""

    def __init__(self, database: SandboxDatabase, clock: Clock) -> None:
        self.database = database
        self._clock = clock
        self.systems: dict[str, SandboxGPSystem] = {}

    def __call__(self, config: PracticeConfig) -> GPSystem:
        system = self.systems.get(config.ods_code)
        if system is None:
            try:
                profile = get_profile(config.profile)
            except ValueError as exc:
                raise PracticesFileInvalid(f"{config.ods_code}: {exc}") from None
            system = SandboxGPSystem(
                SandboxSupplier(self.database.engine, profile, config.ods_code, self._clock),
                self.database,
                SandboxFaults.from_config(config.faults, ods_code=config.ods_code),
            )
            self.systems[config.ods_code] = system
        return system

    def faults(self, ods_code: str) -> SandboxFaults:
        """The live fault settings of one practice. Raises `KeyError` if not built."""
        return self.systems[ods_code].faults


async def create_sandbox_factory(
    settings: Settings, clock: Clock, stack: AsyncExitStack
) -> SandboxFactory:
    """Open the sandbox database, seed or top it up, and return the factory.

    An unreachable database does not stop the app starting: the adapter then
    answers `GPSystemUnavailable` and retries the bootstrap on the next call.
    """
    engine = create_engine(
        settings.sandbox_url, connect_timeout=settings.database_connect_timeout_seconds
    )
    stack.push_async_callback(engine.dispose)
    database = SandboxDatabase(
        engine, clock, sandbox_practices(load_practices(settings.practices_file))
    )
    try:
        await database.ensure_ready()
    except (SQLAlchemyError, OSError) as exc:
        logger.warning(
            "sandbox database not reachable; retrying on first use",
            extra={"error": type(exc).__name__},
        )
    return SandboxFactory(database, clock)
