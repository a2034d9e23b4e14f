"""Every port method is a read (retried on failure) or a write (never retried).

A write that timed out may have happened: trying it again could book twice,
order twice or cancel something else. The table below names every method of
the port; a method added to the port without a row here fails the first test.
"""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, date, datetime
from typing import Any

import pytest

from app.gp.errors import GPConfigurationFault, GPSystemUnavailable
from app.gp.port import GPSystem
from app.gp.resilience import BreakerBoard, ResilientGPSystem, shows_gp_system_failing
from app.gp.types import (
    BookingRequest,
    DemographicMatch,
    GPCredentials,
    MessageKind,
    Permissions,
    PracticeMessage,
    ProxyGrant,
    RecordAccessLevel,
    RecordSection,
    RelationshipKind,
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
    "search_slots": ((NOW, NOW), {"patient_ref": "p1"}),
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
PROXY_GRANT = ProxyGrant(
    user_ref="u1",
    patient_ref="p1",
    kind=RelationshipKind.PARENT,
    permissions=Permissions(
        appointments=True, prescriptions=True, record_level=RecordAccessLevel.NONE
    ),
    starts_on=date(2026, 1, 1),
    ends_on=None,
    review_recorded=False,
    actor_ref="s1",
)
WRITES: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "book_appointment": ((BookingRequest("p1", "s1", "p1"),), {}),
    "cancel_appointment": (("p1", "a1"), {"reason_code": None, "actor_ref": "p1"}),
    "request_prescription": (("p1", ["c1"]), {"note": None, "actor_ref": "p1"}),
    "cancel_prescription_request": (("p1", "r1"), {"actor_ref": "p1"}),
    "set_nominated_pharmacy": (("p1", "FAA01"), {"actor_ref": "p1"}),
    "send_message": (("p1", MESSAGE), {}),
    "grant_historic_access": (("p1",), {"from_date": None, "actor_ref": "s1"}),
    "grant_detailed_coded_access": (("p1",), {"actor_ref": "s1"}),
    "create_proxy_relationship": ((PROXY_GRANT,), {}),
}
ATTEMPTS = 3


class Failing:
    """A GP system whose every call fails as scripted, counting the calls."""

    ods_code = "Z99999"

    def __init__(self, failure: Any) -> None:
        self.failure = failure
        self.calls: list[str] = []
        self.arguments: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            self.arguments.append((args, kwargs))
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


def bound(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """A call's arguments as the port's signature reads them, defaults filled in."""
    call = inspect.signature(getattr(GPSystem, method)).bind(None, *args, **kwargs)
    call.apply_defaults()
    return repr(dict(call.arguments, self=None))


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
    # Passed on as given: a slot search, say, still names the patient it is made for.
    assert {bound(method, *call) for call in inner.arguments} == {bound(method, args, kwargs)}


@pytest.mark.parametrize("method", sorted(READS))
async def test_a_read_the_platform_refused_as_ours_to_fix_is_not_retried(method: str) -> None:
    # The same request would be refused again: retrying only triples the error lines.
    inner = Failing(GPConfigurationFault(supplier_code="BAD_REQUEST"))
    args, kwargs = READS[method]
    with pytest.raises(GPConfigurationFault):
        await getattr(wrap(inner), method)(*args, **kwargs)
    assert inner.calls == [method]


def test_a_configuration_fault_does_not_count_towards_the_breaker() -> None:
    assert not shows_gp_system_failing(GPConfigurationFault(supplier_code="BAD_REQUEST"))
    assert shows_gp_system_failing(GPSystemUnavailable(supplier_code="HTTP 503"))
