"""A patient's whole journey at a GP Connect practice, over HTTP, as under `make run`.

The service (`python -m app`, dev: the NHS login stand-in mounted) reaches the GP
Connect practice D84004 through the practices file at the GP Connect stand-in, a real
process of its own (`python -m app.standin`) serving the sandbox's data for it. The
patient signs in through the dev NHS login as the `gpconnect-adult` persona; every GP
Connect call then carries an access token the stand-in issued for their ID token (the
real token exchange, the client's assertions checked against its key). Only the booking
organisation is left unset: the dev defaults name it.

The service's database is SQLite, or PostgreSQL where the suite runs there
(`TEST_DATABASE_URL`); the stand-in keeps the sandbox's data in a SQLite file of its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey

from app.adapters.gpconnect import apis
from app.adapters.sandbox.personas import GPCONNECT_PRACTICE, Persona, find_persona
from app.config import DEV_APP_REDIRECT_URI
from tests.frozen import SUITE_NOW, SUITE_TODAY
from tests.live_server import LiveServer, free_port, live_server
from tests.standin.conftest import _start, _stop

CLIENT_ID = "gp-online-dev"
PRESCRIPTIONS_PATH = "/gp-connect/patient-facing/prescriptions-management-fhir/FHIR/R4"
SECTIONS = ("allergies", "medications", "problems", "immunisations", "test-results",
            "consultations")  # fmt: skip


@dataclass
class Journey:
    server: LiveServer
    standin_log: Path
    token: str
    patient_id: str

    def client(self) -> httpx.Client:
        return self.server.client(headers={"Authorization": f"Bearer {self.token}"})

    def path(self, tail: str) -> str:
        return f"/v1/patients/{self.patient_id}{tail}"


def practices_file(directory: Path, standin_port: int) -> Path:
    """The GP Connect practice alone, at the stand-in's per-API base URLs."""
    base = f"http://127.0.0.1:{standin_port}"
    practice = {
        "ods_code": GPCONNECT_PRACTICE,
        "name": "Meadow View Surgery",
        "adapter": "gpconnect",
        "endpoints": {
            "appointments": base + apis.APPOINTMENTS_PATH,
            "record": base + apis.ACCESS_RECORD_PATH,
            "permissions": base + apis.USER_PERMISSIONS_PATH,
            "prescriptions": base
            + "/gp-connect/patient-facing/prescriptions-management-fhir/FHIR/R4",
        },
        "timeouts": {"connect": 2.0, "read": 15.0},
    }
    path = directory / "practices.json"
    path.write_text(json.dumps({"practices": [practice]}))
    return path


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_in(server: LiveServer, persona: Persona) -> str:
    """An app's sign-in through the dev NHS login: its bearer token."""
    verifier, challenge = _pkce()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    request = {
        "client_id": CLIENT_ID,
        "redirect_uri": DEV_APP_REDIRECT_URI,
        "response_type": "code",
        "scope": "openid profile gp_registration_details gp_integration_credentials",
        "state": state,
        "nonce": nonce,
        "vtr": '["P9.Cp.Cd"]',
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    with server.client() as client:
        page = client.get(f"/dev/nhs-login/authorize?{urlencode(request)}")
        assert page.status_code == 200, page.text
        back = client.post(
            "/dev/nhs-login/authorize",
            data={**request, "persona": persona.nhs_login_claims["sub"]},
        )
        assert back.status_code == 302, back.text
        returned = dict(parse_qsl(urlsplit(back.headers["location"]).query))
        assert returned["state"] == state
        created = client.post(
            "/v1/auth/session",
            json={
                "code": returned["code"],
                "redirect_uri": DEV_APP_REDIRECT_URI,
                "code_verifier": verifier,
                "nonce": nonce,
            },
        )
    assert created.status_code == 201, created.text
    token: str = created.json()["access_token"]
    return token


@pytest.fixture(scope="module")
def persona() -> Persona:
    return find_persona(SUITE_TODAY, "gpconnect-adult", ods_code=GPCONNECT_PRACTICE)


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory, persona: Persona) -> Iterator[Journey]:
    directory = tmp_path_factory.mktemp("gpconnect-journey")
    client_key = directory / "gpconnect-client-key.pem"
    client_key.write_bytes(RSAKey.generate_key(2048).as_pem(private=True))
    standin_port = free_port()
    practices = practices_file(directory, standin_port)
    env = {
        "APP_ENV": "dev",
        "NHS_LOGIN_CLIENT_ID": CLIENT_ID,
        "NHS_LOGIN_PRIVATE_KEY_FILE": str(directory / "nhs-login-key.pem"),
        "NHS_LOGIN_APP_REDIRECT_URIS": "",
        "PRACTICES_FILE": str(practices),
        # The booking organisation is left to the dev defaults.
        "GPCONNECT_CONSUMER_ODS_CODE": None,
        "GPCONNECT_CONSUMER_TELEPHONE": None,
        "GPCONNECT_PFS_TOKEN_URL": f"http://127.0.0.1:{standin_port}/oauth2/token",
        "GPCONNECT_PFS_CLIENT_ID": CLIENT_ID,
        "GPCONNECT_PFS_PRIVATE_KEY_FILE": str(client_key),
        "GPCONNECT_PFS_KEY_ID": "journey",
    }
    with live_server(directory, env=env) as server:
        standin_env = {
            "APP_ENV": "test",
            "DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'standin-app.db'}",
            "SANDBOX_DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'standin-sandbox.db'}",
            "PRACTICES_FILE": str(practices),
            "PUBLIC_BASE_URL": server.base_url,  # its dev NHS login is the issuer
            "NHS_LOGIN_CLIENT_ID": CLIENT_ID,
            "FROZEN_NOW": SUITE_NOW.isoformat(),
            "LOG_LEVEL": "WARNING",
        }
        args = ["--practice", GPCONNECT_PRACTICE, "--client-key", str(client_key)]
        _, process = _start(directory, args, standin_env, port=standin_port)
        try:
            token = sign_in(server, persona)
            with server.client(headers={"Authorization": f"Bearer {token}"}) as client:
                people = client.get("/v1/me/patients")
            assert people.status_code == 200, people.text
            me = people.json()["items"][0]
            yield Journey(server, directory / "standin.log", token, me["patient_id"])
        finally:
            _stop(process)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return response.json()


