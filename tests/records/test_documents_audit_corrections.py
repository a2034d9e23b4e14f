"""Opening documents, the audit of every read, and reporting an inaccuracy."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import replace

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from app.adapters.sandbox import tables
from app.adapters.sandbox.adapter import find_sandbox
from app.adapters.sandbox.profiles import Refusal
from app.adapters.sandbox.supplier import SimulatedSupplier, SupplierError
from app.audit.types import AuditAction
from app.gp.types import Capability, Document, PracticeMessage
from app.patients.ids import IdKind
from app.records import service
from tests.audit.test_audited_actions import account_id, audit_rows
from tests.conftest import SignIn
from tests.patients.test_gp_calls import gp_calls
from tests.records.conftest import HBA1C, Viewer, gp_document_id, gp_entry_id
from tests.records.test_record_api import own_record, proxy_record

# --- documents ------------------------------------------------------------------------------


async def test_a_document_downloads_with_its_type_and_no_store(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await own_record(client, sign_in, "adult-full", ods_code="A81001")
    response = await viewer.get(f"/documents/{viewer.document_id(1)}/content")
    assert response.status_code == 200
    assert response.content.startswith(b"Discharge summary")
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-disposition"] == (
        'attachment; filename="Hospital discharge summary.txt"'
    )
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-length"] == str(len(response.content))


async def test_an_older_pdf_opens_with_historic_access(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await own_record(client, sign_in, "historic-access")
    response = await viewer.get(f"/documents/{viewer.document_id(2)}/content")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert response.headers["content-type"] == "application/pdf"


async def test_withheld_unknown_and_other_peoples_documents_look_the_same(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await own_record(client, sign_in, "adult-full", ods_code="A81001")
    ref = viewer.user.persona.patient_ref
    parent = await sign_in("proxy-parent")
    parents_ref = parent.persona.patient_ref
    others = [
        viewer.document_id(2),  # before the access start
        viewer.document_id(3),  # about a family member
        viewer.document_id(4),  # hidden and potentially harmful
        viewer.document_id(9),  # does not exist
        parent.shown_id(IdKind.DOCUMENT, gp_document_id(parents_ref, 1)),  # another patient's
        # Another patient's document, as their id would be shown to this patient.
        viewer.shown(IdKind.DOCUMENT, gp_document_id(parents_ref, 1)),
        gp_document_id(ref, 1),  # a shown document, by the GP system's id
        viewer.entry_id(2),  # a shown entry's id, not a document's
    ]
    bodies = []
    for document_id in others:
        response = await viewer.get(f"/documents/{document_id}/content")
        assert response.status_code == 404, document_id
        body = response.json()
        bodies.append((body["code"], body["detail"]))
    assert len(set(bodies)) == 1 and bodies[0][0] == "not_found"
    # Someone with no document access gets the same.
    summary = await own_record(client, sign_in, "detailed-only")
    response = await summary.get(f"/documents/{summary.document_id(1)}/content")
    assert (response.status_code, response.json()["detail"]) == (404, bodies[0][1])


async def test_a_document_opens_by_its_shown_id_and_not_by_the_gp_systems_id(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await own_record(client, sign_in, "historic-access")
    ref = viewer.patient_ref
    listed = (await viewer.section("documents"))["items"]
    assert [d["document_id"] for d in listed] == viewer.document_ids(1, 2)
    for document, starts in zip(listed, [b"Discharge summary", b"%PDF"], strict=True):
        response = await viewer.get(f"/documents/{document['document_id']}/content")
        assert response.status_code == 200 and response.content.startswith(starts)
    unknown = await viewer.get(f"/documents/{viewer.document_id(9)}/content")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    # The GP system's id of a document she can open is as unknown as one that does not exist.
    for gp_id in (gp_document_id(ref, 1), gp_document_id(ref, 2)):
        response = await viewer.get(f"/documents/{gp_id}/content")
        assert response.status_code == 404, gp_id
        assert (response.json()["code"], response.json()["detail"]) == (
            unknown.json()["code"], unknown.json()["detail"],
        ), gp_id  # fmt: skip
    rows = await audit_rows(app, AuditAction.DOCUMENT_OPENED)
    assert [r.target for r in rows] == viewer.document_ids(1, 2)


async def test_a_document_over_the_size_limit_is_refused_before_it_is_read(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "MAX_DOCUMENT_BYTES", 10)
    viewer = await own_record(client, sign_in, "adult-full", ods_code="C83003")
    await viewer.get()  # the context, built before counting
    path = f"/documents/{viewer.document_id(1)}/content"
    # One GP call, the list: the sandbox declares each document's size, so the content
    # (which could be many megabytes) is never read into memory.
    assert await gp_calls(app, lambda: viewer.get(path), status=422) == 1
    response = await viewer.get(path)
    assert (response.status_code, response.json()["code"]) == (422, "document_too_large")


async def test_a_document_whose_size_is_not_declared_is_still_refused_when_too_large(
    client: httpx.AsyncClient, sign_in: SignIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "MAX_DOCUMENT_BYTES", 10)
    viewer = await own_record(client, sign_in, "adult-full", ods_code="C83003")
    listed = SimulatedSupplier.list_documents

    async def undeclared(self: SimulatedSupplier, patient_ref: str) -> list[Document]:
        return [replace(d, size_bytes=None) for d in await listed(self, patient_ref)]

    monkeypatch.setattr(SimulatedSupplier, "list_documents", undeclared)
    response = await viewer.get(f"/documents/{viewer.document_id(1)}/content")
    assert (response.status_code, response.json()["code"]) == (422, "document_too_large")


# --- the audit trail -------------------------------------------------------------------------


async def test_each_section_read_and_document_opened_is_audited_without_content(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await own_record(client, sign_in, "adult-full", ods_code="B82002")
    await viewer.section("allergies")
    await viewer.section("test-results", limit=2)
    await viewer.get(f"/test-results/{HBA1C}/series")
    await viewer.section("documents")
    assert (await viewer.get(f"/documents/{viewer.document_id(1)}/content")).status_code == 200
    assert (await viewer.get(f"/documents/{viewer.document_id(3)}/content")).status_code == 404
    await viewer.get()  # the overview reads no record content
    rows = await audit_rows(app, AuditAction.RECORD_SECTION_VIEWED, AuditAction.DOCUMENT_OPENED)
    assert [(r.action, r.target) for r in rows] == [
        (AuditAction.RECORD_SECTION_VIEWED, "allergies"),
        (AuditAction.RECORD_SECTION_VIEWED, "test_results"),
        (AuditAction.RECORD_SECTION_VIEWED, "test_results"),
        (AuditAction.RECORD_SECTION_VIEWED, "documents"),
        # By the id the patient was shown: the audit trail is theirs to read.
        (AuditAction.DOCUMENT_OPENED, viewer.document_id(1)),
    ]
    me = await account_id(app, viewer.user)
    assert all(r.actor_id == me and r.patient_id == viewer.patient_id for r in rows)
    assert not any(r.on_behalf for r in rows)


async def test_a_proxys_reads_are_audited_as_on_behalf_and_unavailable_sections_not_at_all(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await proxy_record(client, sign_in, "proxy-parent", "child-under-11")
    await viewer.section("allergies")
    await viewer.section("consultations")  # not in the parent's access: nothing read
    rows = await audit_rows(app, AuditAction.RECORD_SECTION_VIEWED)
    assert [(r.target, r.on_behalf, r.relationship_kind) for r in rows] == [
        ("allergies", True, "parent")
    ]


async def test_the_patient_sees_their_record_reads_in_the_access_log(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await own_record(client, sign_in, "adult-full", ods_code="A81001")
    await viewer.section("problems")
    log = await client.get(
        f"/v1/patients/{viewer.patient_id}/access-log", headers=viewer.user.headers
    )
    assert [(e["action"], e["target"]) for e in log.json()["items"]][:1] == [
        ("record_section_viewed", "problems")
    ]


# --- corrections --------------------------------------------------------------------------------

SECRET = "not allergic to peanuts, zq-secret-7731"


async def post_correction(viewer: Viewer, body: dict[str, object]) -> httpx.Response:
    """A new report, with a new Idempotency-Key."""
    headers = {**viewer.user.headers, "Idempotency-Key": str(uuid.uuid4())}
    return await viewer.client.post(viewer.base + "/corrections", headers=headers, json=body)


async def test_a_correction_reaches_the_practice_and_is_listed_with_its_status(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    viewer = await own_record(client, sign_in, "adult-full", ods_code="A81001")
    ref = viewer.user.persona.patient_ref
    response = await post_correction(
        viewer, {"section": "allergies", "entry_id": viewer.entry_id(2), "description": SECRET}
    )
    assert response.status_code == 201, response.text
    sent = response.json()
    assert (sent["status"], sent["section"], sent["entry_id"]) == (
        "sent", "allergies", viewer.entry_id(2),
    )  # fmt: skip
    listed = (await viewer.get("/corrections")).json()["items"]
    assert [(c["correction_id"], c["description"], c["entry_id"]) for c in listed] == [
        (sent["correction_id"], SECRET, viewer.entry_id(2))
    ]
    # The practice's GP system has it, with what it is about.
    sandbox = find_sandbox(app.state.gp_registry.for_practice("A81001"))
    async with sandbox.database.engine.connect() as connection:
        message = (
            await connection.execute(
                select(tables.messages).where(tables.messages.c.patient_ref == ref)
            )
        ).one()
    assert message.kind == "record_correction" and message.body == SECRET
    attributes = json.loads(message.attributes)
    # The practice finds the entry by its own GP system's id.
    assert attributes["entry_id"] == gp_entry_id(ref, 2)
    assert attributes["correction_id"] == sent["correction_id"]
    # Audited by id only; the text is in no audit row and no log line.
    [row] = await audit_rows(app, AuditAction.CORRECTION_SUBMITTED)
    assert row.target == sent["correction_id"]
    assert SECRET not in repr(vars(row))
    assert not [r for r in caplog.records if SECRET in r.getMessage() + str(r.__dict__)]


async def test_a_correction_can_name_only_an_entry_the_viewer_can_see(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await own_record(client, sign_in, "adult-full", ods_code="C83003")
    for entry_id in (viewer.entry_id(14), viewer.entry_id(99)):  # hidden; does not exist
        response = await post_correction(
            viewer, {"section": "consultations", "entry_id": entry_id, "description": "Wrong"}
        )
        assert (response.status_code, response.json()["code"]) == (422, "unknown_entry")
    no_section = await post_correction(
        viewer, {"entry_id": viewer.entry_id(13), "description": "x"}
    )
    assert (no_section.status_code, no_section.json()["code"]) == (422, "section_required")
    too_long = await post_correction(viewer, {"description": "x" * 2001})
    assert too_long.status_code == 422
    assert "x" * 50 not in too_long.text  # the text is not echoed back
    empty = await post_correction(viewer, {"description": "   "})
    assert empty.status_code == 422
    assert (await viewer.get("/corrections")).json()["items"] == []


async def test_a_correction_names_an_entry_by_its_shown_id_and_the_practice_gets_its_own(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await own_record(client, sign_in, "historic-access")
    ref = viewer.patient_ref
    # The 2009 asthma, which she sees: not by the GP system's id ...
    by_gp_id = await post_correction(
        viewer, {"section": "problems", "entry_id": gp_entry_id(ref, 3), "description": "Wrong"}
    )
    assert (by_gp_id.status_code, by_gp_id.json()["code"]) == (422, "unknown_entry")
    # ... but by the id she was shown.
    shown = viewer.entry_id(3)
    assert shown in (await viewer.ids("problems") or [])
    response = await post_correction(
        viewer, {"section": "problems", "entry_id": shown, "description": "Never had asthma"}
    )
    assert response.status_code == 201, response.text
    assert (response.json()["status"], response.json()["entry_id"]) == ("sent", shown)
    listed = (await viewer.get("/corrections")).json()["items"]
    assert [(c["correction_id"], c["entry_id"]) for c in listed] == [
        (response.json()["correction_id"], shown)
    ]
    # The practice gets the one correction, naming the entry as its GP system knows it.
    sandbox = find_sandbox(app.state.gp_registry.for_practice(viewer.user.persona.ods_code))
    async with sandbox.database.engine.connect() as connection:
        message = (
            await connection.execute(
                select(tables.messages).where(
                    tables.messages.c.patient_ref == ref,
                    tables.messages.c.kind == "record_correction",
                )
            )
        ).one()
    attributes = json.loads(message.attributes)
    assert (attributes["section"], attributes["entry_id"]) == ("problems", gp_entry_id(ref, 3))
    assert message.body == "Never had asthma" and shown not in message.attributes


async def test_a_correction_the_gp_system_could_not_take_is_kept_as_not_sent(
    client: httpx.AsyncClient, sign_in: SignIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(self: SimulatedSupplier, patient_ref: str, message: PracticeMessage) -> str:
        raise SupplierError(self.profile.code(Refusal.UNAVAILABLE))

    viewer = await own_record(client, sign_in, "adult-full", ods_code="B82002")
    monkeypatch.setattr(SimulatedSupplier, "send_message", refuse)
    response = await post_correction(viewer, {"description": "My address is wrong"})
    assert response.status_code == 503
    monkeypatch.undo()
    [listed] = (await viewer.get("/corrections")).json()["items"]
    assert listed["status"] == "not_sent"


async def test_a_correction_naming_an_entry_the_gp_system_cannot_provide_says_what_to_do(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    """Its section is not available (a record in transit): the entry cannot be checked, so
    the answer is the documented `section_unavailable`, and the report can be sent without
    naming the entry."""
    viewer = await own_record(client, sign_in, "record-in-transit")
    named = await post_correction(
        viewer, {"section": "problems", "entry_id": viewer.entry_id(3), "description": "Wrong"}
    )
    assert named.status_code == 503
    assert named.headers["content-type"] == "application/problem+json"
    assert named.json()["code"] == "section_unavailable"
    assert "without naming the entry" in named.json()["detail"]
    documented = app.openapi()["paths"]["/v1/patients/{patient_id}/record/corrections"]["post"]
    examples = documented["responses"]["503"]["content"]["application/problem+json"]["examples"]
    assert examples["section_unavailable"]["value"]["detail"] == named.json()["detail"]
    assert (await viewer.get("/corrections")).json()["items"] == []

    unnamed = await post_correction(viewer, {"section": "problems", "description": "Wrong"})
    assert unnamed.status_code == 201, unnamed.text


async def test_corrections_are_listed_only_to_the_person_who_made_them(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    parent = await proxy_record(client, sign_in, "proxy-parent", "child-under-11")
    response = await post_correction(parent, {"section": "allergies", "description": "Wrong"})
    assert response.status_code == 201
    assert response.json()["section"] == "allergies"
    assert len((await parent.get("/corrections")).json()["items"]) == 1
    own = await own_record(client, sign_in, "proxy-parent")
    assert (await own.get("/corrections")).json()["items"] == []


# --- a GP system without documents or messages ---------------------------------------------


async def test_a_practice_whose_system_lacks_documents_and_messages_says_so(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await own_record(client, sign_in, "adult-full", ods_code="C83003")
    supplier = find_sandbox(app.state.gp_registry.for_practice("C83003")).supplier
    supplier.profile = replace(
        supplier.profile,
        capabilities=supplier.profile.capabilities
        - {Capability.DOCUMENTS, Capability.PRACTICE_MESSAGES},
    )
    overview = (await viewer.get()).json()
    available = {s["section"]: s["available"] for s in overview["sections"]}
    assert available["documents"] is False and available["allergies"] is True
    documents = await viewer.section("documents")
    assert (documents["available"], documents["reason"]) == (False, "not_offered_at_practice")
    content = await viewer.get(f"/documents/{viewer.document_id(1)}/content")
    assert (content.status_code, content.json()["code"]) == (403, "not_available_at_practice")
    correction = await post_correction(viewer, {"description": "Wrong"})
    assert (correction.status_code, correction.json()["code"]) == (403, "not_available_at_practice")
    assert (await viewer.get("/corrections")).json()["items"] == []


async def test_when_the_audit_cannot_be_written_nothing_is_shown(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await own_record(client, sign_in, "adult-full", ods_code="A81001")
    async with app.state.engine.begin() as connection:
        await connection.execute(text("DROP TABLE audit_events"))
    response = await viewer.get("/allergies")
    assert response.status_code == 500
    assert "Penicillin" not in response.text and "entry_id" not in response.text
    document = await viewer.get(f"/documents/{viewer.document_id(1)}/content")
    assert document.status_code == 500 and b"Discharge" not in document.content
