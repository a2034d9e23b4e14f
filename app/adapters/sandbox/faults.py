"""Simulated trouble per practice: latency, random errors, an outage, a hang, garbage.

Each mode is one way a real GP system fails, and ends where a real adapter's failure
ends: `GPSystemUnavailable`, or no answer at all for the resilience layer's deadline to
cut off.

- `outage`: the system answers that it is unavailable (its 5xx), with the supplier's code.
- `hang`: the system takes the call and never answers.
- `garbage`: the system answers with something that is not its protocol; the adapter
  cannot read it and gives up as the GP Connect adapter does (`MALFORMED_RESPONSE`).
- `latency_ms`, `error_rate`: a slow system, and one that fails some calls.

Faults start from the practices file's `faults`. One process changes its own at runtime
(`factory.faults("A81001").outage = True`, for tests); `switch_faults` changes them for
every process that shares the sandbox database (`python -m app.adapters.sandbox faults`),
read on each call, until cleared. The random generator is seeded from the ODS code, so an
error rate fails the same calls on every run.
"""

from __future__ import annotations

import asyncio
import random
import zlib
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sandbox import tables
from app.adapters.sandbox.switches import UnknownPractice
from app.db import autocommit
from app.gp.errors import GPSystemUnavailable
from app.gp.registry import Faults

# What the GP Connect adapter calls an answer it could not read (`wire_shape`).
MALFORMED_RESPONSE = "MALFORMED_RESPONSE"
OUTAGE_RETRY_AFTER = 30
ERROR_RETRY_AFTER = 5


@dataclass
class SandboxFaults:
    latency_ms: int = 0
    error_rate: float = 0.0
    outage: bool = False
    hang: bool = False
    garbage: bool = False
    seed: int = 0
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311 - simulation, not security

    @classmethod
    def from_config(cls, faults: Faults, *, ods_code: str) -> SandboxFaults:
        return cls(
            latency_ms=faults.latency_ms,
            error_rate=faults.error_rate,
            outage=faults.outage,
            hang=faults.hang,
            garbage=faults.garbage,
            seed=zlib.crc32(ods_code.encode()),
        )

    def set(
        self,
        *,
        latency_ms: int = 0,
        error_rate: float = 0.0,
        outage: bool = False,
        hang: bool = False,
        garbage: bool = False,
        seed: int | None = None,
    ) -> None:
        """Replace every fault at once (all off by default) and restart the random sequence."""
        if not 0.0 <= error_rate <= 1.0 or latency_ms < 0:
            raise ValueError("error_rate must be within [0, 1] and latency_ms not negative")
        self.latency_ms, self.error_rate, self.outage = latency_ms, error_rate, outage
        self.hang, self.garbage = hang, garbage
        if seed is not None:
            self.seed = seed
        self._random = random.Random(self.seed)  # noqa: S311

    async def inject(self, supplier_code: str, switched: Faults | None = None) -> None:
        """Delay and/or fail one call as configured, or as `switched` for every process
        (which then stands in for this process's own faults)."""
        faults: Faults | SandboxFaults = switched or self
        if faults.outage:
            raise GPSystemUnavailable(retry_after=OUTAGE_RETRY_AFTER, supplier_code=supplier_code)
        if faults.hang:
            # Never answers: only the caller's deadline ends the call.
            await asyncio.get_running_loop().create_future()
        if faults.garbage:
            raise GPSystemUnavailable(supplier_code=MALFORMED_RESPONSE)
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.error_rate and self._random.random() < faults.error_rate:
            raise GPSystemUnavailable(retry_after=ERROR_RETRY_AFTER, supplier_code=supplier_code)


def _switch_key(ods_code: str) -> str:
    return f"faults:{ods_code.strip().upper()}"


async def switched_faults(engine: AsyncEngine, ods_code: str) -> Faults | None:
    """The faults switched for every process at this practice, or None: one statement,
    with no transaction around it, as the sandbox's other reads."""
    async with autocommit(engine).connect() as connection:
        stored = await connection.scalar(
            select(tables.meta.c.value).where(tables.meta.c.key == _switch_key(ods_code))
        )
    if stored is None:
        return None
    try:
        return Faults.model_validate_json(stored)
    except ValidationError:
        return None  # written by another version: as if cleared


async def switch_faults(engine: AsyncEngine, ods_code: str, faults: Faults | None) -> None:
    """Make every process that shares the sandbox database inject `faults` at the practice
    from its next call, or go back to its own faults (None)."""
    key = _switch_key(ods_code)
    async with engine.begin() as connection:
        known = await connection.scalar(
            select(tables.practices.c.ods_code).where(
                tables.practices.c.ods_code == ods_code.strip().upper()
            )
        )
        if known is None:
            raise UnknownPractice(ods_code)
        await connection.execute(delete(tables.meta).where(tables.meta.c.key == key))
        if faults is not None:
            await connection.execute(
                insert(tables.meta).values(key=key, value=faults.model_dump_json())
            )
