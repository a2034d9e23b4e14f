"""Switch a sandbox practice's online services on or off while the service runs.

A practice changes what it offers online in its GP system, not in this service: this
plays that part for demos and tests (`python -m app.adapters.sandbox practice …`).
Each worker sees the change once its copy of the practice's settings expires
(`PRACTICE_SETTINGS_SECONDS`).
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sandbox import tables

SERVICES = ("appointments", "prescriptions", "record")


class UnknownPractice(LookupError):
    """No sandbox practice has this ODS code."""


async def switch_services(engine: AsyncEngine, ods_code: str, switches: dict[str, bool]) -> None:
    """Set each named service (`SERVICES`) of the practice on (True) or off (False)."""
    unknown = set(switches) - set(SERVICES)
    if unknown:
        raise ValueError(f"not a service: {', '.join(sorted(unknown))}")
    values = {f"{service}_enabled": on for service, on in switches.items()}
    async with engine.begin() as connection:
        changed = await connection.execute(
            update(tables.practices)
            .where(tables.practices.c.ods_code == ods_code.strip().upper())
            .values(**values)
        )
        if changed.rowcount != 1:
            raise UnknownPractice(ods_code)
