"""The adapter on the wire: requests it sends and responses it maps, with respx."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from app.adapters.gpconnect import GPConnectAdapter, create_gpconnect_factory
from app.adapters.gpconnect import interactions as wire
from app.adapters.gpconnect.fhir import SlotKey
from app.adapters.gpconnect.permissions import permissions_base_url
from app.clock import today
from app.config import Settings
from app.gp.errors import (
    GPSystemUnavailable,
    LinkageFailed,
    NotAvailableAtPractice,
    NotCancellable,
    NotFoundInGPSystem,
    PatientNotFound,
    SlotUnavailable,
)
from app.gp.port import GPSystem
from app.gp.registry import PracticesFileInvalid
from app.gp.types import (
    AppointmentStatus,
    AppointmentType,
    BookingRequest,
    Capability,
    DemographicMatch,
    GPCredentials,
    MessageKind,
    PracticeMessage,
    RecordSection,
    RelationshipKind,
)
from app.standin.specification import API
from tests.adapters.gpconnect.conftest import (
    BASE_URL,
    PERMISSIONS_URL,
    PFS_URL,
    RECORD_URL,
    gpconnect_settings,
    practice_config,
)
from tests.adapters.gpconnect.fake_server import (
    NHS_NUMBER,
    PAYLOADS,
    FakeGPConnect,
    load,
    outcome,
)
from tests.conftest import FakeClock

P = NHS_NUMBER  # a GP Connect patient_ref is the NHS number
OTHER = "9000000017"  # another patient's (valid) NHS number


def booked_payload() -> dict[str, Any]:
    """The booked appointment payload, its patient named by NHS number (patient-facing)."""
    text = (PAYLOADS / "appointment_booked.json").read_text()
    loaded: dict[str, Any] = json.loads(text.replace('"Patient/2"', f'"Patient/{P}"'))
    return loaded


async def search(adapter: GPConnectAdapter, *args: Any, **kwargs: Any) -> list[Any]:
    """A slot search made for the patient (the Appointments API takes their token)."""
    return await adapter.search_slots(*args, patient_ref=P, **kwargs)


def future_slot_id() -> str:
    return SlotKey(
        "1584",
        datetime(2030, 6, 3, 10, 30, tzinfo=UTC),
        datetime(2030, 6, 3, 10, 44, 59, tzinfo=UTC),
        "17",
        "2",
    ).encode()


def test_adapter_satisfies_the_port(adapter: GPConnectAdapter) -> None:
    assert isinstance(adapter, GPSystem)
    assert adapter.ods_code == "A81001"


async def test_slot_search_request_and_mapping(
    adapter: GPConnectAdapter, router: respx.MockRouter, gp_clock: FakeClock
) -> None:
    route = router.get(f"{BASE_URL}/Slot").mock(
        return_value=httpx.Response(200, json=load("slot_search_bundle.json"))
    )
    start = datetime(2030, 6, 3, 7, 0, tzinfo=UTC)

    slots = await search(adapter, start, start + timedelta(days=1))

    request = route.calls.last.request
    params = request.url.params
    assert params["status"] == "free"
    assert params["start"] == "ge2030-06-03T08:00:00+01:00"
    assert params["end"] == "le2030-06-04T08:00:00+01:00"
    assert params.get_list("_include") == ["Slot:schedule"]
    assert params.get_list("_include:recurse") == [
        "Schedule:actor:Practitioner",
        "Schedule:actor:Location",
    ]
    # The document allows only a placeholder ODS code there: no booking organisation.
    assert "searchFilter" not in params
    assert request.headers["Authorization"] == "Bearer sandbox"
    assert [s.clinician.name for s in slots] == [
        "Amara Okafor",
        "Dr Nichole Gilbert",
        "Dr Nichole Gilbert",
    ]
    assert [s.type for s in slots] == [
        AppointmentType.TELEPHONE,
        AppointmentType.IN_PERSON,
        AppointmentType.VIDEO,
    ]


async def test_slot_search_filters_by_type_and_clinician(
    adapter: GPConnectAdapter, router: respx.MockRouter
) -> None:
    router.get(f"{BASE_URL}/Slot").mock(
        return_value=httpx.Response(200, json=load("slot_search_bundle.json"))
    )
    start = datetime(2030, 6, 3, tzinfo=UTC)

    video = await search(
        adapter, start, start + timedelta(days=1), appointment_type=AppointmentType.VIDEO
    )
    okafor = await search(adapter, start, start + timedelta(days=1), clinician="okafor")

    assert [s.type for s in video] == [AppointmentType.VIDEO]
    assert [s.clinician.name for s in okafor] == ["Amara Okafor"]


async def test_long_slot_searches_are_split_into_two_week_requests(
    adapter: GPConnectAdapter, router: respx.MockRouter, gp_clock: FakeClock
) -> None:
    route = router.get(f"{BASE_URL}/Slot").mock(
        return_value=httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset"})
    )

    await search(adapter, gp_clock.now(), gp_clock.now() + timedelta(days=30))

    assert route.call_count == 3


async def test_a_slot_across_a_two_week_boundary_is_not_lost(
    adapter: GPConnectAdapter, router: respx.MockRouter, gp_clock: FakeClock
) -> None:
    boundary = gp_clock.now() + timedelta(days=14)
    payload = load("slot_search_bundle.json")
    payload["entry"] = [
        e for e in payload["entry"] if e["fullUrl"] not in ("Slot/1585", "Slot/1586")
    ]
    slot = next(e["resource"] for e in payload["entry"] if e["fullUrl"] == "Slot/1584")
    slot["start"] = (boundary - timedelta(minutes=5)).isoformat()
    slot["end"] = (boundary + timedelta(minutes=10)).isoformat()

    def provider(request: httpx.Request) -> httpx.Response:
        # Like a provider: only slots that start and end inside the searched range.
        params = request.url.params
        low = datetime.fromisoformat(params["start"].removeprefix("ge"))
        high = datetime.fromisoformat(params["end"].removeprefix("le"))
        inside = low <= datetime.fromisoformat(slot["start"]) and (
            datetime.fromisoformat(slot["end"]) <= high
        )
        entries = [e for e in payload["entry"] if inside or e["fullUrl"] != "Slot/1584"]
        return httpx.Response(200, json={**payload, "entry": entries})

    router.get(f"{BASE_URL}/Slot").mock(side_effect=provider)

    slots = await search(adapter, gp_clock.now(), gp_clock.now() + timedelta(days=20))

    assert [s.start for s in slots] == [boundary - timedelta(minutes=5)]


async def test_past_part_of_a_search_is_not_requested(
    adapter: GPConnectAdapter, router: respx.MockRouter, gp_clock: FakeClock
) -> None:
    route = router.get(f"{BASE_URL}/Slot").mock(
        return_value=httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset"})
    )

    await search(adapter, gp_clock.now() - timedelta(days=3), gp_clock.now() + timedelta(days=1))

    requested = route.calls.last.request.url.params["start"]
    assert datetime.fromisoformat(requested[2:]) == gp_clock.now()


async def test_booking_posts_the_appointment(
    adapter: GPConnectAdapter, router: respx.MockRouter
) -> None:
    route = router.post(f"{BASE_URL}/Appointment").mock(
        return_value=httpx.Response(201, json=booked_payload())
    )
    router.get(f"{BASE_URL}/Appointment/9").mock(return_value=outcome(404, "NO_RECORD_FOUND"))

    booked = await adapter.book_appointment(
        BookingRequest(patient_ref=P, slot_id=future_slot_id(), actor_ref="77", reason="Sore knee")
    )

    request = route.calls.last.request
    assert request.headers["Content-Type"].startswith(wire.FHIR_JSON)
    assert request.headers["Authorization"] == "Bearer sandbox"
    body = json.loads(request.content)
    assert body["slot"] == [{"reference": "Slot/1584"}]
    assert body["description"] == "Sore knee"
    assert [p["actor"]["reference"] for p in body["participant"]] == [
        f"Patient/{P}",
        "Location/17",
        "Practitioner/2",
    ]
    assert body["extension"][0]["url"] == wire.BOOKING_ORGANISATION_EXT
    assert booked.appointment_id == "9"
    assert booked.status is AppointmentStatus.BOOKED
    assert booked.booked_by_ref == "77"


async def test_booking_a_taken_slot(adapter: GPConnectAdapter, router: respx.MockRouter) -> None:
    router.post(f"{BASE_URL}/Appointment").mock(
        return_value=httpx.Response(409, json=load("operation_outcome_duplicate_rejected.json"))
    )

    with pytest.raises(SlotUnavailable) as refused:
        await adapter.book_appointment(
            BookingRequest(patient_ref=P, slot_id=future_slot_id(), actor_ref=P)
        )

    assert refused.value.supplier_code == "DUPLICATE_REJECTED"
    assert "1584" not in str(refused.value)  # diagnostics never reach the message


async def test_booking_an_unknown_slot_id_sends_nothing(
    adapter: GPConnectAdapter, router: respx.MockRouter
) -> None:
    with pytest.raises(NotFoundInGPSystem):
        await adapter.book_appointment(
            BookingRequest(patient_ref=P, slot_id="garbage", actor_ref=P)
        )
    assert not router.calls


async def test_cancel_puts_the_read_version_with_a_reason(
    adapter: GPConnectAdapter, router: respx.MockRouter
) -> None:
    current = booked_payload()
    router.get(f"{BASE_URL}/Appointment/9").mock(return_value=httpx.Response(200, json=current))
    cancelled = {**current, "status": "cancelled", "meta": {**current["meta"], "versionId": "2"}}
    put = router.put(f"{BASE_URL}/Appointment/9").mock(
        return_value=httpx.Response(200, json=cancelled)
    )

    result = await adapter.cancel_appointment(P, "9", reason_code=None, actor_ref=P)

    request = put.calls.last.request
    assert "If-Match" not in request.headers  # the version is the body's meta.versionId
    body = json.loads(request.content)
    assert body["status"] == "cancelled"
    assert {
        "url": wire.CANCELLATION_REASON_EXT,
        "valueString": "Cancelled online by the patient",
    } in body["extension"]
    assert body["id"] == "9" and body["slot"] == current["slot"]
    assert result.status is AppointmentStatus.CANCELLED
    assert result.version == "2"


@pytest.mark.parametrize("status", [409, 412])
async def test_cancel_version_conflict(
    adapter: GPConnectAdapter, router: respx.MockRouter, status: int
) -> None:
    router.get(f"{BASE_URL}/Appointment/9").mock(
        return_value=httpx.Response(200, json=booked_payload())
    )
    router.put(f"{BASE_URL}/Appointment/9").mock(return_value=httpx.Response(status))

    with pytest.raises(NotCancellable):
        await adapter.cancel_appointment(P, "9", reason_code=None, actor_ref=P)


async def test_cancel_another_patients_appointment_is_not_found(
    adapter: GPConnectAdapter, router: respx.MockRouter
) -> None:
    router.get(f"{BASE_URL}/Appointment/9").mock(
        return_value=httpx.Response(200, json=booked_payload())
    )

    with pytest.raises(NotFoundInGPSystem):
        await adapter.cancel_appointment(OTHER, "9", reason_code=None, actor_ref=OTHER)
    assert [c.request.method for c in router.calls] == ["GET"]


async def test_cancel_past_or_cancelled_appointments_is_refused_before_sending(
    adapter: GPConnectAdapter, router: respx.MockRouter
) -> None:
    past = booked_payload() | {"start": "2020-01-01T09:00:00+00:00"}
    gone = booked_payload() | {"status": "cancelled"}
    router.get(f"{BASE_URL}/Appointment/1").mock(return_value=httpx.Response(200, json=past))
    router.get(f"{BASE_URL}/Appointment/2").mock(return_value=httpx.Response(200, json=gone))

    for ident in ("1", "2"):
        with pytest.raises(NotCancellable):
            await adapter.cancel_appointment(P, ident, reason_code=None, actor_ref=P)
    assert {c.request.method for c in router.calls} == {"GET"}


def patient_appointments() -> dict[str, Any]:
    """The payload's appointments, their patient named by NHS number, with the
    Practitioners and Locations the search's `_include:recurse` brings."""
    text = (PAYLOADS / "patient_appointments_bundle.json").read_text()
    found: dict[str, Any] = json.loads(text.replace('"Patient/2"', f'"Patient/{P}"'))
    supporting = {e["fullUrl"]: e for e in load("slot_search_bundle.json")["entry"]}
    found["entry"] += [supporting["Practitioner/2"], supporting["Location/17"]]
    return found


