"""Courses and prescription requests by the ids the API shows, never the GP system's.

GP systems number courses and requests in sequence (`A81001-P001-C1`, `…-R3`), so their
own ids would show a viewer the order of what they see and the gaps where the practice
withheld something. The API shows opaque ids (app.patients.ids), takes only those
back, and sends the GP system its own. Page cursors are signed for the list they page
(app.cursors): another patient's, another list's or an altered cursor is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.adapters.sandbox import tables as sandbox
from app.audit.models import AuditRecord
from app.audit.types import AuditAction
from app.config import Settings
from app.db import create_engine
from app.gp.types import CourseKind
from tests.appointments.conftest import audit_rows
from tests.forged_cursors import altered, b64, decodings
from tests.prescriptions.conftest import EMIS, TPP, VISION, MakeOrderer, Orderer

SHOWN_ID = re.compile(r"[a-z2-7]{26}")
GP_ID = re.compile(r"-[CR]\d+")  # the sandbox GP systems' course and request numbering


@dataclass
class GPData:
    """One patient's courses and requests as the sandbox GP system holds them."""

    courses: dict[str, Any]  # GP course id → row
    requests: dict[str, Any]  # GP request id → row
    items: dict[str, list[str]]  # GP request id → GP course ids, in order

    def course_named(self, name: str) -> str:
        """The GP id of the course whose name starts with `name`."""
        (gp_id,) = [c for c, row in self.courses.items() if row.name.startswith(name)]
        return gp_id


async def gp_data(settings: Settings, patient: Orderer) -> GPData:
    engine = create_engine(settings.sandbox_url)
    try:
        async with engine.connect() as connection:
            courses = await connection.execute(
                select(sandbox.courses).where(sandbox.courses.c.patient_ref == patient.patient_ref)
            )
            requests = await connection.execute(
                select(sandbox.prescription_requests).where(
                    sandbox.prescription_requests.c.patient_ref == patient.patient_ref
                )
            )
            items = await connection.execute(
                select(sandbox.prescription_request_items)
                .join(sandbox.prescription_requests)
                .where(sandbox.prescription_requests.c.patient_ref == patient.patient_ref)
                .order_by(
                    sandbox.prescription_request_items.c.request_id,
                    sandbox.prescription_request_items.c.position,
                )
            )
            data = GPData(
                {row.course_id: row for row in courses},
                {row.request_id: row for row in requests},
                {},
            )
            for item in items:
                data.items.setdefault(item.request_id, []).append(item.course_id)
            return data
    finally:
        await engine.dispose()


def new_request(before: GPData, after: GPData) -> str:
    """The GP id of the one request the GP system holds now and did not before."""
    (gp_id,) = set(after.requests) - set(before.requests)
    return gp_id


# --- the lists show shown ids only ---------------------------------------------------------


async def test_courses_and_requests_are_named_by_shown_ids_only(
    orderer: MakeOrderer, ods_code: str, settings: Settings
) -> None:
    patient = await orderer("adult-full", ods_code)
    gp = await gp_data(settings, patient)
    courses = await patient.get("/prescriptions/courses")
    requests = await patient.get("/prescriptions/requests", limit=100)
    assert courses.status_code == requests.status_code == 200

    listed = {c["course_id"]: c["name"] for c in courses.json()["items"]}
    request_ids = [r["request_id"] for r in requests.json()["items"]]
    items = [item for r in requests.json()["items"] for item in r["items"]]
    everything = [*listed, *request_ids, *(item["course_id"] for item in items)]
    assert all(SHOWN_ID.fullmatch(shown_id) for shown_id in everything), everything
    text = courses.text + requests.text
    assert patient.patient_ref not in text and not GP_ID.search(text)
    assert not [gp_id for gp_id in [*gp.courses, *gp.requests] if gp_id in text]
    # One id each, and no course shares an id with a request.
    assert len(listed) == len(courses.json()["items"])
    assert len(set(request_ids)) == len(request_ids)
    assert not set(listed) & set(request_ids)

    # Each is the shown id of the GP system's own: every repeat the practice did not hide,
    # and every request that names one of them.
    repeats = {
        gp_id: row
        for gp_id, row in gp.courses.items()
        if row.kind != CourseKind.ACUTE.value and not row.hidden
    }
    assert listed == {patient.shown_course(gp_id): row.name for gp_id, row in repeats.items()}
    hidden = {gp_id for gp_id, row in gp.courses.items() if row.hidden}
    assert set(request_ids) == {
        patient.shown_request(gp_id)
        for gp_id in gp.requests
        if set(gp.items.get(gp_id, [])) - hidden
    }
    # A request's items name courses by the ids the courses list shows them by.
    named = [item for item in items if item["course_id"] in listed]
    assert len(named) >= 3
    assert all(item["name"] == listed[item["course_id"]] for item in named)
    for shown_request in requests.json()["items"]:
        (gp_request,) = [
            g for g in gp.requests if patient.shown_request(g) == shown_request["request_id"]
        ]
        assert [i["course_id"] for i in shown_request["items"]] == [
            patient.shown_course(c) for c in gp.items[gp_request] if c not in hidden
        ]


