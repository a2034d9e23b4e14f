"""Repeat prescriptions over GP Connect's patient-facing prescriptions API, on the wire."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import httpx
import pytest
import respx

from app.adapters.gpconnect import GPConnectAdapter
from app.gp.errors import (
    CourseNotOrderable,
    GPSystemUnavailable,
    NotAvailableAtPractice,
    NotFoundInGPSystem,
    OrderPartlyPlaced,
    SignInAgain,
)
from app.gp.types import Capability, NotOrderableReason, Patient, PrescriptionRequestStatus
from tests.adapters.gpconnect.conftest import PFS_URL
from tests.adapters.gpconnect.fake_server import (
    NHS_NUMBER,
    FakeGPConnect,
    bundle,
    load,
    r4_outcome,
)

SPINE_HEADERS = ("Ssp-TraceID", "Ssp-From", "Ssp-To", "Ssp-InteractionID")


def prescription_calls(server: FakeGPConnect, method: str | None = None) -> list[httpx.Request]:
    return [
        r
        for r in server.requests
        if str(r.url).startswith(PFS_URL) and (method is None or r.method == method)
    ]


def posted(server: FakeGPConnect) -> list[dict[str, Any]]:
    return [json.loads(r.content) for r in prescription_calls(server, "POST")]


async def test_a_single_course_is_one_task_as_the_specification_shows_it(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect
) -> None:
    example = load("pfs_task_post_request.json")

    request = await adapter.request_prescription(
        NHS_NUMBER, ["mr-plan-1"], note="Away next week", actor_ref=NHS_NUMBER
    )

    (task,) = posted(fake_server)
    assert set(task) == set(example) - {"input"}  # no one-off pharmacy asked for
    for key in ("meta", "status", "intent", "code"):
        assert task[key] == example[key]
    assert task["identifier"][0]["system"] == example["identifier"][0]["system"]
    assert uuid.UUID(task["identifier"][0]["value"])
    assert task["focus"] == {"reference": "MedicationRequest/mr-plan-1"}
    assert task["for"] == {
        "reference": f"Patient/{NHS_NUMBER}",
        "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS_NUMBER},
        "display": task["for"]["display"],
    }
    assert "Wolderton-Rodriguez" in task["for"]["display"]
    assert task["requester"] == task["for"]
    assert task["note"] == [{"authorString": "Patient", "text": "Away next week"}]
    # The provider's id for the Task is the request's id; it reads back as the patient's.
    (created,) = fake_server.tasks.values()
    assert request.request_id == created["id"]
    assert request.course_ids == ("mr-plan-1",)
    assert request.requested_by_ref == NHS_NUMBER
    (listed,) = await adapter.list_prescription_requests(NHS_NUMBER)
    assert (listed.request_id, listed.requested_by_ref, listed.status) == (
        request.request_id,
        NHS_NUMBER,
        PrescriptionRequestStatus.REQUESTED,
    )


async def test_several_courses_are_one_request_of_several_tasks(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect
) -> None:
    request = await adapter.request_prescription(
        NHS_NUMBER, ["mr-plan-1", "mr-plan-3", "mr-plan-1"], note="Away", actor_ref=NHS_NUMBER
    )

    tasks = posted(fake_server)
    assert [t["focus"]["reference"] for t in tasks] == [
        "MedicationRequest/mr-plan-1",
        "MedicationRequest/mr-plan-3",
    ]
    assert len({t["groupIdentifier"]["value"] for t in tasks}) == 1
    assert len({t["identifier"][0]["value"] for t in tasks}) == 2
    assert all(t["note"] == [{"authorString": "Patient", "text": "Away"}] for t in tasks)
    assert request.course_ids == ("mr-plan-1", "mr-plan-3")
    assert [r.request_id for r in await adapter.list_prescription_requests(NHS_NUMBER)] == [
        request.request_id
    ]
    with pytest.raises(CourseNotOrderable) as again:
        await adapter.request_prescription(
            NHS_NUMBER, ["mr-plan-3"], note=None, actor_ref=NHS_NUMBER
        )
    assert again.value.reason is NotOrderableReason.PENDING_REQUEST


async def test_every_call_carries_the_patients_token_and_request_ids(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect
) -> None:
    await adapter.list_courses(NHS_NUMBER)
    await adapter.request_prescription(
        NHS_NUMBER, ["mr-plan-1", "mr-plan-3"], note=None, actor_ref=NHS_NUMBER
    )
    await adapter.list_prescription_requests(NHS_NUMBER)

    calls = prescription_calls(fake_server)
    assert [r.method for r in calls] == ["GET", "GET", "POST", "POST", "GET"]
    for call in calls:
        assert call.headers["Authorization"] == "Bearer sandbox"
        assert call.headers["Accept"] == "application/fhir+json"
        assert uuid.UUID(call.headers["X-Request-ID"])
        assert uuid.UUID(call.headers["X-Correlation-ID"])
        assert not any(name in call.headers for name in SPINE_HEADERS)
    assert len({c.headers["X-Request-ID"] for c in calls}) == len(calls)
    posts = prescription_calls(fake_server, "POST")
    # A POST's X-Request-ID is its Task's identifier: a re-send can never make a second Task.
    assert [p.headers["X-Request-ID"] for p in posts] == [
        t["identifier"][0]["value"] for t in posted(fake_server)
    ]
    # The Tasks of one order share a correlation id, for tracing one patient action.
    assert len({p.headers["X-Correlation-ID"] for p in posts}) == 1
    assert calls[1].url.path.endswith(f"/Patient/{NHS_NUMBER}/MedicationRequest")
    assert calls[-1].url.params["patient"] == NHS_NUMBER


async def test_cancel_is_not_offered_and_nothing_is_sent(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect
) -> None:
    request = await adapter.request_prescription(
        NHS_NUMBER, ["mr-plan-1"], note=None, actor_ref=NHS_NUMBER
    )
    before = len(fake_server.requests)

    with pytest.raises(NotAvailableAtPractice) as refused:
        await adapter.cancel_prescription_request(
            NHS_NUMBER, request.request_id, actor_ref=NHS_NUMBER
        )

    assert refused.value.capability is Capability.CANCEL_PRESCRIPTION_REQUEST
    assert Capability.CANCEL_PRESCRIPTION_REQUEST not in adapter.capabilities
    assert len(fake_server.requests) == before


@pytest.mark.parametrize(
    ("courses", "error", "reason"),
    [
        (["nope"], NotFoundInGPSystem, None),
        (["mr-plan-1", "mr-plan-2"], CourseNotOrderable, NotOrderableReason.NOT_A_REPEAT),
    ],
    ids=["unknown-course", "acute-course"],
)
async def test_an_order_that_cannot_stand_sends_no_task(
    adapter: GPConnectAdapter,
    fake_server: FakeGPConnect,
    courses: list[str],
    error: type[Exception],
    reason: NotOrderableReason | None,
) -> None:
    with pytest.raises(error) as refused:
        await adapter.request_prescription(NHS_NUMBER, courses, note=None, actor_ref=NHS_NUMBER)

    if reason is not None:
        assert isinstance(refused.value, CourseNotOrderable)
        assert refused.value.reason is reason
    assert posted(fake_server) == []


async def test_only_the_patient_themself_can_order(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect
) -> None:
    with pytest.raises(NotAvailableAtPractice) as refused:
        await adapter.request_prescription(NHS_NUMBER, ["mr-plan-1"], note=None, actor_ref="77")

    assert refused.value.capability is Capability.PROXY_RELATIONSHIPS
    assert posted(fake_server) == []


@pytest.mark.parametrize(
    ("fault", "error", "says"),
    [
        (httpx.Response(503, headers={"Retry-After": "60"}), GPSystemUnavailable, "confirm"),
        (httpx.ReadTimeout("slow"), GPSystemUnavailable, "confirm"),
        (
            r4_outcome(409, "DUPLICATE_REJECTED", "a request for this medication is pending"),
            CourseNotOrderable,
            "You have already requested this medicine",
        ),
    ],
    ids=["outage", "timeout", "refused"],
)
async def test_an_order_broken_part_way_leaves_the_patients_visible_requests(
    adapter: GPConnectAdapter,
    fake_server: FakeGPConnect,
    fault: httpx.Response | Exception,
    error: type[Exception],
    says: str,
) -> None:
    """No cancel exists to undo the first Task: it stands, reads back as the patient's
    own request, and the error says so."""
    fake_server.task_faults = [None, fault]

    with pytest.raises(OrderPartlyPlaced) as failed:
        await adapter.request_prescription(
            NHS_NUMBER, ["mr-plan-1", "mr-plan-3"], note=None, actor_ref=NHS_NUMBER
        )

    assert isinstance(failed.value.cause, error)
    assert failed.value.placed.course_ids == ("mr-plan-1",)
    detail = failed.value.detail
    assert detail.startswith("1 of the 2 medicines you asked for were requested")
    assert "shown in your prescription requests" in detail
    assert says in detail
    (standing,) = await adapter.list_prescription_requests(NHS_NUMBER)
    assert standing.course_ids == ("mr-plan-1",)
    assert standing.requested_by_ref == NHS_NUMBER
    assert standing.status is PrescriptionRequestStatus.REQUESTED


async def test_a_first_task_refused_is_the_plain_error(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect
) -> None:
    fake_server.task_faults = [httpx.Response(503)]

    with pytest.raises(GPSystemUnavailable) as failed:
        await adapter.request_prescription(
            NHS_NUMBER, ["mr-plan-1", "mr-plan-3"], note=None, actor_ref=NHS_NUMBER
        )

    assert failed.value.detail == GPSystemUnavailable.default_detail
    assert len(posted(fake_server)) == 1
    assert await adapter.list_prescription_requests(NHS_NUMBER) == []


async def test_a_refused_token_is_renewed_once_then_the_patient_signs_in_again(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect
) -> None:
    fake_server.patient_tokens = set()
    before = len(fake_server.requests)

    with pytest.raises(SignInAgain) as refused:
        await adapter.list_courses(NHS_NUMBER)

    assert "sign in again" in refused.value.detail
    retried = [r for r in fake_server.requests[before:] if str(r.url).startswith(PFS_URL)]
    assert len(retried) == 2
    # The re-send is the same request: same X-Request-ID, so nothing could happen twice.
    assert retried[0].headers["X-Request-ID"] == retried[1].headers["X-Request-ID"]


async def test_another_patients_task_in_a_search_is_never_shown(
    adapter: GPConnectAdapter, router: respx.MockRouter
) -> None:
    adapter._remember(Patient(NHS_NUMBER, NHS_NUMBER, "Jane", "Smith", date(1980, 1, 1), "A81001"))
    spec = load("pfs_tasks_bundle.json")
    theirs = json.loads(json.dumps(spec["entry"][0]))
    other = {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000017"}
    theirs["resource"]["for"] = {"reference": "Patient/9000000017", "identifier": other}
    theirs["resource"]["id"] = "someone-elses"
    resources = [e["resource"] for e in spec["entry"]] + [theirs["resource"]]
    router.get(f"{PFS_URL}/Task").mock(return_value=httpx.Response(200, json=bundle(resources)))

    requests = await adapter.list_prescription_requests(NHS_NUMBER)

    assert len(requests) == 3
    assert "someone-elses" not in {r.request_id for r in requests}