async def test_list_appointments_includes_practitioners_and_locations(
    adapter: GPConnectAdapter, router: respx.MockRouter, gp_clock: FakeClock
) -> None:
    search = router.get(f"{BASE_URL}/Patient/{P}/Appointment").mock(
        return_value=httpx.Response(200, json=patient_appointments())
    )

    appointments = await adapter.list_appointments(P)

    request = search.calls.last.request
    starts = request.url.params.get_list("start")
    assert starts[0] == f"ge{today(gp_clock)}"  # the practice's date, not UTC's
    assert starts[1].startswith("le") and "T" not in starts[1]
    assert request.url.params.get_list("_include:recurse") == [
        "Appointment:actor:Practitioner",
        "Appointment:actor:Location",
    ]
    assert len(router.calls) == 1  # no Practitioner or Location read: the API has none
    first, second = appointments
    assert (first.appointment_id, first.status) == ("9", AppointmentStatus.BOOKED)
    assert first.clinician.name == "Dr Nichole Gilbert"
    assert first.location == "Riverside Medical Centre"
    assert (second.appointment_id, second.status) == ("12", AppointmentStatus.CANCELLED)
    assert second.cancellation_reason == "Cancelled online by the patient"
    assert second.type is AppointmentType.TELEPHONE


async def test_another_patients_appointment_in_the_answer_is_dropped(
    adapter: GPConnectAdapter, router: respx.MockRouter
) -> None:
    answer = patient_appointments()
    answer["entry"][0]["resource"]["participant"][0]["actor"]["reference"] = f"Patient/{OTHER}"
    router.get(f"{BASE_URL}/Patient/{P}/Appointment").mock(
        return_value=httpx.Response(200, json=answer)
    )

    appointments = await adapter.list_appointments(P)

    assert [a.appointment_id for a in appointments] == ["9"]


