"""The one source of "now", so that tests can move time (sessions, booking windows)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Protocol
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

from app.config import AppEnv, Settings, UnsafeSettings

LONDON = ZoneInfo("Europe/London")


def on_englands_clock(now: datetime, ahead: timedelta) -> datetime:
    """`ahead` later by England's wall clock (in UTC): 28 days from 10:00 is 10:00 on the
    28th day, even across the clocks changing, as a practice counts its booking window."""
    return (now.astimezone(LONDON) + ahead).astimezone(UTC)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that stands still at one instant (`FROZEN_NOW`)."""

    def __init__(self, now: datetime) -> None:
        self._now = now.astimezone(UTC)

    def now(self) -> datetime:
        return self._now


def clock_for(settings: Settings) -> Clock:
    """The real clock; outside prod, `FROZEN_NOW` stops it at that instant, so that tests
    running the service in a process of their own share the suite's date."""
    if settings.frozen_now is None:
        return SystemClock()
    if settings.app_env is AppEnv.PROD:
        raise UnsafeSettings("Refusing to start with APP_ENV=prod: FROZEN_NOW is set.")
    return FrozenClock(settings.frozen_now)


def today(clock: Clock) -> date:
    """Today's date in England, where GP practices keep their calendars."""
    return clock.now().astimezone(LONDON).date()


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]
