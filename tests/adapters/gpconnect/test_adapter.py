"""The adapter on the wire: requests it sends and responses it maps, with respx."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from app.adapters.gpconnect import GPConnectAdapter, create_gpconnect_factory
from app.adapters.gpconnect import interactions as wire
from app.adapters.gpconnect.fhir import SlotKey
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
    DemographicMatch,
    GPCredentials,
    MessageKind,
    Patient,
    PracticeMessage,
    RecordSection,
    RelationshipKind,
)
from tests.adapters.gpconnect.conftest import (
    BASE_URL,
    CONSUMER_ASID,
    ODS_CODE,
    PROVIDER_ASID,
    gpconnect_settings,
    practice_config,
)
from tests.adapters.gpconnect.fake_server import NHS_NUMBER, FakeGPConnect, load, outcome
from tests.conftest import FakeClock

SPINE_HEADERS = ("Ssp-TraceID", "Ssp-From", "Ssp-To", "Ssp-InteractionID", "Authorization")


def claims(request: httpx.Request) -> dict[str, Any]:
    token = request.headers["Authorization"].removeprefix("Bearer ")
    header, payload, signature = token.split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "none", "typ": "JWT"}
    assert signature == ""
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return decoded


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

    slots = await adapter.search_slots(start, start + timedelta(days=1))

    request = route.calls.last.request
    assert request.headers["Ssp-InteractionID"] == wire.SEARCH_SLOTS
    params = request.url.params
    assert params["status"] == "free"
    assert params["start"] == "ge2030-06-03T08:00:00+01:00"
    assert params["end"] == "le2030-06-04T08:00:00+01:00"
    assert params.get_list("_include") == ["Slot:schedule"]
    assert params.get_list("_include:recurse") == [
        "Schedule:actor:Practitioner",
        "Schedule:actor:Location",
    ]
    assert params["searchFilter"] == f"{wire.ODS_CODE_SYSTEM}|X26"
    assert claims(request)["requested_scope"] == "organization/*.read"
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

    video = await adapter.search_slots(
        start, start + timedelta(days=1), appointment_type=AppointmentType.VIDEO
    )
    okafor = await adapter.search_slots(start, start + timedelta(days=1), clinician="okafor")

    assert [s.type for s in video] == [AppointmentType.VIDEO]
    assert [s.clinician.name for s in okafor] == ["Amara Okafor"]


async def test_long_slot_searches_are_split_into_two_week_requests(
    adapter: GPConnectAdapter, router: respx.MockRouter, gp_clock: FakeClock
) -> None:
    route = router.get(f"{BASE_URL}/Slot").mock(
        return_value=httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset"})
    )

    await adapter.search_slots(gp_clock.now(), gp_clock.now() + timedelta(days=30))

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

    slots = await adapter.search_slots(gp_clock.now(), gp_clock.now() + timedelta(days=20))

    assert [s.start for s in slots] == [boundary - timedelta(minutes=5)]


async def test_past_part_of_a_search_is_not_requested(
    adapter: GPConnectAdapter, router: respx.MockRouter, gp_clock: FakeClock
) -> None:
    route = router.get(f"{BASE_URL}/Slot").mock(
        return_value=httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset"})
    )

    await adapter.search_slots(
        gp_clock.now() - timedelta(days=3), gp_clock.now() + timedelta(days=1)
    )

    requested = route.calls.last.request.url.params["start"]
    assert datetime.fromisoformat(requested[2:]) == gp_clock.now()


async def test_booking_posts_the_appointment(
    adapter: GPConnectAdapter, router: respx.MockRouter
) -> None:
    route = router.post(f"{BASE_URL}/Appointment").mock(
        return_value=httpx.Response(201, json=load("appointment_booked.json"))
    )

    booked = await adapter.book_appointment(
        BookingRequest(
            patient_ref="2", slot_id=future_slot_id(), actor_ref="77", reason="Sore knee"
        )
    )

    request = route.calls.last.request
    assert request.headers["Ssp-InteractionID"] == wire.CREATE_APPOINTMENT
    assert request.headers["Content-Type"] == wire.FHIR_JSON
    assert claims(request)["requested_scope"] == "patient/*.write"
    body = json.loads(request.content)
    assert body["slot"] == [{"reference": "Slot/1584"}]
    assert body["description"] == "Sore knee"
    assert [p["actor"]["reference"] for p in body["participant"]] == [
        "Patient/2",
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
            BookingRequest(patient_ref="2", slot_id=future_slot_id(), actor_ref="2")
        )

    assert refused.value.supplier_code == "DUPLICATE_REJECTED"
    assert "1584" not in str(refused.value)  # diagnostics never reach the message


async def test_booking_an_unknown_slot_id_sends_nothing(
    adapter: GPConnectAdapter, router: respx.MockRouter
) -> None:
    with pytest.raises(NotFoundInGPSystem):
        await adapter.book_appointment(
            BookingRequest(patient_ref="2", slot_id="garbage", actor_ref="2")
        )
    assert not router.calls


async def test_cancel_puts_the_read_version_with_a_reason(
    adapter: GPConnectAdapter, router: respx.MockRouter
) -> None:
    current = load("appointment_booked.json")
    router.get(f"{BASE_URL}/Appointment/9").mock(return_value=httpx.Response(200, json=current))
    cancelled = {**current, "status": "cancelled", "meta": {**current["meta"], "versionId": "2"}}
    put = router.put(f"{BASE_URL}/Appointment/9").mock(
        return_value=httpx.Response(200, json=cancelled)
    )

    result = await adapter.cancel_appointment("2", "9", reason_code=None, actor_ref="2")

    request = put.calls.last.request
    assert request.headers["Ssp-InteractionID"] == wire.CANCEL_APPOINTMENT
    assert request.headers["If-Match"] == 'W/"636068818095315079"'
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
        return_value=httpx.Response(200, json=load("appointment_booked.json"))
    )
    router.put(f"{BASE_URL}/Appointment/9").mock(return_value=httpx.Response(status))

    with pytest.raises(NotCancellable):
        await adapter.cancel_appointment("2", "9", reason_code=None, actor_ref="2")


async def test_cancel_another_patients_appointment_is_not_found(
    adapter: GPConnectAdapter, router: respx.MockRouter
) -> None:
    router.get(f"{BASE_URL}/Appointment/9").mock(
        return_value=httpx.Response(200, json=load("appointment_booked.json"))
    )

    with pytest.raises(NotFoundInGPSystem):
        await adapter.cancel_appointment("3", "9", reason_code=None, actor_ref="3")
    assert [c.request.method for c in router.calls] == ["GET"]


async def test_cancel_past_or_cancelled_appointments_is_refused_before_sending(
    adapter: GPConnectAdapter, router: respx.MockRouter
) -> None:
    past = load("appointment_booked.json") | {"start": "2020-01-01T09:00:00+00:00"}
    gone = load("appointment_booked.json") | {"status": "cancelled"}
    router.get(f"{BASE_URL}/Appointment/1").mock(return_value=httpx.Response(200, json=past))
    router.get(f"{BASE_URL}/Appointment/2").mock(return_value=httpx.Response(200, json=gone))

    for ident in ("1", "2"):
        with pytest.raises(NotCancellable):
            await adapter.cancel_appointment("2", ident, reason_code=None, actor_ref="2")
    assert {c.request.method for c in router.calls} == {"GET"}


async def test_list_appointments_reads_missing_participants(
    adapter: GPConnectAdapter, router: respx.MockRouter, gp_clock: FakeClock
) -> None:
    search = router.get(f"{BASE_URL}/Patient/2/Appointment").mock(
        return_value=httpx.Response(200, json=load("patient_appointments_bundle.json"))
    )
    supporting = {e["fullUrl"]: e["resource"] for e in load("slot_search_bundle.json")["entry"]}
    practitioner = router.get(f"{BASE_URL}/Practitioner/2").mock(
        return_value=httpx.Response(200, json=supporting["Practitioner/2"])
    )
    location = router.get(f"{BASE_URL}/Location/17").mock(
        return_value=httpx.Response(200, json=supporting["Location/17"])
    )

    appointments = await adapter.list_appointments("2")

    request = search.calls.last.request
    assert request.headers["Ssp-InteractionID"] == wire.SEARCH_PATIENT_APPOINTMENTS
    starts = request.url.params.get_list("start")
    assert starts[0] == f"ge{today(gp_clock)}"  # the practice's date, not UTC's
    assert starts[1].startswith("le") and "T" not in starts[1]
    assert practitioner.calls.last.request.headers["Ssp-InteractionID"] == wire.READ_PRACTITIONER
    assert location.calls.last.request.headers["Ssp-InteractionID"] == wire.READ_LOCATION
    first, second = appointments
    assert (first.appointment_id, first.status) == ("9", AppointmentStatus.BOOKED)
    assert first.clinician.name == "Dr Nichole Gilbert"
    assert first.location == "Riverside Medical Centre"
    assert (second.appointment_id, second.status) == ("12", AppointmentStatus.CANCELLED)
    assert second.cancellation_reason == "Cancelled online by the patient"
    assert second.type is AppointmentType.TELEPHONE


async def test_linkage_by_demographics(adapter: GPConnectAdapter, router: respx.MockRouter) -> None:
    route = router.get(f"{BASE_URL}/Patient").mock(
        return_value=httpx.Response(
            200,
            json={
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [{"resource": load("patient.json")}],
            },
        )
    )

    linked = await adapter.link_by_demographics(
        DemographicMatch(NHS_NUMBER, "A81001", "wolderton-rodriguez", date(1936, 10, 2))
    )

    assert (linked.user_ref, linked.nhs_number) == ("2", NHS_NUMBER)
    request = route.calls.last.request
    assert request.headers["Ssp-InteractionID"] == wire.SEARCH_PATIENT
    assert request.url.params["identifier"] == f"{wire.NHS_NUMBER_SYSTEM}|{NHS_NUMBER}"
    with pytest.raises(PatientNotFound):
        await adapter.link_by_demographics(
            DemographicMatch(NHS_NUMBER, "A81001", "Smith", date(1936, 10, 2))
        )


async def test_linkage_by_credentials_is_not_offered(adapter: GPConnectAdapter) -> None:
    with pytest.raises(LinkageFailed):
        await adapter.link_by_credentials(GPCredentials("u", "k", "A81001"))


async def test_relationships_are_self_only(
    adapter: GPConnectAdapter, router: respx.MockRouter
) -> None:
    router.get(f"{BASE_URL}/Patient/2").mock(
        return_value=httpx.Response(200, json=load("patient.json"))
    )

    (relationship,) = await adapter.list_relationships("2")

    assert relationship.kind is RelationshipKind.SELF
    assert relationship.patient.nhs_number == NHS_NUMBER


async def test_unknown_patient(adapter: GPConnectAdapter, router: respx.MockRouter) -> None:
    router.get(f"{BASE_URL}/Patient/404").mock(return_value=outcome(404, "PATIENT_NOT_FOUND"))

    with pytest.raises(PatientNotFound):
        await adapter.get_patient("404")


async def test_structured_record_section(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect
) -> None:
    entries = await adapter.list_record_entries("2", RecordSection.ALLERGIES)

    (call,) = [r for r in fake_server.requests if r.url.path.endswith("$gpc.getstructuredrecord")]
    assert call.method == "POST"
    assert call.headers["Ssp-InteractionID"] == wire.GET_STRUCTURED_RECORD
    assert [e.entry_id for e in entries] == ["al-2", "al-1"]


async def test_every_request_carries_the_required_headers(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect, gp_clock: FakeClock
) -> None:
    slot = (await adapter.search_slots(gp_clock.now(), gp_clock.now() + timedelta(days=3)))[0]
    booked = await adapter.book_appointment(
        BookingRequest(patient_ref="2", slot_id=slot.slot_id, actor_ref="2")
    )
    await adapter.list_appointments("2")
    await adapter.cancel_appointment("2", booked.appointment_id, reason_code=None, actor_ref="2")
    await adapter.list_courses("2")
    await adapter.request_prescription("2", ["mr-plan-1"], note=None, actor_ref="2")
    await adapter.list_record_entries("2", RecordSection.PROBLEMS)

    spine = [r for r in fake_server.requests if str(r.url).startswith(BASE_URL)]
    assert len(spine) >= 7
    trace_ids = set()
    for request in spine:
        assert request.headers["Ssp-From"] == CONSUMER_ASID
        assert request.headers["Ssp-To"] == PROVIDER_ASID
        assert request.headers["Accept"] == wire.FHIR_JSON
        trace_ids.add(request.headers["Ssp-TraceID"])
        token = claims(request)
        assert token["aud"] == BASE_URL
        assert token["reason_for_request"] == "directcare"
        assert token["requesting_organization"]["identifier"][0]["value"] == "X26"
        assert token["exp"] - token["iat"] <= 300
        assert NHS_NUMBER not in request.headers["Authorization"]
        assert all(name in request.headers for name in SPINE_HEADERS)
    assert len(trace_ids) == len(spine)
    # Prescriptions went to the patient-facing API instead (test_prescriptions.py).
    assert {r.url.host for r in fake_server.requests} - {"provider.gpconnect.test"} == {
        "platform.test"
    }


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
    router.get(f"{BASE_URL}/Patient/2").mock(side_effect=failure)

    with pytest.raises(GPSystemUnavailable):
        await adapter.get_patient("2")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_unavailable_with_retry_after(
    adapter: GPConnectAdapter, router: respx.MockRouter, status: int
) -> None:
    router.post(f"{BASE_URL}/Appointment").mock(
        return_value=httpx.Response(status, headers={"Retry-After": "90"})
    )

    with pytest.raises(GPSystemUnavailable) as unavailable:
        await adapter.book_appointment(
            BookingRequest(patient_ref="2", slot_id=future_slot_id(), actor_ref="2")
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
    booked = load("appointment_booked.json")
    for participant in booked["participant"]:
        participant["actor"].pop("display", None)
    router.post(f"{BASE_URL}/Appointment").mock(return_value=httpx.Response(201, json=booked))
    for kind in ("Practitioner/2", "Location/17"):
        route = router.get(f"{BASE_URL}/{kind}")
        if failure is None:
            route.mock(side_effect=httpx.ConnectError("refused"))
        else:
            route.mock(return_value=failure)

    appointment = await adapter.book_appointment(
        BookingRequest(patient_ref="2", slot_id=future_slot_id(), actor_ref="2")
    )

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
    router.get(f"{BASE_URL}/Patient/2/Appointment").mock(
        return_value=httpx.Response(200, json=payload)
    )

    with pytest.raises(GPSystemUnavailable) as unavailable:
        await adapter.list_appointments("2")

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

    assert await adapter.search_slots(gp_clock.now(), gp_clock.now() + timedelta(days=1)) == []


async def test_timeouts_come_from_the_practice_config(
    adapter: GPConnectAdapter, router: respx.MockRouter
) -> None:
    route = router.get(f"{BASE_URL}/Patient/2").mock(
        return_value=httpx.Response(200, json=load("patient.json"))
    )

    await adapter.get_patient("2")

    timeout = route.calls.last.request.extensions["timeout"]
    assert timeout == {"connect": 0.5, "read": 1.0, "write": 1.0, "pool": 1.0}


async def test_unsupported_capabilities_refuse_plainly(adapter: GPConnectAdapter) -> None:
    message = PracticeMessage(MessageKind.RECORD_CORRECTION, "s", "b", actor_ref="2")
    calls = [
        adapter.get_record_access("2"),
        adapter.list_documents("2"),
        adapter.get_document_content("2", "d"),
        adapter.get_nominated_pharmacy("2"),
        adapter.set_nominated_pharmacy("2", "FA123", actor_ref="2"),
        adapter.send_message("2", message),
        adapter.list_record_entries("2", RecordSection.DOCUMENTS),
        adapter.cancel_prescription_request("2", "any", actor_ref="2"),
    ]
    for call in calls:
        with pytest.raises(NotAvailableAtPractice) as refused:
            await call
        assert refused.value.supplier_code == "NOT_SUPPORTED"
        assert refused.value.capability not in adapter.capabilities
        assert refused.value.detail.endswith(".")
    # What it refuses at call time it declares absent beforehand, so services ask first.
    assert adapter.capabilities == frozenset()


async def test_practice_settings_are_defaults_from_the_practice(adapter: GPConnectAdapter) -> None:
    settings = await adapter.get_practice_settings()

    assert (settings.ods_code, settings.name) == ("A81001", "Riverside Medical Centre")
    assert not settings.record_enabled
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
            factory(practice_config(base_url=None))
        with pytest.raises(PracticesFileInvalid, match="endpoints for prescriptions, record"):
            factory(practice_config(base_url=None, endpoints={"appointments": BASE_URL}))
        with pytest.raises(PracticesFileInvalid, match="GPCONNECT_PROVIDER_ASIDS"):
            factory(practice_config(ods_code="Z99999"))
    assert http.is_closed


async def test_each_service_has_its_own_endpoint_and_audience(
    gp_clock: FakeClock, router: respx.MockRouter
) -> None:
    """Appointments, prescriptions and the record are different GP Connect services."""
    record_url = "https://record.gpconnect.test/A81001/STU3/1"
    prescriptions_url = "https://prescriptions.gpconnect.test/A81001/R4"
    settings = Settings(_env_file=None, app_env="test")
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host.startswith("record."):
            return httpx.Response(200, json=load("structured/allergies_response2.json"))
        return httpx.Response(200, json={"resourceType": "Bundle", "type": "searchset"})

    router.route(host="record.gpconnect.test").mock(side_effect=answer)
    router.route(host="prescriptions.gpconnect.test").mock(side_effect=answer)
    async with contextlib.AsyncExitStack() as stack:
        factory = await create_gpconnect_factory(
            settings, gp_clock, stack, gpconnect=gpconnect_settings()
        )
        adapter = factory(
            practice_config(endpoints={"record": record_url, "prescriptions": prescriptions_url})
        )
        assert isinstance(adapter, GPConnectAdapter)
        adapter._remember(Patient("2", NHS_NUMBER, "Ann", "Smith", date(1980, 1, 1), ODS_CODE))
        await adapter.list_record_entries("2", RecordSection.ALLERGIES)
        await adapter.list_courses("2")

    record_call, prescriptions_call = seen
    assert str(record_call.url).startswith(record_url + "/Patient/$gpc.getstructuredrecord")
    assert claims(record_call)["aud"] == record_url
    assert str(prescriptions_call.url).startswith(prescriptions_url + "/Patient/")
    # The patient-facing API: the patient's own bearer token, not a Spine JWT.
    assert prescriptions_call.headers["Authorization"] == "Bearer sandbox"
    assert "Ssp-From" not in prescriptions_call.headers