async def test_a_patient_ref_that_is_not_an_nhs_number_sends_nothing(
    adapter: GPConnectAdapter, router: respx.MockRouter, gp_clock: FakeClock
) -> None:
    for ref in ("2", "900000000", "9000000008", "../9000000009"):
        with pytest.raises(PatientNotFound):
            await adapter.list_appointments(ref)
        with pytest.raises(PatientNotFound):
            await adapter.search_slots(
                gp_clock.now(), gp_clock.now() + timedelta(days=1), patient_ref=ref
            )
    assert not router.calls


async def test_linkage_by_demographics(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect
) -> None:
    linked = await adapter.link_by_demographics(
        DemographicMatch(NHS_NUMBER, "A81001", "wolderton-rodriguez", date(1936, 10, 2))
    )

    assert (linked.user_ref, linked.nhs_number) == (P, NHS_NUMBER)
    (request,) = fake_server.requests
    assert (request.method, str(request.url)) == (
        "POST",
        f"{RECORD_URL}/Patient/$gpc.getstructuredrecord",
    )
    # Only the patient's NHS number is asked for: nothing clinical.
    assert [p["name"] for p in json.loads(request.content)["parameter"]] == ["patientNHSNumber"]
    with pytest.raises(PatientNotFound):
        await adapter.link_by_demographics(
            DemographicMatch(NHS_NUMBER, "A81001", "Smith", date(1936, 10, 2))
        )
    with pytest.raises(PatientNotFound):
        await adapter.link_by_demographics(
            DemographicMatch(NHS_NUMBER, "A81001", "wolderton-rodriguez", date(1936, 10, 3))
        )