def test_the_persona_is_the_practice_patient_signed_in(journey: Journey, persona: Persona) -> None:
    with journey.client() as client:
        people = ok(client.get("/v1/me/patients"))["items"]
        practice = ok(client.get(journey.path("/practice")))
    assert [p["patient_id"] for p in people] == [journey.patient_id]
    me = people[0]
    assert me["display_name"] == f"{persona.given_name} {persona.family_name}"
    assert me["relationship"] == "self"
    assert me["available"] is True
    assert me["practice"] == {"ods_code": GPCONNECT_PRACTICE, "name": "Meadow View Surgery"}
    assert all(me["services"][name]["allowed"] for name in ("appointments", "prescriptions"))
    assert practice["ods_code"] == GPCONNECT_PRACTICE


def test_slots_book_list_and_cancel(journey: Journey) -> None:
    with journey.client() as client:
        found = ok(client.get(journey.path("/slots"), params={"limit": 5}))
        slots = found["items"]
        assert slots, "the practice offers slots"
        slot = slots[0]
        # What the patient chooses from: future times, in order, with whom and where.
        starts = [s["start"] for s in slots]
        assert starts == sorted(starts)
        assert all(s["start"] >= found["start"] and s["end"] > s["start"] for s in slots)
        assert datetime.fromisoformat(slot["start"]) > SUITE_NOW
        assert slot["clinician"] == {"name": "Dr Nia Roberts", "role": "GP"}
        assert slot["location"] == "Room 1, Meadow View Surgery"
        assert slot["type"] == "in_person"
        booked = ok(
            client.post(
                journey.path("/appointments"),
                json={"slot_id": slot["slot_id"], "reason": "A cough that will not go"},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            ),
            201,
        )
        # The booking is the slot chosen.
        assert booked["status"] == "booked"
        assert booked["cancellable"] is True
        assert booked["reason"] == "A cough that will not go"
        for name in ("start", "end", "type", "clinician", "location"):
            assert booked[name] == slot[name], name
        listed = ok(client.get(journey.path("/appointments")))["items"]
        shown = {a["appointment_id"]: a for a in listed}
        assert booked["appointment_id"] in shown, listed
        assert shown[booked["appointment_id"]]["status"] == "booked"
        assert shown[booked["appointment_id"]]["start"] == slot["start"]
        # The slot is taken: it is no longer offered.
        again = ok(client.get(journey.path("/slots"), params={"limit": 5}))["items"]
        assert slot["start"] not in [
            s["start"] for s in again if s["clinician"] == slot["clinician"]
        ]
        cancelled = ok(
            client.post(journey.path(f"/appointments/{booked['appointment_id']}/cancel"), json={})
        )
        assert cancelled["status"] == "cancelled"
        assert cancelled["cancellable"] is False
        assert cancelled["start"] == slot["start"]
        after = ok(client.get(journey.path("/appointments")))["items"]
        offered = ok(client.get(journey.path("/slots"), params={"limit": 5}))["items"]
    statuses = {a["appointment_id"]: a["status"] for a in after}
    # A cancelled appointment is shown as cancelled, or no longer listed.
    assert statuses.get(booked["appointment_id"], "cancelled") == "cancelled"
    # The practice's own appointment for the patient is untouched.
    assert "booked" in statuses.values(), after
    # The slot is free again.
    assert slot["start"] in [s["start"] for s in offered]


