"""`python -m app.housekeeping`: delete what the service no longer needs. Run it daily.

- Idempotency records older than 24 hours (they hold booking reasons and phone
  numbers, and protect nothing once a client has stopped retrying).
- Sessions past their absolute end (12 hours), revoked or not.
- Reports of inaccuracies in the record, `RECORD_CORRECTION_RETENTION_DAYS` (90)
  after they were made: the practice has had each since then.

The audit trail is never pruned here: it is append-only by design.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from app.auth.service import prune_sessions
from app.clock import Clock, clock_for
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.idempotency.service import prune as prune_idempotency_records
from app.records.service import prune_corrections


async def housekeeping(settings: Settings, clock: Clock) -> dict[str, int]:
    engine = create_engine(settings.database_url)
    try:
        sessions = create_sessionmaker(engine)
        async with sessions() as session:
            records = await prune_idempotency_records(session, now=clock.now())
        async with sessions() as session:
            expired = await prune_sessions(session, now=clock.now())
        async with sessions() as session:
            corrections = await prune_corrections(
                session,
                now=clock.now(),
                keep_for=timedelta(days=settings.record_correction_retention_days),
            )
    finally:
        await engine.dispose()
    return {"idempotency_records": records, "sessions": expired, "record_corrections": corrections}


def main() -> None:
    settings = Settings()
    removed = asyncio.run(housekeeping(settings, clock_for(settings)))
    sys.stdout.write(
        f"Deleted {removed['idempotency_records']} idempotency records, "
        f"{removed['sessions']} expired sessions "
        f"and {removed['record_corrections']} reports of inaccuracies.\n"
    )


if __name__ == "__main__":
    main()