async def test_linkage_to_a_patient_the_provider_does_not_have(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect
) -> None:
    with pytest.raises(PatientNotFound):
        await adapter.link_by_demographics(
            DemographicMatch(OTHER, "A81001", "wolderton-rodriguez", date(1936, 10, 2))
        )


async def test_another_patients_resource_in_a_record_answer_is_never_the_patient(
    adapter: GPConnectAdapter, router: respx.MockRouter
) -> None:
    """The Patient is taken from the answer only where its NHS number is the one asked for."""
    other = {**load("patient.json")}
    other["identifier"] = [{"system": wire.NHS_NUMBER_SYSTEM, "value": OTHER}]
    router.post(f"{RECORD_URL}/Patient/$gpc.getstructuredrecord").mock(
        return_value=httpx.Response(
            200,
            json={"resourceType": "Bundle", "type": "collection", "entry": [{"resource": other}]},
        )
    )

    with pytest.raises(PatientNotFound):
        await adapter.get_patient(P)


async def test_linkage_by_credentials_is_not_offered(adapter: GPConnectAdapter) -> None:
    with pytest.raises(LinkageFailed):
        await adapter.link_by_credentials(GPCredentials("u", "k", "A81001"))


async def test_relationships_are_self_only_with_the_user_permissions(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect
) -> None:
    (relationship,) = await adapter.list_relationships(P)

    assert relationship.kind is RelationshipKind.SELF
    assert relationship.patient.nhs_number == NHS_NUMBER
    assert relationship.patient.patient_ref == P
    # The specification's example: current full from 2022-11-01, historical summary,
    # prescriptions manage.
    assert relationship.permissions.prescriptions
    assert relationship.permissions.record_from == date(2022, 11, 1)
    assert not relationship.permissions.record_historic
    (permissions_call,) = [r for r in fake_server.requests if r.url.path.endswith(f"/{P}")]
    assert str(permissions_call.url) == f"{PERMISSIONS_URL}/Patient/{P}"
    assert permissions_call.headers["Authorization"] == "Bearer sandbox"


