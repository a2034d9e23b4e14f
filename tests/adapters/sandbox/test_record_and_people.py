"""Linkage, people, relationships, the record and messages through the port."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import select

from app.adapters.sandbox import SandboxGPSystem, tables
from app.gp import errors
from app.gp.port import GPSystem
from app.gp.types import (
    AUTOMATIC_ACCESS_START,
    DemographicMatch,
    GPCredentials,
    MessageKind,
    PracticeMessage,
    RecordAccessLevel,
    RecordGrants,
    RecordSection,
    RelationshipKind,
)
from tests.adapters.sandbox.conftest import PersonaLookup


def credentials(claims: dict[str, str]) -> GPCredentials:
    return GPCredentials(claims["gp_user_id"], claims["gp_linkage_key"], claims["gp_ods_code"])


async def test_satisfies_the_port(emis: SandboxGPSystem) -> None:
    assert isinstance(emis, GPSystem)


async def test_link_every_p9_persona_by_credentials(
    emis: SandboxGPSystem, tpp: SandboxGPSystem, vision: SandboxGPSystem, today: date
) -> None:
    from app.adapters.sandbox.personas import persona_catalogue

    systems = {s.ods_code: s for s in (emis, tpp, vision)}
    for persona in persona_catalogue(today):
        claims = persona.nhs_login_claims.get("gp_integration_credentials")
        if claims is None or persona.ods_code not in systems:  # D84004: over GP Connect
            continue
        linked = await systems[persona.ods_code].link_by_credentials(credentials(dict(claims)))
        assert (linked.user_ref, linked.nhs_number) == (persona.patient_ref, persona.nhs_number)


@pytest.mark.parametrize(("tag", "code"), [("A81001", "-1102"), ("B82002", "4"), ("C83003", "-11")])
async def test_wrong_linkage_key(
    factory: object, persona: PersonaLookup, tag: str, code: str
) -> None:
    from app.adapters.sandbox import SandboxFactory

    assert isinstance(factory, SandboxFactory)
    system = factory.systems[tag]
    claims = dict(persona("adult-full", tag).nhs_login_claims["gp_integration_credentials"])
    with pytest.raises(errors.LinkageFailed) as failed:
        await system.link_by_credentials(replace(credentials(claims), gp_linkage_key="wrong"))
    assert failed.value.supplier_code == code
    with pytest.raises(errors.LinkageFailed):  # another practice's credentials
        await system.link_by_credentials(replace(credentials(claims), ods_code="Z99999"))


async def test_link_by_demographics(emis: SandboxGPSystem, persona: PersonaLookup) -> None:
    p5 = persona("p5-identity")
    match = DemographicMatch(p5.nhs_number, "A81001", p5.family_name.upper(), p5.birth_date)
    linked = await emis.link_by_demographics(match)
    assert linked.user_ref == p5.patient_ref
    with pytest.raises(errors.PatientNotFound) as missing:
        await emis.link_by_demographics(replace(match, birth_date=date(1900, 1, 1)))
    assert missing.value.supplier_code == "-1101"
    with pytest.raises(errors.PatientNotFound):
        await emis.link_by_demographics(replace(match, family_name="Someone"))


async def test_relationships(
    emis: SandboxGPSystem, tpp: SandboxGPSystem, vision: SandboxGPSystem, persona: PersonaLookup
) -> None:
    parent = await emis.list_relationships(persona("proxy-parent").patient_ref)
    assert [r.kind for r in parent] == [RelationshipKind.SELF, RelationshipKind.PARENT]
    assert parent[1].patient.patient_ref == persona("proxy-parent").acts_for[0].patient_ref
    fourteen = (await tpp.list_relationships(persona("parent-of-14").patient_ref))[1]
    assert fourteen.review_recorded
    sixteen = (await vision.list_relationships(persona("parent-of-16").patient_ref))[1]
    assert sixteen.kind is RelationshipKind.PARENT and sixteen.ends_on is None
    with pytest.raises(errors.PatientNotFound):
        await emis.list_relationships("B82002-P008")  # another practice's patient


async def test_record_access_settings(
    emis: SandboxGPSystem, tpp: SandboxGPSystem, vision: SandboxGPSystem, persona: PersonaLookup
) -> None:
    full = await emis.get_record_access(persona("adult-full", "A81001").patient_ref)
    assert full.grants == RecordGrants(summary=True, full_from=AUTOMATIC_ACCESS_START)
    assert full.level is RecordAccessLevel.FULL
    assert (await emis.get_record_access(persona("declined").patient_ref)).declined
    assert (await vision.get_record_access(persona("enhanced-review").patient_ref)).enhanced_review
    assert (await tpp.get_record_access(persona("historic-access").patient_ref)).historic_access


async def test_record_entries_carry_every_visibility_flag(
    emis: SandboxGPSystem, persona: PersonaLookup
) -> None:
    patient = persona("adult-full", "A81001").patient_ref
    entries = [
        entry
        for section in RecordSection
        if section is not RecordSection.DOCUMENTS
        for entry in await emis.list_record_entries(patient, section)
    ]
    assert any(e.recorded_on < AUTOMATIC_ACCESS_START for e in entries)
    assert any(e.recorded_on >= AUTOMATIC_ACCESS_START for e in entries)
    assert any(e.hidden for e in entries) and any(e.third_party for e in entries)
    assert any(e.harmful for e in entries)
    unfiled = [e for e in entries if not e.filed]
    assert unfiled and all(e.section is RecordSection.TEST_RESULTS for e in unfiled)
    consultations = await emis.list_record_entries(patient, RecordSection.CONSULTATIONS)
    assert consultations == sorted(consultations, key=lambda e: e.recorded_on, reverse=True)


async def test_documents(emis: SandboxGPSystem, persona: PersonaLookup) -> None:
    patient = persona("adult-full", "A81001").patient_ref
    documents = await emis.list_documents(patient)
    assert any(d.third_party for d in documents) and any(d.hidden for d in documents)
    pdf = next(d for d in documents if d.content_type == "application/pdf")
    content = await emis.get_document_content(patient, pdf.document_id)
    data = b"".join([chunk async for chunk in content.chunks])
    assert data.startswith(b"%PDF") and len(data) == content.size_bytes == pdf.size_bytes
    with pytest.raises(errors.NotFoundInGPSystem):
        await emis.get_document_content(persona("proxy-parent").patient_ref, pdf.document_id)


async def test_send_message_is_stored_and_not_logged(
    emis: SandboxGPSystem, persona: PersonaLookup, caplog: pytest.LogCaptureFixture
) -> None:
    patient = persona("adult-full", "A81001").patient_ref
    caplog.set_level(logging.DEBUG)
    message_id = await emis.send_message(
        patient,
        PracticeMessage(
            kind=MessageKind.RECORD_CORRECTION,
            subject="Correction",
            body="My allergy is wrong: secret-text-123",
            actor_ref=patient,
            attributes={"entry_id": "A81001-P001-E01"},
        ),
    )
    assert message_id.startswith("A81001-M-")
    async with emis.database.engine.connect() as connection:
        row = (
            await connection.execute(
                select(tables.messages).where(tables.messages.c.message_id == message_id)
            )
        ).one()
    assert row.body.endswith("secret-text-123") and row.kind == "record_correction"
    # The project's own log lines (drivers log SQL parameters at DEBUG, never enabled).
    ours = [r.getMessage() + str(r.__dict__) for r in caplog.records if r.name.startswith("app")]
    assert not any("secret-text-123" in line for line in ours)


async def test_unknown_patient(emis: SandboxGPSystem) -> None:
    with pytest.raises(errors.PatientNotFound):
        await emis.get_patient("nobody")