# --- ordering ---------------------------------------------------------------------------


async def test_an_order_by_a_shown_id_reaches_the_gp_system_by_its_own_id(
    orderer: MakeOrderer, ods_code: str, settings: Settings, app: FastAPI
) -> None:
    patient = await orderer("adult-full", ods_code)
    before = await gp_data(settings, patient)
    gp_amlodipine = before.course_named("Amlodipine")
    amlodipine = (await patient.courses())["Amlodipine"]["course_id"]
    assert amlodipine == patient.shown_course(gp_amlodipine)

    response = await patient.order([amlodipine])

    assert response.status_code == 201, response.text
    after = await gp_data(settings, patient)
    gp_request = new_request(before, after)
    # The GP system was asked for its own course; the patient is shown the request by the
    # id the API shows for it, and the audit names that id.
    assert after.items[gp_request] == [gp_amlodipine]
    body = response.json()
    assert body["request_id"] == patient.shown_request(gp_request)
    assert [i["course_id"] for i in body["items"]] == [amlodipine]
    assert gp_request not in response.text and gp_amlodipine not in response.text
    assert response.headers["Location"].endswith(f"/prescriptions/requests/{body['request_id']}")
    assert len(await audit_rows(app, AuditAction.PRESCRIPTION_REQUESTED, body["request_id"])) == 1
    assert not await audit_rows(app, AuditAction.PRESCRIPTION_REQUESTED, gp_request)


async def test_a_gp_course_id_is_refused_like_a_made_up_one(
    orderer: MakeOrderer, ods_code: str, settings: Settings
) -> None:
    patient = await orderer("adult-full", ods_code)
    before = await gp_data(settings, patient)
    gp_amlodipine = before.course_named("Amlodipine")
    amlodipine = patient.shown_course(gp_amlodipine)
    hidden = patient.shown_course(before.course_named("Acamprosate"))  # hidden by the practice
    made_up = patient.shown_course(patient.gp_course(99))
    assert (await patient.courses())["Amlodipine"]["orderable"] is True

    answers = {
        course_id: await patient.order([course_id])
        for course_id in (gp_amlodipine, hidden, made_up, "made-up")
    }
    mixed = await patient.order([amlodipine, gp_amlodipine])

    def answer(response: httpx.Response) -> tuple[int, dict[str, Any]]:
        body = response.json()
        body.pop("request_id")  # this HTTP request's own trace id
        return response.status_code, body

    for course_id, response in [*answers.items(), (gp_amlodipine, mixed)]:
        assert answer(response) == (
            422,
            {**answer(answers["made-up"])[1], "course_ids": [course_id]},
        ), response.text
        assert response.json()["code"] == "unknown_course"
    # Nothing was ordered, and the course is as orderable as before.
    assert set((await gp_data(settings, patient)).requests) == set(before.requests)
    assert (await patient.courses())["Amlodipine"]["orderable"] is True


# --- one request, and cancelling it -------------------------------------------------------


@pytest.mark.parametrize("practice", [EMIS, VISION])
async def test_a_request_is_found_and_cancelled_by_its_shown_id_only(
    orderer: MakeOrderer, settings: Settings, app: FastAPI, practice: str
) -> None:
    patient = await orderer("adult-full", practice)
    before = await gp_data(settings, patient)
    amlodipine = patient.shown_course(before.course_named("Amlodipine"))
    made = await patient.order([amlodipine])
    assert made.status_code == 201, made.text
    gp_request = new_request(before, await gp_data(settings, patient))
    shown = made.json()["request_id"]
    issued = patient.gp_request(5)  # a seeded request the patient is shown

    for gp_id in (gp_request, issued):
        found = await patient.get(f"/prescriptions/requests/{gp_id}")
        assert (found.status_code, found.json()["code"]) == (404, "not_found"), gp_id
        cancelled = await patient.cancel(gp_id)
        assert (cancelled.status_code, cancelled.json()["code"]) == (404, "not_found"), gp_id
    assert (await gp_data(settings, patient)).requests[gp_request].status == "requested"
    assert not await audit_rows(app, AuditAction.PRESCRIPTION_REQUEST_CANCELLED, gp_request)

    found = await patient.get(f"/prescriptions/requests/{shown}")
    assert (found.status_code, found.json()) == (200, made.json())
    seeded = await patient.get(f"/prescriptions/requests/{patient.shown_request(issued)}")
    assert (seeded.status_code, seeded.json()["status"]) == (200, "issued")

    cancelled = await patient.cancel(shown)

    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["request_id"], cancelled.json()["status"]) == (shown, "cancelled")
    assert [i["course_id"] for i in cancelled.json()["items"]] == [amlodipine]
    assert (await gp_data(settings, patient)).requests[gp_request].status == "cancelled"
    assert len(await audit_rows(app, AuditAction.PRESCRIPTION_REQUEST_CANCELLED, shown)) == 1


