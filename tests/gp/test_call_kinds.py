"""Every port method is a read (retried on failure) or a write (never retried).

A write that timed out may have happened: trying it again could book twice,
order twice or cancel something else. The table below names every method of
the port; a method added to the port without a row here fails the first test.
"""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime
from typing import Any

import pytest

from app.gp.errors import GPSystemUnavailable
from app.gp.port import GPSystem
from app.gp.resilience import BreakerBoard, ResilientGPSystem
from app.gp.types import (
    BookingRequest,
    DemographicMatch,
    GPCredentials,
    MessageKind,
    PracticeMessage,
    RecordSection,
)

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
MESSAGE = PracticeMessage(MessageKind.RECORD_CORRECTION, "subject", "body", actor_ref="p1")

# method → (args, kwargs)
READS: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "link_by_credentials": ((GPCredentials("u", "k", "Z99999"),), {}),
    "link_by_demographics": (
        (DemographicMatch("9000000009", "Z99999", "Smith", NOW.date()),),
        {},
    ),
    "get_patient": (("p1",), {}),
    "list_relationships": (("p1",), {}),
    "get_practice_settings": ((), {}),
    "search_slots": ((NOW, NOW), {}),
    "list_appointments": (("p1",), {}),
    "list_cancellation_reasons": ((), {}),
    "list_courses": (("p1",), {}),
    "list_prescription_requests": (("p1",), {}),
    "get_nominated_pharmacy": (("p1",), {}),
    "get_record_access": (("p1",), {}),
    "list_record_entries": (("p1", RecordSection.ALLERGIES), {}),
    "list_documents": (("p1",), {}),
    "get_document_content": (("p1", "d1"), {}),
}
WRITES: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "book_appointment": ((BookingRequest("p1", "s1", "p1"),), {}),
    "cancel_appointment": (("p1", "a1"), {"reason_code": None, "actor_ref": "p1"}),
    "request_prescription": (("p1", ["c1"]), {"note": None, "actor_ref": "p1"}),
    "cancel_prescription_request": (("p1", "r1"), {"actor_ref": "p1"}),
    "set_nominated_pharmacy": (("p1", "FAA01"), {"actor_ref": "p1"}),
    "send_message": (("p1", MESSAGE), {}),
}
ATTEMPTS = 3


class Failing:
    """A GP system whose every call fails as scripted, counting the calls."""

    ods_code = "Z99999"

    def __init__(self, failure: Any) -> None:
        self.failure = failure
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        async def call(*_args: Any, **_kwargs: Any) -> Any:
            self.calls.append(name)
            if self.failure == "hang":
                await asyncio.sleep(10)
            raise self.failure

        return call


def wrap(inner: Failing) -> Any:
    board = BreakerBoard(default_threshold=100, default_cooldown=30)
    return ResilientGPSystem(
        inner,  # type: ignore[arg-type]
        breakers=board,
        timeout=0.05,
        read_attempts=ATTEMPTS,
        retry_wait=0.0,
    )


def port_methods() -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(GPSystem)
        if not name.startswith("_") and inspect.iscoroutinefunction(member)
    }


def test_every_port_method_is_classified() -> None:
    assert port_methods() == set(READS) | set(WRITES)
    assert not set(READS) & set(WRITES)


@pytest.mark.parametrize("failure", ["hang", GPSystemUnavailable()], ids=["timeout", "outage"])
@pytest.mark.parametrize("method", sorted(WRITES))
async def test_a_write_is_tried_once(method: str, failure: Any) -> None:
    inner = Failing(failure)
    args, kwargs = WRITES[method]
    with pytest.raises(GPSystemUnavailable):
        await getattr(wrap(inner), method)(*args, **kwargs)
    assert inner.calls == [method]


@pytest.mark.parametrize("method", sorted(READS))
async def test_a_read_is_retried(method: str) -> None:
    inner = Failing("hang")
    args, kwargs = READS[method]
    with pytest.raises(GPSystemUnavailable):
        await getattr(wrap(inner), method)(*args, **kwargs)
    assert inner.calls == [method] * ATTEMPTS