async def test_unknown_patient(adapter: GPConnectAdapter, router: respx.MockRouter) -> None:
    route = router.post(f"{RECORD_URL}/Patient/$gpc.getstructuredrecord").mock(
        return_value=outcome(404, "PATIENT_NOT_FOUND")
    )

    with pytest.raises(PatientNotFound):
        await adapter.get_patient(OTHER)
    with pytest.raises(PatientNotFound):
        await adapter.get_patient("404")  # not an NHS number: nothing is sent
    assert route.call_count == 1


async def test_structured_record_section(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect
) -> None:
    entries = await adapter.list_record_entries(P, RecordSection.ALLERGIES)

    (call,) = [r for r in fake_server.requests if r.url.path.endswith("$gpc.getstructuredrecord")]
    assert call.method == "POST"
    assert [e.entry_id for e in entries] == ["al-2", "al-1"]


async def test_every_request_carries_the_required_headers(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect, gp_clock: FakeClock
) -> None:
    """The patient-facing APIs' headers on every call: the patient's bearer token, a fresh
    UUID X-Request-ID; no Spine headers, no practitioner JWT, no ASIDs."""
    fake_server.seed_document()
    slot = (await search(adapter, gp_clock.now(), gp_clock.now() + timedelta(days=3)))[0]
    booked = await adapter.book_appointment(
        BookingRequest(patient_ref=P, slot_id=slot.slot_id, actor_ref=P)
    )
    await adapter.list_appointments(P)
    await adapter.cancel_appointment(P, booked.appointment_id, reason_code=None, actor_ref=P)
    await adapter.list_courses(P)
    await adapter.request_prescription(P, ["mr-plan-1"], note=None, actor_ref=P)
    await adapter.list_record_entries(P, RecordSection.PROBLEMS)
    await adapter.list_documents(P)
    await adapter.get_record_access(P)

    requests = fake_server.requests
    assert {r.url.host for r in requests} == {"platform.test"}
    bases = (BASE_URL, RECORD_URL, PERMISSIONS_URL, PFS_URL)
    assert {next(b for b in bases if str(r.url).startswith(b + "/")) for r in requests} == set(
        bases
    )
    request_ids = set()
    for request in requests:
        assert request.headers["Authorization"] == "Bearer sandbox"
        assert request.headers["Accept"].startswith(("application/fhir+json", "application/json"))
        request_ids.add(request.headers["X-Request-ID"])
        assert request.headers["X-Correlation-ID"]
        assert not [name for name in request.headers if name.lower().startswith("ssp-")]
    assert len(request_ids) == len(requests)  # nothing was re-sent


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("slow"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("eof"),
        httpx.DecodingError("bad gzip"),
    ],
    ids=["connect-error", "connect-timeout", "read-timeout", "protocol-error", "decoding-error"],
)
async def test_transport_failures_are_unavailable(
    adapter: GPConnectAdapter, router: respx.MockRouter, failure: Exception
) -> None:
    router.post(f"{RECORD_URL}/Patient/$gpc.getstructuredrecord").mock(side_effect=failure)

    with pytest.raises(GPSystemUnavailable):
        await adapter.get_patient(P)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_unavailable_with_retry_after(
    adapter: GPConnectAdapter, router: respx.MockRouter, status: int
) -> None:
    router.post(f"{BASE_URL}/Appointment").mock(
        return_value=httpx.Response(status, headers={"Retry-After": "90"})
    )

    with pytest.raises(GPSystemUnavailable) as unavailable:
        await adapter.book_appointment(
            BookingRequest(patient_ref=P, slot_id=future_slot_id(), actor_ref=P)
        )

    assert unavailable.value.retry_after == 90


