"""Run in a separate OS process by the concurrency test: book one slot once."""

from __future__ import annotations

import asyncio
from typing import Any

from app.adapters.sandbox.adapter import SandboxGPSystem
from app.adapters.sandbox.database import SandboxDatabase
from app.adapters.sandbox.faults import SandboxFaults
from app.adapters.sandbox.profiles import get_profile
from app.adapters.sandbox.supplier import SimulatedSupplier
from app.clock import FrozenClock
from app.db import create_engine
from app.gp.errors import SlotUnavailable
from app.gp.types import BookingRequest
from tests.frozen import SUITE_NOW


async def _book(url: str, slot_id: str, patient_ref: str, barrier: Any) -> str:
    engine = create_engine(url)
    clock = FrozenClock(SUITE_NOW)  # the test's clock, in another process
    system = SandboxGPSystem(
        SimulatedSupplier(engine, get_profile("emis"), "A81001", clock),
        SandboxDatabase(engine, clock, []),
        SandboxFaults(),
    )
    try:
        await system.get_practice_settings()  # connect and bootstrap before the race
        await asyncio.to_thread(barrier.wait, 20)
        try:
            await system.book_appointment(
                BookingRequest(
                    patient_ref=patient_ref, slot_id=slot_id, actor_ref=patient_ref, reason="Race"
                )
            )
        except SlotUnavailable:
            return "taken"
        return "booked"
    finally:
        await engine.dispose()


def book_once(url: str, slot_id: str, patient_ref: str, barrier: Any, results: Any) -> None:
    try:
        results.put(asyncio.run(_book(url, slot_id, patient_ref, barrier)))
    except Exception as exc:  # reported to the test, which fails on anything unexpected
        results.put(f"error: {type(exc).__name__}: {exc}")
