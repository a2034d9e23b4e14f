"""The stand-in over real HTTP: each operation on the sandbox's data, the platform's
token and X-Request-ID rules, and the official documents enforced on requests."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.adapters.sandbox.personas import find_persona
from app.clock import FrozenClock, today
from tests.frozen import SUITE_NOW
from tests.standin.conftest import BASE, StandIn, headers

pytestmark = pytest.mark.timeout(240)

APPOINTMENTS = f"{BASE}/appointments-management-fhir/FHIR/STU3"
RECORD = f"{BASE}/access-record-fhir/FHIR/STU3"
PERMISSIONS = f"{BASE}/user-permissions"
PRESCRIPTIONS = f"{BASE}/prescriptions-management-fhir/FHIR/R4"
FHIR = "application/fhir+json"
PRACTITIONER_ROLE = (
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-PractitionerRole-1"
)
TODAY = today(FrozenClock(SUITE_NOW))


def nhs_number(tag: str) -> str:
    return find_persona(TODAY, tag).nhs_number


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [
        entry["resource"]
        for entry in bundle.get("entry", [])
        if entry["resource"]["resourceType"] == kind
    ]


def free_slot(client: httpx.Client, token: str) -> dict[str, Any]:
    response = client.get(
        f"{APPOINTMENTS}/Slot",
        params=[
            ("start", f"ge{TODAY.isoformat()}"),
            ("end", f"le{(TODAY + timedelta(days=6)).isoformat()}"),
            ("status", "free"),
            ("_include", "Slot:schedule"),
        ],
        headers=headers(token),
    )
    assert response.status_code == 200, response.text
    # Each Schedule names its clinician's role, as in the document's example.
    schedules = resources(response.json(), "Schedule")
    assert schedules
    assert all(s["extension"][0]["url"] == PRACTITIONER_ROLE for s in schedules)
    return resources(response.json(), "Slot")[0]


def booking(slot: dict[str, Any], nhs: str) -> bytes:
    body = {
        "resourceType": "Appointment",
        "status": "booked",
        "description": "Sore throat | Tel: 07700900123",
        "start": slot["start"],
        "end": slot["end"],
        "slot": [{"reference": f"Slot/{slot['id']}"}],
        "participant": [{"actor": {"reference": f"Patient/{nhs}"}, "status": "accepted"}],
    }
    return json.dumps(body).encode()


def appointments_of(client: httpx.Client, token: str, nhs: str) -> list[dict[str, Any]]:
    response = client.get(
        f"{APPOINTMENTS}/Patient/{nhs}/Appointment",
        params={"start": f"ge{TODAY.isoformat()}"},
        headers=headers(token),
    )
    assert response.status_code == 200, response.text
    return resources(response.json(), "Appointment")


# --- each operation ----------------------------------------------------------------


def test_book_list_read_and_cancel_an_appointment(standin: StandIn) -> None:
    nhs = nhs_number("adult-full")
    token = standin.token_for(nhs)
    with standin.client() as client:
        slot = free_slot(client, token)
        assert slot["status"] == "free"
        before = appointments_of(client, token, nhs)

        booked = client.post(
            f"{APPOINTMENTS}/Appointment",
            content=booking(slot, nhs),
            headers=headers(token, **{"Content-Type": FHIR}),
        )
        assert booked.status_code == 201, booked.text
        appointment = booked.json()
        assert appointment["status"] == "booked"
        assert appointment["slot"] == [{"reference": f"Slot/{slot['id']}"}]
        assert appointment["description"] == "Sore throat | Tel: 07700900123"
        # The clinician's role, as in the document's examples.
        roles = [e for e in appointment["extension"] if e["url"] == PRACTITIONER_ROLE]
        assert [r["valueCodeableConcept"]["text"] for r in roles] in (["GP"], ["Practice nurse"])
        assert len(appointments_of(client, token, nhs)) == len(before) + 1

        read = client.get(f"{APPOINTMENTS}/Appointment/{appointment['id']}", headers=headers(token))
        assert read.status_code == 200
        assert read.json()["id"] == appointment["id"]

        appointment["status"] = "cancelled"
        cancelled = client.put(
            f"{APPOINTMENTS}/Appointment/{appointment['id']}",
            content=json.dumps(appointment).encode(),
            headers=headers(token, **{"Content-Type": FHIR}),
        )
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"


def test_the_structured_record_lists_each_section_asked_for(standin: StandIn) -> None:
    nhs = nhs_number("adult-full")
    token = standin.token_for(nhs)
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "patientNHSNumber",
                "valueIdentifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs},
            },
            {"name": "includeAllergies"},
            {"name": "includeMedication"},
        ],
    }
    with standin.client() as client:
        response = client.post(
            f"{RECORD}/Patient/$gpc.getstructuredrecord",
            content=json.dumps(parameters).encode(),
            headers=headers(token, **{"Content-Type": FHIR}),
        )
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["type"] == "collection"
    [patient] = resources(bundle, "Patient")
    assert patient["identifier"][0]["value"] == nhs
    assert [item["title"] for item in resources(bundle, "List")] == ["Allergies", "Medications"]
    assert resources(bundle, "AllergyIntolerance") or resources(bundle, "MedicationStatement")


def test_documents_are_found_listed_and_fetched(standin: StandIn) -> None:
    nhs = nhs_number("adult-full")
    token = standin.token_for(nhs)
    with standin.client() as client:
        found = client.get(f"{RECORD}/documents/Patient/{nhs}", headers=headers(token))
        assert found.status_code == 200, found.text
        patient_id = resources(found.json(), "Patient")[0]["id"]
        listed = client.get(
            f"{RECORD}/Patient/{patient_id}/DocumentReference",
            params={"patientNHSNumber": nhs},
            headers=headers(token),
        )
        assert listed.status_code == 200, listed.text
        document = resources(listed.json(), "DocumentReference")[0]
        # Absolute, as in the document's example: the Binary is read where it says.
        url = document["content"][0]["attachment"]["url"]
        assert url == f"{standin.url}{RECORD}/documents/Binary/{document['id']}"
        binary = client.get(url, params={"patientNHSNumber": nhs}, headers=headers(token))
    assert binary.status_code == 200, binary.text
    assert binary.json()["resourceType"] == "Binary"
    assert binary.json()["content"]


def test_user_permissions_are_plain_json(standin: StandIn) -> None:
    nhs = nhs_number("adult-full")
    token = standin.token_for(nhs)
    with standin.client() as client:
        response = client.get(f"{PERMISSIONS}/Patient/{nhs}", headers=headers(token))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    permissions = response.json()
    assert permissions["medicalRecord"]["current"]["accessLevel"] == "full"
    assert permissions["prescriptions"]["accessLevel"] == "manage"


def test_order_a_repeat_and_see_the_task(standin: StandIn) -> None:
    nhs = nhs_number("adult-full")
    token = standin.token_for(nhs)
    with standin.client() as client:
        courses = client.get(
            f"{PRESCRIPTIONS}/Patient/{nhs}/MedicationRequest",
            params={"intent": "plan"},
            headers=headers(token),
        )
        assert courses.status_code == 200, courses.text
        before = client.get(
            f"{PRESCRIPTIONS}/Task", params={"patient": nhs}, headers=headers(token)
        )
        pending = {
            task["focus"]["reference"]
            for task in resources(before.json(), "Task")
            if task["status"] == "requested"
        }
        orderable = [
            course
            for course in resources(courses.json(), "MedicationRequest")
            if course["courseOfTherapyType"]["coding"][0]["code"] == "continuous"
            and "security" not in course.get("meta", {})
            and f"MedicationRequest/{course['id']}" not in pending
        ]
        identifier = str(uuid.uuid4())
        task = {
            "resourceType": "Task",
            "identifier": [{"system": "https://tools.ietf.org/html/rfc4122", "value": identifier}],
            "status": "requested",
            "intent": "order",
            "focus": {"reference": f"MedicationRequest/{orderable[0]['id']}"},
            "for": {
                "reference": f"Patient/{nhs}",
                "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs},
            },
            "note": [{"authorString": "Patient", "text": "Running low"}],
        }
        created = client.post(
            f"{PRESCRIPTIONS}/Task",
            content=json.dumps(task).encode(),
            headers=headers(token, **{"Content-Type": FHIR}),
        )
        assert created.status_code == 201, created.text
        assert created.json()["identifier"][0]["value"] == identifier
        after = client.get(f"{PRESCRIPTIONS}/Task", params={"patient": nhs}, headers=headers(token))
    identifiers = [task["identifier"][0]["value"] for task in resources(after.json(), "Task")]
    assert identifier in identifiers


# --- tokens ------------------------------------------------------------------------


def test_no_bearer_token_is_401(standin: StandIn) -> None:
    nhs = nhs_number("adult-full")
    with standin.client() as client:
        response = client.get(f"{PERMISSIONS}/Patient/{nhs}", headers=headers(None))
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_token_it_did_not_issue_is_401(standin: StandIn) -> None:
    nhs = nhs_number("adult-full")
    with standin.client() as client:
        response = client.get(f"{PERMISSIONS}/Patient/{nhs}", headers=headers("made-up"))
    assert response.status_code == 401


def test_another_patients_record_is_403(standin: StandIn) -> None:
    token = standin.token_for(nhs_number("adult-full"))
    other = nhs_number("declined")
    with standin.client() as client:
        response = client.get(f"{PERMISSIONS}/Patient/{other}", headers=headers(token))
    assert response.status_code == 403
    assert "ACCESS_DENIED" in response.text


def test_an_expired_id_token_is_not_exchanged(standin: StandIn) -> None:
    assert standin.issuer is not None
    now = int(SUITE_NOW.timestamp())
    expired = standin.issuer.id_token(nhs_number("adult-full"), exp=now - 120, iat=now - 3720)
    response = standin.exchange(expired)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_tampered_id_token_is_not_exchanged(standin: StandIn) -> None:
    assert standin.issuer is not None
    genuine = standin.issuer.id_token(nhs_number("adult-full"))
    head, payload, signature = genuine.split(".")
    other = standin.issuer.id_token(nhs_number("declined")).split(".")[1]
    response = standin.exchange(f"{head}.{other}.{signature}")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert standin.exchange(f"{head}.{payload}.{signature}").status_code == 200


def test_an_id_token_from_another_issuer_or_below_p9_is_not_exchanged(standin: StandIn) -> None:
    assert standin.issuer is not None
    nhs = nhs_number("adult-full")
    for token in (
        standin.issuer.id_token(nhs, iss="https://elsewhere.example"),
        standin.issuer.id_token(nhs, aud="someone-else"),
        standin.issuer.id_token(nhs, identity_proofing_level="P5"),
    ):
        response = standin.exchange(token)
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"


def test_a_client_assertion_not_signed_by_the_client_is_refused(standin: StandIn) -> None:
    assert standin.issuer is not None
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "subject_token": standin.issuer.id_token(nhs_number("adult-full")),
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": standin.issuer.id_token("x"),  # signed, but not by the client
    }
    with standin.client() as client:
        response = client.post("/oauth2/token", data=form)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


# --- X-Request-ID ---------------------------------------------------------------------


@pytest.mark.parametrize("request_id", [None, "not-a-uuid"])
def test_x_request_id_is_required_and_a_uuid(standin: StandIn, request_id: str | None) -> None:
    nhs = nhs_number("adult-full")
    sent = headers(standin.token_for(nhs))
    if request_id is None:
        del sent["X-Request-ID"]
    else:
        sent["X-Request-ID"] = request_id
    with standin.client() as client:
        response = client.get(f"{PERMISSIONS}/Patient/{nhs}", headers=sent)
    assert response.status_code == 400
    assert "X-Request-ID" in response.text


def test_a_repeated_booking_with_the_same_request_id_books_once(standin: StandIn) -> None:
    nhs = nhs_number("adult-full")
    token = standin.token_for(nhs)
    with standin.client() as client:
        slot = free_slot(client, token)
        before = appointments_of(client, token, nhs)
        sent = headers(token, **{"Content-Type": FHIR})
        first = client.post(f"{APPOINTMENTS}/Appointment", content=booking(slot, nhs), headers=sent)
        again = client.post(f"{APPOINTMENTS}/Appointment", content=booking(slot, nhs), headers=sent)
        after = appointments_of(client, token, nhs)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["X-Request-ID"] == sent["X-Request-ID"]
    assert len(after) == len(before) + 1


# --- the official documents -----------------------------------------------------------


def test_a_request_the_document_does_not_allow_is_400(standin: StandIn) -> None:
    token = standin.token_for(nhs_number("adult-full"))
    with standin.client() as client:
        response = client.get(
            f"{APPOINTMENTS}/Slot",
            params={
                "start": "ge2026-10-15",
                "end": "le2026-10-16",
                "status": "busy",
                "_include": "Slot:schedule",
            },
            headers=headers(token),
        )
    assert response.status_code == 400
    assert "status" in response.json()["issue"][0]["diagnostics"]


def test_a_body_of_another_media_type_is_400(standin: StandIn) -> None:
    nhs = nhs_number("adult-full")
    token = standin.token_for(nhs)
    with standin.client() as client:
        slot = free_slot(client, token)
        response = client.post(
            f"{APPOINTMENTS}/Appointment",
            content=booking(slot, nhs),
            headers=headers(token, **{"Content-Type": "application/json"}),
        )
    assert response.status_code == 400
    assert "mimetype" in response.json()["issue"][0]["diagnostics"]


# --- open access ----------------------------------------------------------------------


def test_open_access_takes_any_bearer_and_the_patient_from_the_path(
    open_standin: StandIn,
) -> None:
    nhs = nhs_number("adult-full")
    with open_standin.client() as client:
        response = client.get(f"{PERMISSIONS}/Patient/{nhs}", headers=headers("anything"))
        missing = client.get(f"{PERMISSIONS}/Patient/{nhs}", headers=headers(None))
    assert response.status_code == 200, response.text
    assert missing.status_code == 401