@pytest.mark.parametrize(
    "failure",
    [httpx.Response(404, json=load("operation_outcome_duplicate_rejected.json")), None],
    ids=["not-found", "connection-error"],
)
async def test_a_booking_made_stands_when_reading_display_names_fails(
    adapter: GPConnectAdapter, router: respx.MockRouter, failure: httpx.Response | None
) -> None:
    booked = booked_payload()
    for participant in booked["participant"]:
        participant["actor"].pop("display", None)
    router.post(f"{BASE_URL}/Appointment").mock(return_value=httpx.Response(201, json=booked))
    # Display names come from reading the appointment with its actors included.
    route = router.get(f"{BASE_URL}/Appointment/9")
    if failure is None:
        route.mock(side_effect=httpx.ConnectError("refused"))
    else:
        route.mock(return_value=failure)

    appointment = await adapter.book_appointment(
        BookingRequest(patient_ref=P, slot_id=future_slot_id(), actor_ref=P)
    )

    assert route.call_count == 1
    assert route.calls.last.request.url.params.get_list("_include:recurse") == [
        "Appointment:actor:Practitioner",
        "Appointment:actor:Location",
    ]
    assert appointment.appointment_id == "9"
    assert appointment.status is AppointmentStatus.BOOKED


BROKEN_APPOINTMENT = {"resourceType": "Appointment", "id": "1", "participant": []}


@pytest.mark.parametrize(
    "payload",
    [
        {"resourceType": "OperationOutcome"},
        [],
        {"resourceType": "Bundle", "entry": [{"resource": BROKEN_APPOINTMENT}]},
    ],
    ids=["wrong-resource", "not-a-resource", "appointment-without-patient"],
)
async def test_malformed_responses_are_unavailable(
    adapter: GPConnectAdapter, router: respx.MockRouter, payload: object
) -> None:
    router.get(f"{BASE_URL}/Patient/{P}/Appointment").mock(
        return_value=httpx.Response(200, json=payload)
    )

    with pytest.raises(GPSystemUnavailable) as unavailable:
        await adapter.list_appointments(P)

    assert unavailable.value.supplier_code == "MALFORMED_RESPONSE"


