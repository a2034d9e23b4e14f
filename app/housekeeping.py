"""`python -m app.housekeeping`: delete what the service no longer needs. Run it daily.

- Idempotency records older than 24 hours (they hold booking reasons and phone
  numbers, and protect nothing once a client has stopped retrying).
- Sessions past their absolute end (12 hours), revoked or not.

The audit trail is never pruned here: it is append-only by design.
"""

from __future__ import annotations

import asyncio
import sys

from app.auth.service import prune_sessions
from app.clock import Clock, clock_for
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.idempotency.service import prune as prune_idempotency_records


async def housekeeping(database_url: str, clock: Clock) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        sessions = create_sessionmaker(engine)
        async with sessions() as session:
            records = await prune_idempotency_records(session, now=clock.now())
        async with sessions() as session:
            expired = await prune_sessions(session, now=clock.now())
    finally:
        await engine.dispose()
    return {"idempotency_records": records, "sessions": expired}


def main() -> None:
    settings = Settings()
    removed = asyncio.run(housekeeping(settings.database_url, clock_for(settings)))
    sys.stdout.write(
        f"Deleted {removed['idempotency_records']} idempotency records "
        f"and {removed['sessions']} expired sessions.\n"
    )


if __name__ == "__main__":
    main()
