"""Simulated trouble per practice: latency, random errors, a full outage.

Starts from the practices file's `faults` and can be changed at runtime by
tests and demonstrations (`factory.faults("A81001").outage = True`). The random
generator is seeded from the ODS code, so an error rate fails the same calls
on every run.
"""

from __future__ import annotations

import asyncio
import random
import zlib
from dataclasses import dataclass, field

from app.gp.errors import GPSystemUnavailable
from app.gp.registry import Faults


@dataclass
class SandboxFaults:
    latency_ms: int = 0
    error_rate: float = 0.0
    outage: bool = False
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
            seed=zlib.crc32(ods_code.encode()),
        )

    def set(
        self,
        *,
        latency_ms: int = 0,
        error_rate: float = 0.0,
        outage: bool = False,
        seed: int | None = None,
    ) -> None:
        """Replace every fault at once (all off by default) and restart the random sequence."""
        if not 0.0 <= error_rate <= 1.0 or latency_ms < 0:
            raise ValueError("error_rate must be within [0, 1] and latency_ms not negative")
        self.latency_ms, self.error_rate, self.outage = latency_ms, error_rate, outage
        if seed is not None:
            self.seed = seed
        self._random = random.Random(self.seed)  # noqa: S311

    async def inject(self, supplier_code: str) -> None:
        """Delay and/or fail one call as configured."""
        if self.outage:
            raise GPSystemUnavailable(retry_after=30, supplier_code=supplier_code)
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        if self.error_rate and self._random.random() < self.error_rate:
            raise GPSystemUnavailable(retry_after=5, supplier_code=supplier_code)
