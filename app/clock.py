"""The one source of "now", so that tests can move time (sessions, booking windows)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Protocol
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

LONDON = ZoneInfo("Europe/London")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def today(clock: Clock) -> date:
    """Today's date in England, where GP practices keep their calendars."""
    return clock.now().astimezone(LONDON).date()


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]