async def test_slots_that_cannot_be_booked_are_dropped(
    adapter: GPConnectAdapter, router: respx.MockRouter, gp_clock: FakeClock
) -> None:
    unbookable = {
        "resourceType": "Slot",
        "id": "1",
        "status": "free",
        "schedule": {"reference": "Schedule/1"},
        "start": (gp_clock.now() + timedelta(hours=1)).isoformat(),
        "end": (gp_clock.now() + timedelta(hours=2)).isoformat(),
    }
    router.get(f"{BASE_URL}/Slot").mock(
        return_value=httpx.Response(
            200, json={"resourceType": "Bundle", "entry": [{"resource": unbookable}]}
        )
    )

    assert await search(adapter, gp_clock.now(), gp_clock.now() + timedelta(days=1)) == []


async def test_timeouts_come_from_the_practice_config(
    adapter: GPConnectAdapter, router: respx.MockRouter
) -> None:
    route = router.post(f"{RECORD_URL}/Patient/$gpc.getstructuredrecord").mock(
        return_value=httpx.Response(
            200,
            json={"resourceType": "Bundle", "entry": [{"resource": load("patient.json")}]},
        )
    )

    await adapter.get_patient(P)

    timeout = route.calls.last.request.extensions["timeout"]
    assert timeout == {"connect": 0.5, "read": 1.0, "write": 1.0, "pool": 1.0}


async def test_unsupported_capabilities_refuse_plainly(adapter: GPConnectAdapter) -> None:
    message = PracticeMessage(MessageKind.RECORD_CORRECTION, "s", "b", actor_ref=P)
    calls = [
        adapter.get_nominated_pharmacy(P),
        adapter.set_nominated_pharmacy(P, "FA123", actor_ref=P),
        adapter.send_message(P, message),
        adapter.cancel_prescription_request(P, "any", actor_ref=P),
    ]
    for call in calls:
        with pytest.raises(NotAvailableAtPractice) as refused:
            await call
        assert refused.value.supplier_code == "NOT_SUPPORTED"
        assert refused.value.capability not in adapter.capabilities
        assert refused.value.detail.endswith(".")
    # What it refuses at call time it declares absent beforehand, so services ask first;
    # what the patient-facing APIs define it declares present.
    assert adapter.capabilities == frozenset(
        {Capability.RECORD_ACCESS_SETTINGS, Capability.DOCUMENTS}
    )


async def test_the_documents_section_has_no_record_entries(
    adapter: GPConnectAdapter, router: respx.MockRouter
) -> None:
    """Documents are listed by `list_documents`; as record entries there are none."""
    assert await adapter.list_record_entries(P, RecordSection.DOCUMENTS) == []
    assert not router.calls


async def test_practice_settings_are_defaults_from_the_practice(adapter: GPConnectAdapter) -> None:
    settings = await adapter.get_practice_settings()

    assert (settings.ods_code, settings.name) == ("A81001", "Riverside Medical Centre")
    # The record is on: each patient's access comes from the User Permissions API.
    assert settings.record_enabled
    assert settings.default_search_window == timedelta(days=14)
    assert await adapter.list_cancellation_reasons() == []


