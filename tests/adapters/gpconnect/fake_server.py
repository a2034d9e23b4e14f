"""A small, stateful fake of GP Connect's patient-facing APIs for tests: respx routes
over in-memory state.

One practice, one patient, a handful of slots, appointments, medication courses,
prescription requests, one document and the patient's permissions. It serves exactly
the paths of the four OpenAPI specifications (appointments-management-fhir,
access-record-fhir, user-permissions, prescriptions-management-fhir), each at its own
base URL (or all at one), with the platform's checks on every call: the patient's
bearer token, a UUID X-Request-ID, no Spine headers. It is strict enough to catch a
wrong request: a slot taken twice, a cancel body not shaped as the example or of a
stale version, a search without its required parameters, an acute course reordered, a
Task not shaped as the example. Every request is first checked against its API's official
OpenAPI document (`app.standin.specification`, the stand-in's own check): one the document
does not allow fails the test with the violation's text. Payload files in `payloads/` show
the same shapes statically (see payloads/README.md for where they come from).
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx

from app.standin.specification import API, SpecificationViolation, specifications

PAYLOADS = Path(__file__).parent / "payloads"
LONDON = ZoneInfo("Europe/London")
STU3 = "https://fhir.nhs.uk/STU3/"
SPINE_ERRORS = "https://fhir.nhs.uk/STU3/ValueSet/Spine-ErrorOrWarningCode-1"
DELIVERY_CHANNEL = STU3 + "StructureDefinition/Extension-GPConnect-DeliveryChannel-2"
PRACTITIONER_ROLE = STU3 + "StructureDefinition/Extension-GPConnect-PractitionerRole-1"
CANCELLATION_REASON = (
    STU3 + "StructureDefinition/Extension-GPConnect-AppointmentCancellationReason-1"
)
SPINE_HEADERS = ("Ssp-TraceID", "Ssp-From", "Ssp-To", "Ssp-InteractionID")
R4_SPINE_ERRORS = "https://fhir.nhs.uk/R4/ValueSet/Spine-ErrorOrWarningCode-1"
UK_CORE_TASK = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Task"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
PATIENT_TOKEN = "sandbox"  # what SandboxPatientTokens sends

PATIENT_ID = "2"  # the provider's own id for the patient (documents server)
NHS_NUMBER = "9000000009"
PATIENT_REF = NHS_NUMBER  # what the adapter knows the patient by
DOCUMENT_ID = "07a6483f-732b-461e-86b6-edb665c45510"  # the Binary's id
DOCUMENT_BYTES = b"Discharge summary: home with advice." * 4
PERMISSIONS_FULL = {  # the specification's example, GetResponsePermissionsFull
    "medicalRecord": {
        "effectiveDate": "2022-11-01",
        "current": {"accessLevel": "full"},
        "historical": {"accessLevel": "summary"},
    },
    "prescriptions": {"accessLevel": "manage"},
}
FAMILY_NAME = "Wolderton-Rodriguez"
BIRTH_DATE = date(1936, 10, 2)
REPEAT_COURSE = "mr-plan-1"
ACUTE_COURSE = "mr-plan-2"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


# A cancel may carry the elements of the specification's example cancel request, no more.
CANCEL_ELEMENTS = frozenset(load("appointments/cancel_request.json"))


def wire_time(value: datetime) -> str:
    return value.astimezone(LONDON).isoformat(timespec="seconds")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def outcome(status: int, code: str, diagnostics: str = "") -> httpx.Response:
    """A GPConnect-OperationOutcome-1 with a Spine error code."""
    issue: dict[str, Any] = {
        "severity": "error",
        "code": "invalid",
        "details": {"coding": [{"system": SPINE_ERRORS, "code": code, "display": code}]},
    }
    if diagnostics:
        issue["diagnostics"] = diagnostics
    body = {
        "resourceType": "OperationOutcome",
        "meta": {"profile": [STU3 + "StructureDefinition/GPConnect-OperationOutcome-1"]},
        "issue": [issue],
    }
    return httpx.Response(status, json=body)


def r4_outcome(status: int, code: str, diagnostics: str = "") -> httpx.Response:
    """A UK Core OperationOutcome, as the patient-facing prescriptions API returns them."""
    issue: dict[str, Any] = {
        "severity": "error",
        "code": "business-rule",
        "details": {"coding": [{"system": R4_SPINE_ERRORS, "code": code, "display": code}]},
    }
    if diagnostics:
        issue["diagnostics"] = diagnostics
    body = {
        "resourceType": "OperationOutcome",
        "meta": {
            "profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-OperationOutcome"]
        },
        "issue": [issue],
    }
    return httpx.Response(status, json=body)


def names_patient(reference: Any, nhs_number: str) -> bool:
    """The specification's `for` / `requester`: Patient/<NHS number> with its identifier."""
    if not isinstance(reference, dict):
        return False
    identifier = reference.get("identifier") or {}
    return reference.get("reference") == f"Patient/{nhs_number}" and identifier == {
        "system": NHS_NUMBER_SYSTEM,
        "value": nhs_number,
    }


