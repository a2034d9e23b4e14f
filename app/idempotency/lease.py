"""Leases: how long a request's claim on a key, or its lock on a patient's action, lasts.

A worker that dies mid-request (killed, out of memory, its pod evicted) never releases
what it holds. So each claim and lock carries an expiry: past it, its holder is
presumed dead, and the next request may take over. The lease must be longer than any
live request can take (the wait for a patient's lock, then GP calls with their
deadlines and read retries), or two requests could act at once;
`IDEMPOTENCY_LEASE_SECONDS` sets it.

Leases count real seconds, whatever the service's clock says: they tell whether a
process is still there, and a clock stopped at one instant (`FROZEN_NOW`) would keep a
dead holder's lease for ever.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from app.config import Settings


@cache
def lease_length() -> timedelta:
    # Read once per process: the routes holding leases are handed no settings, and every
    # worker of a deployment reads the same environment.
    return timedelta(seconds=Settings().idempotency_lease_seconds)


def wall_now() -> datetime:
    """The real time, for leases only."""
    return datetime.now(UTC)