async def test_factory_closes_its_client_and_checks_configuration(gp_clock: FakeClock) -> None:
    settings = Settings(_env_file=None, app_env="test")
    async with contextlib.AsyncExitStack() as stack:
        factory = await create_gpconnect_factory(
            settings, gp_clock, stack, gpconnect=gpconnect_settings()
        )
        adapter = factory(practice_config())
        assert isinstance(adapter, GPConnectAdapter)
        http = adapter._clients.appointments._http
        with pytest.raises(PracticesFileInvalid, match="base_url"):
            factory(practice_config(base_url=None, endpoints={}))
        with pytest.raises(
            PracticesFileInvalid, match="endpoints for prescriptions, record, permissions"
        ):
            factory(practice_config(base_url=None, endpoints={"appointments": BASE_URL}))
        # No Spine ASID is needed, for any practice.
        assert isinstance(factory(practice_config(ods_code="Z99999")), GPConnectAdapter)
        unnamed = await create_gpconnect_factory(
            settings,
            gp_clock,
            stack,
            gpconnect=gpconnect_settings().model_copy(update={"consumer_telephone": ""}),
        )
        with pytest.raises(PracticesFileInvalid, match="GPCONNECT_CONSUMER_TELEPHONE"):
            unnamed(practice_config())
    assert http.is_closed


async def test_each_api_has_its_own_base_url(gp_clock: FakeClock, router: respx.MockRouter) -> None:
    """Appointments, the access record, user permissions and prescriptions are different
    APIs, each at its own base URL, each called with the patient's own token."""
    urls = {
        "appointments": "https://appointments.platform.test/STU3",
        "record": "https://record.platform.test/STU3",
        "prescriptions": "https://prescriptions.platform.test/R4",
        "permissions": "https://permissions.platform.test/v1",
    }
    settings = Settings(_env_file=None, app_env="test")
    seen: dict[str, httpx.Request] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        api = request.url.host.split(".")[0]
        seen[api] = request
        if api == "record":
            return httpx.Response(200, json=load("structured_record_bundle.json"))
        if api == "permissions":
            return httpx.Response(200, json={"medicalRecord": {}})
        return httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset"})

    for url in urls.values():
        router.route(host=httpx.URL(url).host).mock(side_effect=answer)
    async with contextlib.AsyncExitStack() as stack:
        factory = await create_gpconnect_factory(
            settings, gp_clock, stack, gpconnect=gpconnect_settings()
        )
        adapter = factory(practice_config(endpoints=urls))
        assert isinstance(adapter, GPConnectAdapter)
        await adapter.list_record_entries(P, RecordSection.ALLERGIES)
        await adapter.list_courses(P)
        await adapter.list_appointments(P)
        await adapter.get_record_access(P)

    assert str(seen["record"].url) == f"{urls['record']}/Patient/$gpc.getstructuredrecord"
    assert str(seen["prescriptions"].url).startswith(f"{urls['prescriptions']}/Patient/{P}/")
    assert str(seen["appointments"].url).startswith(f"{urls['appointments']}/Patient/{P}/")
    assert str(seen["permissions"].url) == f"{urls['permissions']}/Patient/{P}"
    for request in seen.values():
        assert request.headers["Authorization"] == "Bearer sandbox"
        assert "Ssp-From" not in request.headers


def test_the_permissions_url_is_derived_from_the_record_url() -> None:
    assert permissions_base_url(practice_config()) == PERMISSIONS_URL
    assert (
        permissions_base_url(practice_config(base_url="https://one.test/all", endpoints={}))
        == "https://one.test/all"
    )


def test_a_request_the_official_document_refuses_fails_the_test(
    fake_server: FakeGPConnect,
) -> None:
    """The fake checks each request against the API's OpenAPI document, as the stand-in
    does: here a slot search with a `searchFilter` value its enum does not allow."""
    refused = httpx.Request(
        "GET",
        f"{BASE_URL}/Slot",
        params=[
            ("start", "ge2030-06-03"),
            ("end", "le2030-06-04"),
            ("status", "free"),
            ("_include", "Slot:schedule"),
            ("searchFilter", f"{wire.ODS_CODE_SYSTEM}|X26"),
        ],
        headers={"Authorization": "Bearer sandbox", "X-Request-ID": str(uuid.uuid4())},
    )
    with pytest.raises(pytest.fail.Exception, match=r"searchFilter.*is not one of"):
        fake_server.check_specification(API.APPOINTMENTS, refused)
    assert len(fake_server.violations) == 1
    fake_server.violations.clear()  # the fixture would otherwise fail this test too
