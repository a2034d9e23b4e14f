"""Timeouts, read-only retries and the per-practice circuit breaker."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine

from app.gp.errors import (
    GPForbidden,
    GPSystemUnavailable,
    NotFoundInGPSystem,
    PatientNotFound,
    SlotUnavailable,
)
from app.gp.registry import (
    GPSystemRegistry,
    PracticesFileInvalid,
    load_practices,
)
from app.gp.resilience import BreakerBoard, ResilientGPSystem, shows_gp_system_failing
from app.gp.types import BookingReasonPolicy, BookingRequest, PracticeSettings

ODS = "Z99999"


class ScriptedGPSystem:
    """A GP system whose calls fail, hang or succeed as each test scripts them."""

    ods_code = ODS

    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[str] = []

    async def _next(self, name: str) -> Any:
        self.calls.append(name)
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if outcome == "hang":
            await asyncio.sleep(10)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def get_practice_settings(self) -> Any:
        return await self._next("get_practice_settings")

    async def book_appointment(self, request: BookingRequest) -> Any:
        return await self._next("book_appointment")


BOOKING = BookingRequest(patient_ref="p1", slot_id="s1", actor_ref="p1")


def wrap(inner: ScriptedGPSystem, board: BreakerBoard | None = None, **kwargs: Any) -> Any:
    board = board or BreakerBoard(default_threshold=3, default_cooldown=30)
    values = {"timeout": 0.05, "read_attempts": 3, "retry_wait": 0.0, **kwargs}
    return ResilientGPSystem(inner, breakers=board, **values)  # type: ignore[arg-type]


async def test_reads_are_retried_until_they_succeed() -> None:
    inner = ScriptedGPSystem(GPSystemUnavailable(), GPSystemUnavailable(), "settings")
    assert await wrap(inner).get_practice_settings() == "settings"
    assert inner.calls == ["get_practice_settings"] * 3


async def test_reads_give_up_after_the_bounded_attempts() -> None:
    inner = ScriptedGPSystem(*[GPSystemUnavailable()] * 5)
    with pytest.raises(GPSystemUnavailable):
        await wrap(inner).get_practice_settings()
    assert len(inner.calls) == 3


async def test_a_read_that_hangs_times_out_as_unavailable() -> None:
    inner = ScriptedGPSystem("hang", "hang", "hang")
    with pytest.raises(GPSystemUnavailable):
        await wrap(inner, read_attempts=3).get_practice_settings()
    assert len(inner.calls) == 3


@pytest.mark.parametrize("failure", ["hang", GPSystemUnavailable()])
async def test_a_booking_is_never_retried(failure: Any) -> None:
    inner = ScriptedGPSystem(failure, "booked")
    with pytest.raises(GPSystemUnavailable):
        await wrap(inner).book_appointment(BOOKING)
    assert inner.calls == ["book_appointment"]


async def test_refusals_pass_through_and_do_not_open_the_breaker() -> None:
    board = BreakerBoard(default_threshold=2, default_cooldown=30)
    inner = ScriptedGPSystem(*[SlotUnavailable()] * 5)
    system = wrap(inner, board)
    for _ in range(5):
        with pytest.raises(SlotUnavailable):
            await system.book_appointment(BOOKING)
    assert await board.state(ODS) == "closed"
    assert len(inner.calls) == 5


@pytest.mark.parametrize(
    "refusal",
    [
        NotFoundInGPSystem(),
        GPForbidden(),
        # Errors of our own making say nothing about the GP system either: a value it
        # could not even be sent, a bug, a request its client gave up on.
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
        ValueError("A string literal cannot contain NUL (0x00) characters."),
        KeyError("slot"),
        asyncio.CancelledError(),
    ],
    ids=lambda error: type(error).__name__,
)
async def test_only_failures_of_the_gp_system_count_towards_opening_the_breaker(
    refusal: BaseException,
) -> None:
    board = BreakerBoard(default_threshold=2, default_cooldown=30)
    inner = ScriptedGPSystem(*[refusal] * 6)
    system = wrap(inner, board)
    for _ in range(6):
        with pytest.raises(type(refusal)):
            await system.book_appointment(BOOKING)
    assert await board.state(ODS) == "closed"
    assert len(inner.calls) == 6


@pytest.mark.parametrize(
    "failure",
    [GPSystemUnavailable(), ConnectionRefusedError(), TimeoutError()],
    ids=lambda error: type(error).__name__,
)
async def test_time_outs_connection_errors_and_outages_open_the_breaker(
    failure: BaseException,
) -> None:
    assert shows_gp_system_failing(failure)
    board = BreakerBoard(default_threshold=2, default_cooldown=30)
    inner = ScriptedGPSystem(failure, failure)
    system = wrap(inner, board)
    for _ in range(2):
        with pytest.raises((type(failure), GPSystemUnavailable)):
            await system.book_appointment(BOOKING)
    assert await board.state(ODS) == "opened"


async def test_breaker_opens_fails_fast_then_half_opens_after_the_cooldown() -> None:
    board = BreakerBoard(default_threshold=3, default_cooldown=30)
    inner = ScriptedGPSystem(*[GPSystemUnavailable()] * 3)
    system = wrap(inner, board)
    with time_machine.travel(datetime(2026, 1, 5, 9, 0), tick=False) as traveller:
        for _ in range(3):
            with pytest.raises(GPSystemUnavailable):
                await system.book_appointment(BOOKING)
        assert await board.state(ODS) == "opened"

        # Open: the GP system is not called at all, and callers are told when to retry.
        traveller.shift(timedelta(seconds=10))
        with pytest.raises(GPSystemUnavailable) as caught:
            await system.book_appointment(BOOKING)
        assert len(inner.calls) == 3
        assert 1 <= caught.value.retry_after <= 20

        # After the cool-down one trial call goes through; success closes the breaker.
        traveller.shift(timedelta(seconds=21))
        assert await system.get_practice_settings() == "ok"
        assert await board.state(ODS) == "closed"


async def test_a_failed_trial_call_reopens_the_breaker() -> None:
    board = BreakerBoard(default_threshold=1, default_cooldown=30)
    inner = ScriptedGPSystem(GPSystemUnavailable(), GPSystemUnavailable())
    system = wrap(inner, board)
    with time_machine.travel(datetime(2026, 1, 5, 9, 0), tick=False) as traveller:
        with pytest.raises(GPSystemUnavailable):
            await system.book_appointment(BOOKING)
        traveller.shift(timedelta(seconds=31))
        with pytest.raises(GPSystemUnavailable):
            await system.book_appointment(BOOKING)
        assert await board.state(ODS) == "opened"
        assert len(inner.calls) == 2


def _practices(tmp_path: Path, practices: list[dict[str, Any]]) -> Path:
    path = tmp_path / "practices.json"
    path.write_text(json.dumps({"practices": practices}))
    return path


def test_practices_file_is_validated(tmp_path: Path) -> None:
    entry = {"ods_code": "A1", "name": "x", "adapter": "sandbox"}
    with pytest.raises(PracticesFileInvalid, match="twice"):
        load_practices(_practices(tmp_path, [{**entry, "ods_code": "A12"}] * 2))
    with pytest.raises(PracticesFileInvalid):
        load_practices(_practices(tmp_path, [{**entry, "adapter": "fax"}]))
    with pytest.raises(PracticesFileInvalid):
        load_practices(_practices(tmp_path, [{**entry, "ods_code": "a1; drop"}]))
    with pytest.raises(PracticesFileInvalid):
        load_practices(tmp_path / "missing.json")


def test_default_practices_file_has_one_practice_per_supplier_profile() -> None:
    from app.config import DEFAULT_PRACTICES_FILE

    practices = load_practices(DEFAULT_PRACTICES_FILE)
    sandbox = [p for p in practices if p.adapter == "sandbox"]
    assert sorted(p.profile or "" for p in sandbox) == ["emis", "tpp", "vision"]
    assert [p.ods_code for p in practices if p.adapter == "gpconnect"] == ["D84004"]


async def test_registry_refuses_unknown_practices_and_applies_policy(tmp_path: Path) -> None:
    path = _practices(
        tmp_path,
        [
            {
                "ods_code": ODS,
                "name": "Test",
                "adapter": "sandbox",
                "policy": {"max_future_appointments": 1, "booking_window_days": 7},
            }
        ],
    )
    reported = PracticeSettings(
        ods_code=ODS,
        name="Test",
        appointments_enabled=True,
        prescriptions_enabled=True,
        record_enabled=True,
        booking_reason=BookingReasonPolicy.OPTIONAL,
        booking_reason_max_length=100,
        max_future_appointments=4,
        booking_window=timedelta(days=28),
        default_search_window=timedelta(days=14),
        cancellation_cutoff=timedelta(0),
        has_cancellation_reasons=False,
        max_prescription_items=6,
        prescription_note_max_length=500,
        minimum_reorder_interval=timedelta(days=7),
    )
    registry = GPSystemRegistry(
        load_practices(path),
        {"sandbox": lambda _config: ScriptedGPSystem(reported)},  # type: ignore[arg-type,return-value]
        BreakerBoard(),
    )
    with pytest.raises(PatientNotFound):
        registry.for_practice("Q00000")
    settings = await registry.for_practice(ODS.lower()).get_practice_settings()
    assert settings.max_future_appointments == 1
    assert settings.booking_window == timedelta(days=7)
    assert settings.booking_reason is BookingReasonPolicy.OPTIONAL
    assert await registry.circuit_states() == {ODS: "closed"}