# --- cursors ----------------------------------------------------------------------------


async def next_cursor(patient: Orderer, path: str) -> str:
    response = await patient.get(path, limit=1)
    assert response.status_code == 200, response.text
    cursor: str | None = response.json()["next_cursor"]
    assert cursor is not None
    return cursor


async def test_a_requests_cursor_of_another_patient_or_altered_is_refused(
    orderer: MakeOrderer,
) -> None:
    ben = await orderer("relative-proxy")
    for_rose = await orderer("relative-proxy", acts_for="proxied-adult")
    someone_else = await orderer("adult-full", TPP)
    path = "/prescriptions/requests"
    bens, roses, theirs = [
        await next_cursor(patient, path) for patient in (ben, for_rose, someone_else)
    ]
    # Each reads on in the list it was issued for.
    for patient, cursor in ((ben, bens), (for_rose, roses), (someone_else, theirs)):
        assert (await patient.get(path, limit=1, cursor=cursor)).status_code == 200

    refused = [
        (ben, roses),  # the proxy's cursor for the patient they act for, on their own list
        (for_rose, bens),  # and the other way round
        (ben, theirs),  # another patient's, at the same practice
        *((ben, cursor) for cursor in altered(bens, "2099-01-01T00:00:00+00:00", "z" * 26)),
        (ben, b64("p1.2099-01-01T00:00:00+00:00|B82002-P087-R1")),  # the old, unsigned form
    ]
    for patient, cursor in refused:
        response = await patient.get(path, limit=1, cursor=cursor)
        assert (response.status_code, response.json().get("code")) == (400, "invalid_cursor"), (
            cursor
        )


async def test_the_access_log_pages_over_http_by_cursors_bound_to_it(
    orderer: MakeOrderer, app: FastAPI
) -> None:
    patient = await orderer("adult-full", EMIS)
    amlodipine = (await patient.courses())["Amlodipine"]["course_id"]
    first = (await patient.order([amlodipine])).json()["request_id"]
    patient.clock.advance(timedelta(minutes=1))
    assert (await patient.cancel(first)).status_code == 200
    patient.clock.advance(timedelta(minutes=1))
    second = (await patient.order([amlodipine])).json()["request_id"]

    pages: list[list[tuple[str, str]]] = []
    cursors: list[str] = []
    params: dict[str, Any] = {"limit": 1}
    while True:
        response = await patient.get("/access-log", **params)
        assert response.status_code == 200, response.text
        pages.append([(e["action"], e["target"]) for e in response.json()["items"]])
        if response.json()["next_cursor"] is None:
            break
        cursors.append(response.json()["next_cursor"])
        params["cursor"] = cursors[-1]

    assert pages == [
        [("prescription_requested", second)],
        [("prescription_request_cancelled", first)],
        [("prescription_requested", first)],
    ]
    # Another patient's log issues cursors that this one refuses, and so does this log's own
    # cursor altered.
    other = await orderer("adult-full", TPP)
    their_courses = await other.courses()
    for name in ("Amlodipine", "Sertraline"):
        assert (await other.order([their_courses[name]["course_id"]])).status_code == 201
    refused = [
        await next_cursor(other, "/access-log"),
        *altered(cursors[0], "999999"),
        b64("a1.1"),  # the old, unsigned form
    ]
    for cursor in refused:
        response = await patient.get("/access-log", limit=1, cursor=cursor)
        assert (response.status_code, response.json().get("code")) == (400, "invalid_cursor"), (
            cursor
        )
    # Nor does another list of the patient's read the log's cursor.
    response = await patient.get("/prescriptions/requests", limit=1, cursor=cursors[0])
    assert (response.status_code, response.json().get("code")) == (400, "invalid_cursor")


async def test_an_access_log_cursor_shows_no_audit_sequence_number(
    orderer: MakeOrderer, app: FastAPI
) -> None:
    patient = await orderer("adult-full", EMIS)
    courses = await patient.courses()
    for name in ("Amlodipine", "Sertraline"):
        assert (await patient.order([courses[name]["course_id"]])).status_code == 201

    cursor = await next_cursor(patient, "/access-log")
    again = await next_cursor(patient, "/access-log")

    async with app.state.sessionmaker() as db:
        sequences = {str(n) for n in await db.scalars(select(AuditRecord.sequence))}
    assert sequences
    # The same page's cursor is sealed afresh each time: it is no encoding of its position.
    assert again != cursor
    # Nor does any reading of it hold a sequence number as the old cursor ("a1.<n>") or
    # an unsealed position (["<n>"]) would. (Random bytes may hold a digit by chance.)
    for text in decodings(cursor) + decodings(again):
        for sequence in sequences:
            assert f"a1.{sequence}" not in text and f'["{sequence}"]' not in text, text
