"""A booking the GP system has made stands even when its audit row is slow to write."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from app.audit import service
from tests.appointments.conftest import Adult

ODS = "C83003"


def failing_audit(monkeypatch: pytest.MonkeyPatch, failures: int) -> list[str]:
    """Make the next `failures` audit writes fail as a locked database would."""
    real = service.record
    calls: list[str] = []

    async def flaky(*args: Any, **kwargs: Any) -> None:
        calls.append("audit")
        if len(calls) <= failures:
            raise OperationalError("INSERT INTO audit_events", {}, Exception("locked"))
        await real(*args, **kwargs)

    monkeypatch.setattr(service, "record", flaky)
    return calls


async def test_a_failed_audit_write_is_retried_and_the_booking_stands(
    adult: Adult, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient = await adult(ODS)
    calls = failing_audit(monkeypatch, failures=1)
    booked = await patient.book_ok()
    assert calls == ["audit", "audit"]
    assert booked["appointment_id"] in {a["appointment_id"] for a in await patient.appointments()}


async def test_when_the_audit_cannot_be_written_the_booking_still_answers_201_and_is_logged(
    adult: Adult, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    patient = await adult(ODS)
    failing_audit(monkeypatch, failures=service.AUDIT_ATTEMPTS)
    with caplog.at_level(logging.ERROR, logger="app.audit.service"):
        booked = await patient.book_ok()
    assert booked["status"] == "booked"
    gaps = [r.getMessage() for r in caplog.records if "audit row not written" in r.getMessage()]
    assert len(gaps) == service.AUDIT_ATTEMPTS
    assert booked["appointment_id"] in gaps[-1]