def test_order_a_repeat(journey: Journey) -> None:
    with journey.client() as client:
        courses = ok(client.get(journey.path("/prescriptions/courses")))["items"]
        names = {c["name"]: c for c in courses}
        # What the patient sees of their repeat medicines, and why some cannot be ordered.
        assert names["Amlodipine 5mg tablets"]["dosage"] == "One tablet daily"
        assert names["Amlodipine 5mg tablets"]["orderable"] is True
        assert names["Atorvastatin 20mg tablets"]["reason"] == "request_pending"
        assert names["Omeprazole 20mg capsules"]["reason"] == "review_overdue"
        course = names["Amlodipine 5mg tablets"]
        ordered = ok(
            client.post(
                journey.path("/prescriptions/requests"),
                json={"course_ids": [course["course_id"]]},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            ),
            201,
        )
        assert ordered["status"] == "requested"
        assert ordered["requested_by"] == "you"
        assert [(i["course_id"], i["name"], i["status"]) for i in ordered["items"]] == [
            (course["course_id"], "Amlodipine 5mg tablets", "requested")
        ]
        requests = ok(client.get(journey.path("/prescriptions/requests")))["items"]
        after = ok(client.get(journey.path("/prescriptions/courses")))["items"]
    # Newest first: the order just made, as made.
    assert requests[0]["request_id"] == ordered["request_id"], requests
    assert requests[0]["status"] == "requested"
    assert [i["name"] for i in requests[0]["items"]] == ["Amlodipine 5mg tablets"]
    # The medicine cannot be ordered twice while the practice deals with it.
    reordered = {c["course_id"]: c for c in after}[course["course_id"]]
    assert (reordered["orderable"], reordered["reason"]) == (False, "request_pending")


# One entry of each section the patient recognises (the sandbox's record for the persona).
KNOWN_ENTRIES = {
    "allergies": "Penicillin allergy",
    "medications": "Amlodipine 5mg tablets",
    "problems": "Essential hypertension",
    "immunisations": "COVID-19 vaccination",
    "test-results": "Haemoglobin A1c level",
    "consultations": "Blood pressure review",
}


def test_the_record_every_section_and_a_document(journey: Journey) -> None:
    with journey.client() as client:
        overview = ok(client.get(journey.path("/record")))
        assert overview["available"], overview
        assert (overview["level"], overview["historic"]) == ("full", True), overview
        shown = {s["section"] for s in overview["sections"] if s["available"]}
        assert shown >= {*SECTIONS, "documents"}, overview
        for section in SECTIONS:
            body = ok(client.get(journey.path(f"/record/{section}")))
            assert body["available"], (section, body)
            items = body["items"]
            assert KNOWN_ENTRIES[section] in [e["term"] for e in items], (section, items)
            dates = [e["recorded_on"] for e in items]
            assert dates == sorted(dates, reverse=True), (section, dates)  # newest first
            if section == "test-results":
                result = items[0]["result"]
                assert (result["unit"], result["range_low"], result["range_high"]) == (
                    "mmol/mol",
                    20.0,
                    41.0,
                )
        documents = ok(client.get(journey.path("/record/documents")))
        items = documents["items"]
        # Letters the practice withheld (about a relative, a safeguarding report) are not shown.
        assert [(d["title"], d["content_type"]) for d in items] == [
            ("Hospital discharge summary", "text/plain"),
            ("Outpatient clinic letter", "application/pdf"),
        ]
        letter = client.get(journey.path(f"/record/documents/{items[0]['document_id']}/content"))
        pdf = client.get(journey.path(f"/record/documents/{items[1]['document_id']}/content"))
    assert letter.status_code == 200, letter.text
    assert letter.headers["content-type"].split(";")[0] == "text/plain"
    assert letter.content.startswith(b"Discharge summary: admitted for observation")
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"].split(";")[0] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
