"""`python -m app.housekeeping`: delete what the service no longer needs. Run it daily.

- Idempotency records older than 24 hours (they hold booking reasons and phone
  numbers, and protect nothing once a client has stopped retrying).
- Sessions past their absolute end (12 hours), revoked or not; the NHS login tokens
  of sessions that ended sooner (signed out, or 30 minutes idle). Practice staff
  sessions (NHS CIS2) the same way: deleted past their absolute end (12 hours).
- Reports of inaccuracies in the record, `RECORD_CORRECTION_RETENTION_DAYS` (90)
  after they were made: the practice has had each since then.
- Applications for access, with their events, `ACCESS_REQUEST_RETENTION_DAYS` (180)
  after they closed (applied, rejected or withdrawn).

The audit trail is never pruned here: it is append-only by design.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from app.access_requests.service import prune_closed as prune_access_requests
from app.auth.service import SessionPolicy, prune_sessions
from app.clock import Clock, clock_for
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.idempotency.service import prune as prune_idempotency_records
from app.records.service import prune_corrections
from app.staff.service import prune_sessions as prune_staff_sessions


async def housekeeping(settings: Settings, clock: Clock) -> dict[str, int]:
    engine = create_engine(settings.database_url)
    try:
        sessions = create_sessionmaker(engine)
        async with sessions() as session:
            records = await prune_idempotency_records(session, now=clock.now())
        async with sessions() as session:
            expired = await prune_sessions(
                session, now=clock.now(), idle=SessionPolicy.from_settings(settings).idle
            )
        async with sessions() as session:
            staff_expired = await prune_staff_sessions(session, now=clock.now())
        async with sessions() as session:
            corrections = await prune_corrections(
                session,
                now=clock.now(),
                keep_for=timedelta(days=settings.record_correction_retention_days),
            )
        async with sessions() as session:
            applications = await prune_access_requests(
                session,
                now=clock.now(),
                keep_for=timedelta(days=settings.access_request_retention_days),
            )
    finally:
        await engine.dispose()
    return {
        "idempotency_records": records,
        "sessions": expired,
        "staff_sessions": staff_expired,
        "record_corrections": corrections,
        "access_requests": applications,
    }


def main() -> None:
    settings = Settings()
    removed = asyncio.run(housekeeping(settings, clock_for(settings)))
    sys.stdout.write(
        f"Deleted {removed['idempotency_records']} idempotency records, "
        f"{removed['sessions']} expired sessions, "
        f"{removed['staff_sessions']} expired staff sessions, "
        f"{removed['record_corrections']} reports of inaccuracies "
        f"and {removed['access_requests']} closed applications for access.\n"
    )


if __name__ == "__main__":
    main()