def is_uuid(value: str | None) -> bool:
    try:
        uuid.UUID(value or "")
    except ValueError:
        return False
    return True


def bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in resources],
    }


@dataclass
class FakeSlot:
    slot_id: str
    start: datetime
    minutes: int
    schedule_id: str
    channel: str = "In-person"
    status: str = "free"

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)

    def resource(self) -> dict[str, Any]:
        return {
            "resourceType": "Slot",
            "id": self.slot_id,
            "meta": {"versionId": "1", "profile": [STU3 + "StructureDefinition/GPConnect-Slot-1"]},
            "extension": [{"url": DELIVERY_CHANNEL, "valueCode": self.channel}],
            "serviceType": [{"text": "General appointment"}],
            "schedule": {"reference": f"Schedule/{self.schedule_id}"},
            "status": self.status,
            "start": wire_time(self.start),
            "end": wire_time(self.end),
        }


@dataclass
class FakeGPConnect:
    """The provider's state. `outage` makes every call answer 503 (Retry-After: 120).

    `base_url` serves the Appointments API; `prescriptions_url`, `record_url` and
    `permissions_url` the other three (each `base_url` when not given: their paths do not
    clash). Bearer tokens in `patient_tokens` are accepted. `task_faults` answers the
    next POST /Task calls in turn (None: handle it normally), to break an order
    part-way. `permissions` is the User Permissions API's answer. `violations` holds each
    request the official documents refused (the test failed at the first)."""

    base_url: str
    now: Callable[[], datetime]
    prescriptions_url: str = ""
    record_url: str = ""
    permissions_url: str = ""
    outage: bool = False
    permissions: dict[str, Any] = field(
        default_factory=lambda: json.loads(json.dumps(PERMISSIONS_FULL))
    )
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    patient_tokens: set[str] = field(default_factory=lambda: {PATIENT_TOKEN})
    task_faults: list[httpx.Response | Exception | None] = field(default_factory=list)
    seen_request_ids: dict[str, dict[str, Any]] = field(default_factory=dict)
    slots: dict[str, FakeSlot] = field(default_factory=dict)
    appointments: dict[str, dict[str, Any]] = field(default_factory=dict)
    medication_requests: list[dict[str, Any]] = field(default_factory=list)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    # The structured record the provider answers with (a file under payloads/).
    structured_record: str = "structured_record_bundle.json"
    _next_id: int = 100

    # --- seed --------------------------------------------------------------------------

    def seed(self) -> FakeGPConnect:
        """Free slots tomorrow and the day after (and one in the past), two courses."""
        tomorrow = (self.now().astimezone(LONDON) + timedelta(days=1)).replace(
            hour=9, minute=0, second=0, microsecond=0
        )
        yesterday = tomorrow - timedelta(days=2)
        for number, (start, schedule, channel) in enumerate(
            [
                (tomorrow, "14", "In-person"),
                (tomorrow + timedelta(minutes=15), "14", "In-person"),
                (tomorrow + timedelta(minutes=30), "15", "Telephone"),
                (tomorrow + timedelta(days=1, hours=2), "15", "Telephone"),
                (tomorrow + timedelta(days=1, hours=3), "14", "Video"),
                (yesterday, "14", "In-person"),
            ],
            start=1,
        ):
            self.slots[str(1580 + number)] = FakeSlot(
                str(1580 + number), start.astimezone(UTC), 15, schedule, channel
            )
        self.medication_requests = load("medication_requests_bundle.json")["entry"]
        self.medication_requests = [entry["resource"] for entry in self.medication_requests]
        return self

    def new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    # --- routes ------------------------------------------------------------------------

    def install(self, router: respx.MockRouter) -> FakeGPConnect:
        Route = tuple[str, str, Callable[..., httpx.Response]]
        apis: list[tuple[API, str, list[Route]]] = [
            (
                API.APPOINTMENTS,
                self.base_url,
                [
                    ("GET", r"/Slot", self._search_slots),
                    ("POST", r"/Appointment", self._book),
                    ("GET", r"/Appointment/(?P<ident>[^/]+)", self._read_appointment),
                    ("PUT", r"/Appointment/(?P<ident>[^/]+)", self._cancel),
                    ("GET", r"/Patient/(?P<ident>[^/]+)/Appointment", self._patient_appointments),
                ],
            ),
            (
                API.ACCESS_RECORD,
                self.record_url or self.base_url,
                [
                    ("POST", r"/Patient/\$gpc\.getstructuredrecord", self._structured_record),
                    ("GET", r"/documents/Patient/(?P<ident>[^/]+)", self._document_patient),
                    (
                        "GET",
                        r"/Patient/(?P<ident>[^/]+)/DocumentReference",
                        self._document_references,
                    ),
                    ("GET", r"/documents/Binary/(?P<ident>[^/]+)", self._binary),
                ],
            ),
            (
                API.USER_PERMISSIONS,
                self.permissions_url or self.base_url,
                [("GET", r"/Patient/(?P<ident>[^/$]+)", self._user_permissions)],
            ),
            (
                API.PRESCRIPTIONS,
                self.prescriptions_url or self.base_url,
                [
                    (
                        "GET",
                        r"/Patient/(?P<ident>[^/]+)/MedicationRequest",
                        self._medication_requests,
                    ),
                    ("GET", r"/Task", self._list_tasks),
                    ("POST", r"/Task", self._create_task),
                ],
            ),
        ]
        for api, url, routes in apis:
            base = urlsplit(url)
            prefix = re.escape(base.path.rstrip("/"))
            for method, path, handler in routes:
                router.route(
                    method=method, host=base.hostname, path__regex=rf"^{prefix}{path}$"
                ).mock(side_effect=self._patient_facing(api, handler))
        return self

    def check_specification(self, api: API, request: httpx.Request) -> None:
        """Fail the test if `api`'s official OpenAPI document does not allow `request`."""
        try:
            specifications().check_request(
                api,
                request.method,
                str(request.url),
                dict(request.headers),
                request.content or None,
            )
        except SpecificationViolation as violation:
            text = f"{request.method} {request.url}: not allowed by the {api} document: {violation}"
            self.violations.append(text)
            pytest.fail(text, pytrace=False)

    def _patient_facing(
        self, api: API, handler: Callable[..., httpx.Response]
    ) -> Callable[..., httpx.Response]:
        """The official document's check, then the platform's: the patient's bearer token,
        a UUID X-Request-ID, and no Spine headers (these are not Spine interactions)."""

        def respond(request: httpx.Request, **kwargs: Any) -> httpx.Response:
            self.requests.append(request)
            self.check_specification(api, request)
            if self.outage:
                return httpx.Response(503, headers={"Retry-After": "120"})
            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if token not in self.patient_tokens:
                return httpx.Response(401, json={"error": "invalid_token"})
            if not is_uuid(request.headers.get("X-Request-ID")):
                return r4_outcome(400, "BAD_REQUEST", "X-Request-ID is not present")
            if any(name in request.headers for name in SPINE_HEADERS):
                return r4_outcome(400, "BAD_REQUEST", "Spine headers sent to the platform")
            return handler(request, **kwargs)

        return respond

    # --- patients ----------------------------------------------------------------------

    def patient(self) -> dict[str, Any]:
        resource: dict[str, Any] = load("patient.json")
        return resource

    def _user_permissions(self, request: httpx.Request, ident: str) -> httpx.Response:
        if ident != NHS_NUMBER:
            return outcome(404, "PATIENT_NOT_FOUND")
        return httpx.Response(200, json=self.permissions)

    def _practice_resources(self) -> dict[str, dict[str, Any]]:
        """Practitioners and Locations, from the slot search payload file."""
        return {
            entry["fullUrl"]: entry["resource"]
            for entry in load("slot_search_bundle.json")["entry"]
            if entry["resource"]["resourceType"] in {"Practitioner", "Location"}
        }

    # --- appointments ------------------------------------------------------------------

    def _supporting(self) -> dict[str, dict[str, Any]]:
        """Schedules 14 and 15 with their Practitioner and Location, from the payload file."""
        return {
            entry["fullUrl"]: entry["resource"]
            for entry in load("slot_search_bundle.json")["entry"]
            if entry["resource"]["resourceType"] != "Slot"
        }

    def _search_slots(self, request: httpx.Request) -> httpx.Response:
        params = parse_qsl(request.url.query.decode())
        names = [name for name, _ in params]
        values = dict(params)
        if values.get("status") != "free" or ("_include", "Slot:schedule") not in params:
            return outcome(422, "INVALID_PARAMETER", "status=free and _include required")
        if names.count("start") != 1 or names.count("end") != 1:
            return outcome(422, "INVALID_PARAMETER", "start and end once each")
        start, end = values["start"], values["end"]
        if not (start.startswith("ge") and end.startswith("le")):
            return outcome(422, "INVALID_PARAMETER", "start=ge, end=le")
        low, high = parse_time(start[2:]), parse_time(end[2:])
        if high - low > timedelta(days=14):
            return outcome(422, "INVALID_PARAMETER", "range over two weeks")
        chosen = [
            slot
            for slot in self.slots.values()
            if slot.status == "free" and slot.start >= low and slot.end <= high
        ]
        supporting = self._supporting()
        included: dict[str, dict[str, Any]] = {}
        for slot in chosen:
            schedule = supporting[f"Schedule/{slot.schedule_id}"]
            included[f"Schedule/{slot.schedule_id}"] = schedule
            for actor in schedule["actor"]:
                included[actor["reference"]] = supporting[actor["reference"]]
        return httpx.Response(
            200, json=bundle([slot.resource() for slot in chosen] + list(included.values()))
        )

    def _book(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if "reason" in body:
            return outcome(422, "INVALID_RESOURCE", "Appointment.reason SHALL NOT be used")
        actors = [p.get("actor", {}).get("reference") for p in body.get("participant", [])]
        if f"Patient/{NHS_NUMBER}" not in actors:
            return outcome(404, "PATIENT_NOT_FOUND", "the patient is named by NHS number")
        refs = [s["reference"].split("/")[-1] for s in body.get("slot", [])]
        if not refs or any(ref not in self.slots for ref in refs):
            return outcome(422, "REFERENCE_NOT_FOUND", "no such slot")
        slots = [self.slots[ref] for ref in refs]
        if any(slot.status != "free" for slot in slots):
            return outcome(409, "DUPLICATE_REJECTED", "slot not free")
        if parse_time(body["start"]) != slots[0].start or parse_time(body["end"]) != slots[-1].end:
            return outcome(422, "INVALID_RESOURCE", "start/end do not match the slots")
        if slots[0].start <= self.now():
            return outcome(422, "INVALID_RESOURCE", "appointment is in the past")
        for slot in slots:
            slot.status = "busy"
        schedule = self._supporting()[f"Schedule/{slots[0].schedule_id}"]
        appointment = dict(body)
        appointment["id"] = self.new_id()
        appointment["meta"] = {**body["meta"], "versionId": "1"}
        appointment["extension"] = [
            *body["extension"],
            {"url": DELIVERY_CHANNEL, "valueCode": slots[0].channel},
            *[e for e in schedule.get("extension", []) if e["url"] == PRACTITIONER_ROLE],
        ]
        self.appointments[appointment["id"]] = appointment
        return httpx.Response(
            201,
            json=appointment,
            headers={"Location": f"Appointment/{appointment['id']}/_history/1"},
        )

    def _included(self, request: httpx.Request, appointments: list[dict[str, Any]]) -> list[Any]:
        """The Practitioners and Locations asked for with `_include:recurse`."""
        asked = request.url.params.get_list("_include:recurse")
        kinds = {
            "Appointment:actor:Practitioner": "Practitioner",
            "Appointment:actor:Location": "Location",
        }
        wanted = {kinds[a] for a in asked if a in kinds}
        known = self._practice_resources()
        found: dict[str, dict[str, Any]] = {}
        for appointment in appointments:
            for participant in appointment.get("participant", []):
                ref = participant.get("actor", {}).get("reference", "")
                if ref.split("/")[0] in wanted and ref in known:
                    found[ref] = known[ref]
        return list(found.values())

    def _read_appointment(self, request: httpx.Request, ident: str) -> httpx.Response:
        found = self.appointments.get(ident)
        if found is None:
            return outcome(404, "NO_RECORD_FOUND")
        if request.url.params.get_list("_include:recurse"):
            return httpx.Response(200, json=bundle([found, *self._included(request, [found])]))
        return httpx.Response(
            200, json=found, headers={"ETag": f'W/"{found["meta"]["versionId"]}"'}
        )

    def _cancel(self, request: httpx.Request, ident: str) -> httpx.Response:
        """The specification's cancel: the example's elements of the appointment, of its
        current version (`meta.versionId`), status cancelled, one cancellation reason."""
        current = self.appointments.get(ident)
        if current is None:
            return outcome(404, "NO_RECORD_FOUND")
        body = json.loads(request.content)
        if (body.get("meta") or {}).get("versionId") != current["meta"]["versionId"]:
            return outcome(409, "ACCESS_DENIED", "version mismatch")
        if set(body) - CANCEL_ELEMENTS or body.get("status") != "cancelled":
            return outcome(422, "INVALID_RESOURCE", f"unexpected elements: {sorted(body)}")
        changed = {k for k in set(body) if body.get(k) != current.get(k)}
        if changed - {"status", "extension"}:
            return outcome(422, "INVALID_RESOURCE", f"only status may change: {sorted(changed)}")
        reasons = [e for e in body.get("extension", []) if e["url"] == CANCELLATION_REASON]
        if (
            len(body.get("extension", [])) != 1
            or len(reasons) != 1
            or not reasons[0].get("valueString")
        ):
            return outcome(422, "INVALID_RESOURCE", "one cancellation reason extension required")
        if parse_time(current["start"]) <= self.now():
            return outcome(422, "INVALID_RESOURCE", "appointment is in the past")
        updated = {**current, "status": "cancelled"}
        updated["extension"] = [*current.get("extension", []), *reasons]
        updated["meta"] = {
            **current["meta"],
            "versionId": str(int(current["meta"]["versionId"]) + 1),
        }
        self.appointments[ident] = updated
        for reference in current.get("slot", []):
            slot = self.slots.get(reference["reference"].split("/")[-1])
            if slot is not None:
                slot.status = "free"
        return httpx.Response(200, json=updated)

    def _patient_appointments(self, request: httpx.Request, ident: str) -> httpx.Response:
        starts = request.url.params.get_list("start")
        lows = [s for s in starts if s.startswith("ge")]
        highs = [s for s in starts if s.startswith("le")]
        if len(starts) != 2 or not lows or not highs or "T" in "".join(starts):
            return outcome(422, "INVALID_PARAMETER", "two start dates (ge, le) required")
        low, high = date.fromisoformat(lows[0][2:]), date.fromisoformat(highs[0][2:])
        if low < self.now().astimezone(LONDON).date():
            return outcome(422, "INVALID_PARAMETER", "search range is in the past")
        if ident != NHS_NUMBER:
            return outcome(404, "PATIENT_NOT_FOUND")
        found = [
            appointment
            for appointment in self.appointments.values()
            if low <= parse_time(appointment["start"]).astimezone(LONDON).date() <= high
            and f"Patient/{ident}"
            in [p.get("actor", {}).get("reference") for p in appointment.get("participant", [])]
        ]
        return httpx.Response(200, json=bundle(found + self._included(request, found)))

    # --- prescriptions (R4) ------------------------------------------------------------

    def _medication_requests(self, request: httpx.Request, ident: str) -> httpx.Response:
        if ident != NHS_NUMBER:
            return r4_outcome(404, "PATIENT_NOT_FOUND")
        return httpx.Response(200, json=bundle(self.medication_requests))

    def _list_tasks(self, request: httpx.Request) -> httpx.Response:
        patient = request.url.params.get("patient")
        found = [t for t in self.tasks.values() if patient and names_patient(t["for"], patient)]
        return httpx.Response(200, json=bundle(found))

    def _create_task(self, request: httpx.Request) -> httpx.Response:
        if self.task_faults:
            fault = self.task_faults.pop(0)
            if isinstance(fault, Exception):
                raise fault
            if fault is not None:
                return fault
        request_id = request.headers["X-Request-ID"]
        if request_id in self.seen_request_ids:  # the platform de-duplicates re-sends
            return httpx.Response(201, json=self.seen_request_ids[request_id])
        body = json.loads(request.content)
        shape = (
            body.get("resourceType") == "Task"
            and UK_CORE_TASK in (body.get("meta") or {}).get("profile", [])
            and body.get("status") == "requested"
            and body.get("intent") == "order"
            and [c.get("code") for c in (body.get("code") or {}).get("coding", [])] == ["103742009"]
            and all(is_uuid(i.get("value")) for i in body.get("identifier") or [{}])
        )
        if not shape:
            return r4_outcome(422, "INVALID_RESOURCE", "Task resource failed validation")
        if not names_patient(body.get("for"), NHS_NUMBER):
            return r4_outcome(422, "REFERENCE_NOT_FOUND", "for reference to Patient not valid")
        if not names_patient(body.get("requester"), NHS_NUMBER):
            return r4_outcome(
                422, "REFERENCE_NOT_FOUND", "requester reference to Patient not valid"
            )
        course_id = body.get("focus", {}).get("reference", "").split("/")[-1]
        plans = {r["id"]: r for r in self.medication_requests if r.get("intent") == "plan"}
        plan = plans.get(course_id)
        if plan is None:
            return r4_outcome(422, "REFERENCE_NOT_FOUND", "focus reference not valid")
        codes = [c["code"] for c in plan.get("courseOfTherapyType", {}).get("coding", [])]
        if "acute" in codes:
            return r4_outcome(422, "INVALID_RESOURCE", "acute medication cannot be reordered")
        pending = [
            t
            for t in self.tasks.values()
            if t["focus"]["reference"].endswith(f"/{course_id}") and t["status"] == "requested"
        ]
        if pending:
            return r4_outcome(409, "DUPLICATE_REJECTED", "a request for this medication is pending")
        task = {**body, "id": str(uuid.uuid4())}
        self.tasks[task["id"]] = task
        self.seen_request_ids[request_id] = task
        return httpx.Response(201, json=task)

    # --- the record --------------------------------------------------------------------

    def _structured_record(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        parameters = body.get("parameter") or []
        if not parameters or parameters[0].get("name") != "patientNHSNumber":
            return outcome(422, "INVALID_PARAMETER", "patientNHSNumber is not provided")
        nhs = parameters[0]["valueIdentifier"]["value"]
        if nhs != NHS_NUMBER:
            return outcome(404, "PATIENT_NOT_FOUND")
        if len(parameters) == 1:
            # Nothing clinical asked for: the administrative resources every answer carries.
            return httpx.Response(200, json={**bundle([self.patient()]), "type": "collection"})
        return httpx.Response(200, json=load(self.structured_record))

    # --- documents ---------------------------------------------------------------------

    def seed_document(self, **changes: Any) -> dict[str, Any]:
        """One DocumentReference (as the specification's example), its Binary's content."""
        reference: dict[str, Any] = {
            "resourceType": "DocumentReference",
            "id": "27863182736",
            "status": "current",
            "type": {
                "coding": [
                    {
                        "system": "http://snomed.info/sct",
                        "code": "824331000000106",
                        "display": "Inpatient final discharge letter",
                    }
                ]
            },
            "subject": {"reference": f"Patient/{PATIENT_ID}"},
            "created": "2024-06-24T09:35:00+01:00",
            "indexed": "2024-07-02T09:43:41+01:00",
            "description": "Discharge Summary",
            "content": [
                {
                    "attachment": {
                        "contentType": "text/plain",
                        "url": f"http://exampleGPSystem.co.uk/GP0001/STU3/1/gpconnect-documents/Binary/{DOCUMENT_ID}",
                        "size": len(DOCUMENT_BYTES),
                    }
                }
            ],
            **changes,
        }
        self.documents[reference["id"]] = reference
        return reference

    def _document_patient(self, request: httpx.Request, ident: str) -> httpx.Response:
        if ident != NHS_NUMBER:
            return outcome(404, "PATIENT_NOT_FOUND")
        return httpx.Response(200, json=bundle([self.patient()]))

    def _document_references(self, request: httpx.Request, ident: str) -> httpx.Response:
        params = parse_qsl(request.url.query.decode())
        if ("patientNHSNumber", NHS_NUMBER) not in params:
            return outcome(422, "INVALID_PARAMETER", "patientNHSNumber is not provided")
        if ("_include", "DocumentReference:subject:Patient") not in params:
            return outcome(400, "INVALID_PARAMETER", "mandatory _include parameters")
        if ident != PATIENT_ID:
            return outcome(404, "PATIENT_NOT_FOUND")
        return httpx.Response(200, json=bundle([self.patient(), *self.documents.values()]))

    def _binary(self, request: httpx.Request, ident: str) -> httpx.Response:
        if request.url.params.get("patientNHSNumber") != NHS_NUMBER:
            return outcome(422, "INVALID_PARAMETER", "patientNHSNumber is not provided")
        if ident != DOCUMENT_ID or not self.documents:
            return outcome(404, "NO_RECORD_FOUND")
        return httpx.Response(
            200,
            json={
                "resourceType": "Binary",
                "id": ident,
                "contentType": "text/plain",
                "content": base64.b64encode(DOCUMENT_BYTES).decode(),
            },
        )
