"""The sandbox database: its engine, and a bootstrap that runs once per day."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sandbox.seed import PracticeSeed, bootstrap
from app.clock import Clock, today

logger = logging.getLogger(__name__)


class SandboxDatabase:
    """Seeds on first use and tops up when the date changes, so a long-running
    server keeps eight weeks of slots ahead."""

    def __init__(self, engine: AsyncEngine, clock: Clock, practices: Sequence[PracticeSeed]):
        self.engine = engine
        self.practices = list(practices)
        self._clock = clock
        self._ready_on: date | None = None
        self._lock = asyncio.Lock()

    async def ensure_ready(self) -> None:
        day = today(self._clock)
        if self._ready_on == day:
            return
        async with self._lock:
            if self._ready_on == day:
                return
            outcome = await bootstrap(self.engine, day, self.practices)
            logger.info("sandbox bootstrap", extra={"outcome": outcome})
            self._ready_on = day
