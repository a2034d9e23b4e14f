"""Which adapter serves which practice: read from `PRACTICES_FILE`.

Adapters are plug-ins: `main.py` hands the registry one factory per adapter
kind (`sandbox`, `gpconnect`), and the practices file picks one for each ODS
code. Every adapter is wrapped in the same resilience layer.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.clock import Clock
from app.gp.calls import GPCallCounter
from app.gp.errors import PatientNotFound
from app.gp.port import GPSystem
from app.gp.resilience import BreakerBoard, ResilientGPSystem
from app.gp.types import BookingReasonPolicy, CancellationReason, PracticeSettings

ODS_CODE_PATTERN = r"^[A-Z0-9]{3,10}$"

T = TypeVar("T")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Timeouts(_Strict):
    connect: float = Field(default=2.0, gt=0, description="Seconds to open a connection.")
    read: float = Field(default=8.0, gt=0, description="Seconds for any one call to finish.")


class Resilience(_Strict):
    read_attempts: int = Field(default=3, ge=1, le=5, description="Tries for idempotent reads.")
    failure_threshold: int = Field(default=5, ge=1, description="Failures that open the breaker.")
    cooldown_seconds: int = Field(default=30, ge=1, description="Open time before a trial call.")
    retry_wait_seconds: float = Field(default=0.1, ge=0, description="First wait between reads.")


class PolicyOverrides(_Strict):
    """Practice policy that the service enforces in place of what the GP system reports."""

    booking_reason: BookingReasonPolicy | None = None
    booking_reason_max_length: int | None = Field(default=None, ge=1)
    max_future_appointments: int | None = Field(default=None, ge=0)
    booking_window_days: int | None = Field(default=None, ge=1)
    default_search_days: int | None = Field(default=None, ge=1)
    cancellation_cutoff_minutes: int | None = Field(default=None, ge=0)
    max_prescription_items: int | None = Field(default=None, ge=1)
    prescription_note_max_length: int | None = Field(default=None, ge=0)
    prescription_note_required: bool | None = None

    def apply(self, settings: PracticeSettings) -> PracticeSettings:
        changes: dict[str, Any] = {}
        for name in (
            "booking_reason",
            "booking_reason_max_length",
            "max_future_appointments",
            "max_prescription_items",
            "prescription_note_max_length",
            "prescription_note_required",
        ):
            value = getattr(self, name)
            if value is not None:
                changes[name] = value
        if self.booking_window_days is not None:
            changes["booking_window"] = timedelta(days=self.booking_window_days)
        if self.default_search_days is not None:
            changes["default_search_window"] = timedelta(days=self.default_search_days)
        if self.cancellation_cutoff_minutes is not None:
            changes["cancellation_cutoff"] = timedelta(minutes=self.cancellation_cutoff_minutes)
        return dataclasses.replace(settings, **changes) if changes else settings


class Faults(_Strict):
    """Simulated trouble (sandbox adapter only): for tests and demonstrations."""

    latency_ms: int = Field(default=0, ge=0)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    outage: bool = Field(default=False, description="Every call is answered 'unavailable'.")
    hang: bool = Field(default=False, description="Every call waits past any deadline.")
    garbage: bool = Field(
        default=False, description="Every call is answered with what the adapter cannot read."
    )


Service = Literal["appointments", "prescriptions", "record"]


class Endpoints(_Strict):
    """One endpoint per service: they are different services in GP Connect and in
    supplier APIs (each with its own base URL and, for GP Connect, its own JWT audience)."""

    appointments: str | None = Field(
        default=None, description="Appointments (and patient look-ups)."
    )
    prescriptions: str | None = Field(default=None, description="Repeat prescriptions.")
    record: str | None = Field(default=None, description="The GP record.")
    permissions: str | None = Field(
        default=None,
        description=(
            "GP Connect only: the User Permissions API (the patient's record and "
            "prescriptions access). Derived from `record` when omitted."
        ),
    )


class PracticeConfig(_Strict):
    ods_code: str = Field(pattern=ODS_CODE_PATTERN)
    name: str
    adapter: Literal["sandbox", "gpconnect"]
    profile: str | None = Field(
        default=None, description="Supplier behaviour for the sandbox: emis, tpp or vision."
    )
    base_url: str | None = Field(
        default=None, description="The GP system's endpoint, for any service `endpoints` omits."
    )
    endpoints: Endpoints = Endpoints()
    timeouts: Timeouts = Timeouts()
    resilience: Resilience = Resilience()
    policy: PolicyOverrides = PolicyOverrides()
    faults: Faults = Faults()

    def endpoint(self, service: Service) -> str | None:
        """The base URL of one service: its own endpoint, else `base_url`."""
        return getattr(self.endpoints, service) or self.base_url


class PracticesFile(_Strict):
    practices: list[PracticeConfig]


class PracticesFileInvalid(ValueError):
    pass


def load_practices(path: Path) -> list[PracticeConfig]:
    try:
        parsed = PracticesFile.model_validate(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise PracticesFileInvalid(f"PRACTICES_FILE {path} is not valid: {exc}") from exc
    codes = [practice.ods_code for practice in parsed.practices]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise PracticesFileInvalid(f"PRACTICES_FILE lists {', '.join(duplicates)} twice")
    return parsed.practices


AdapterFactory = Callable[[PracticeConfig], GPSystem]


class PolicyAwareGPSystem(ResilientGPSystem):
    """Applies the practices file's policy overrides to what the GP system reports.

    What is the same for every patient of the practice (its settings, its
    cancellation reasons) is kept for `practice_lifetime` in this worker: a copy
    is as good as a fresh answer until the practice changes its policy.
    """

    def __init__(
        self,
        inner: GPSystem,
        config: PracticeConfig,
        breakers: BreakerBoard,
        calls: GPCallCounter | None = None,
        *,
        clock: Clock | None = None,
        practice_lifetime: timedelta = timedelta(0),
    ) -> None:
        super().__init__(
            inner,
            breakers=breakers,
            timeout=config.timeouts.read,
            read_attempts=config.resilience.read_attempts,
            retry_wait=config.resilience.retry_wait_seconds,
            calls=calls,
        )
        self._policy = config.policy
        self._clock = clock
        self._lifetime = practice_lifetime
        self._kept: dict[str, tuple[datetime, Any]] = {}

    async def _practice_fact(self, name: str, fetch: Callable[[], Awaitable[T]]) -> T:
        now = self._clock.now() if self._clock is not None else None
        kept = self._kept.get(name)
        if now is not None and kept is not None and kept[0] <= now < kept[0] + self._lifetime:
            value: T = kept[1]
            return value
        value = await fetch()
        if now is not None:
            self._kept[name] = (now, value)
        return value

    async def get_practice_settings(self) -> PracticeSettings:
        fetch = super().get_practice_settings
        return await self._practice_fact("settings", lambda: self._apply_policy(fetch))

    async def _apply_policy(
        self, fetch: Callable[[], Awaitable[PracticeSettings]]
    ) -> PracticeSettings:
        return self._policy.apply(await fetch())

    async def list_cancellation_reasons(self) -> list[CancellationReason]:
        return await self._practice_fact("cancellation_reasons", super().list_cancellation_reasons)


class GPSystemRegistry:
    """ODS code → the practice's GP system, with resilience and policy applied."""

    def __init__(
        self,
        practices: list[PracticeConfig],
        factories: Mapping[str, AdapterFactory],
        breakers: BreakerBoard,
        *,
        clock: Clock | None = None,
        practice_lifetime: timedelta = timedelta(0),
    ) -> None:
        self.practices = {practice.ods_code: practice for practice in practices}
        self.breakers = breakers
        self.calls = GPCallCounter()  # every call to every practice's GP system
        for practice in practices:
            breakers.configure(
                practice.ods_code,
                threshold=practice.resilience.failure_threshold,
                cooldown=practice.resilience.cooldown_seconds,
            )
        self._systems: dict[str, GPSystem] = {}
        for practice in practices:
            factory = factories.get(practice.adapter)
            if factory is None:
                raise PracticesFileInvalid(f"no adapter of kind {practice.adapter!r} is available")
            self._systems[practice.ods_code] = PolicyAwareGPSystem(
                factory(practice),
                practice,
                breakers,
                self.calls,
                clock=clock,
                practice_lifetime=practice_lifetime,
            )

    def for_practice(self, ods_code: str) -> GPSystem:
        """The practice's GP system. Raises `PatientNotFound` for a practice we do not serve."""
        system = self._systems.get(ods_code.upper())
        if system is None:
            raise PatientNotFound(
                "Your GP practice does not offer online services through this app yet."
            )
        return system

    async def circuit_states(self) -> dict[str, str]:
        return {ods: await self.breakers.state(ods) for ods in self.practices}
