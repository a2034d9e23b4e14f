"""The patient-facing Access Record specification's own example responses, read through
the mapping (payloads/access_record/, see its README): each section an example holds,
with what a patient would see of it, and its documents."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

import pytest

from app.adapters.gpconnect import fhir_documents, fhir_record
from app.gp.errors import GPSystemUnavailable, PatientNotFound, SectionUnavailable
from app.gp.types import RecordEntry, RecordSection
from tests.adapters.gpconnect.fake_server import load

S = RecordSection
EXAMPLE_NHS_NUMBER = "9999999999"  # the Patient of every example but the full record
FULL_RECORD_NHS_NUMBER = "9465701947"
FULL_RECORDS = ["structured_full_record", "full_record"]  # the 200 example and its file


def example(name: str) -> dict[str, Any]:
    bundle: dict[str, Any] = load(f"access_record/{name}.json")
    return bundle


def read(name: str, section: RecordSection, nhs_number: str) -> dict[str, RecordEntry]:
    found = fhir_record.record_entries_from_bundle(example(name), section, nhs_number=nhs_number)
    return {entry.entry_id: entry for entry in found}


# --- $gpc.getstructuredrecord ------------------------------------------------------------


def test_immunizations_example() -> None:
    [given] = read("structured_immunizations", S.IMMUNISATIONS, EXAMPLE_NHS_NUMBER).values()
    assert (given.term, given.code, given.recorded_on, given.detail) == (
        "First hepatitis A vaccination", "170378007", date(2019, 6, 28),
        "Notes on adminstration of vaccine",
    )  # fmt: skip


def test_allergies_example_with_the_ended_allergy_marked() -> None:
    found = read("structured_allergies", S.ALLERGIES, EXAMPLE_NHS_NUMBER)
    assert {(e.term, e.recorded_on, e.resolved) for e in found.values()} == {
        ("Nut allergy", date(2016, 2, 8), False),
        ("Allergy to paracetemol", date(2016, 1, 8), False),
        ("Amoxicillin 250mg capsules", date(2012, 5, 7), False),
        ("Aspirin 75mg dispersible tablet", date(2011, 5, 7), True),
    }
    nuts = next(e for e in found.values() if e.term == "Nut allergy")
    assert nuts.code == "256349002"
    assert nuts.detail is not None and "Life Threatening" in nuts.detail


def test_repeat_only_example() -> None:
    found = read("structured_repeat_only", S.MEDICATIONS, EXAMPLE_NHS_NUMBER)
    assert {(e.term, e.detail, e.recorded_on, e.resolved) for e in found.values()} == {
        ("Aspirin 75mg dispersible tablets", "TAKE ONE DAILY", date(2016, 8, 11), False),
        ("Amoxicillin 250mg capsules", "TAKE ONE DAILY", date(2016, 5, 10), True),
    }


@pytest.mark.parametrize("name", FULL_RECORDS)
@pytest.mark.parametrize("section", [S.ALLERGIES, S.IMMUNISATIONS])
def test_full_record_nothing_recorded_is_an_empty_section(
    name: str, section: RecordSection
) -> None:
    # Its Lists say "no-content-recorded" (with the note "Information not available").
    assert read(name, section, FULL_RECORD_NHS_NUMBER) == {}


@pytest.mark.parametrize("name", FULL_RECORDS)
def test_full_record_medications(name: str) -> None:
    found = read(name, S.MEDICATIONS, FULL_RECORD_NHS_NUMBER)
    assert {(e.term, e.detail, e.recorded_on, e.resolved) for e in found.values()} == {
        ("Alcohol - Beer or Cider", "Used 2-6 days per week", date(2010, 8, 17), False),
        ("Solvents - Amyl Nitrate", "Used more than once daily", date(2010, 8, 17), False),
        ("Hallucinogens - Ketamine", "Used once per week or less", date(2010, 8, 17), True),
    }


@pytest.mark.parametrize("name", FULL_RECORDS)
def test_full_record_problems(name: str) -> None:
    [problem] = read(name, S.PROBLEMS, FULL_RECORD_NHS_NUMBER).values()
    assert (problem.term, problem.code, problem.recorded_on, problem.detail) == (
        "Chain smoker", "230065006", date(2010, 12, 16),
        "This problem is connected to the Stop Smoking goal",
    )  # fmt: skip


@pytest.mark.parametrize("name", FULL_RECORDS)
def test_full_record_consultations_shown_despite_confidential_items_withheld(name: str) -> None:
    # The consultations List warns `confidential-items` ("Items excluded due to
    # confidentiality and/or patient preferences."): the 49 it holds are shown (H28).
    found = read(name, S.CONSULTATIONS, FULL_RECORD_NHS_NUMBER)
    assert len(found) == 49
    newest = max(found.values(), key=lambda e: e.recorded_on)
    assert (newest.term, newest.recorded_on) == ("Admin", date(2020, 9, 18))
    face_to_face = found["4000000000000000_3244170000000000"]
    assert (face_to_face.term, face_to_face.recorded_on) == (
        "Clinical - Face to face", date(2010, 7, 20),
    )  # fmt: skip
    # The one Encounter without a period is dated by its consultation's List.
    assert found["4000000000000000_cc44170000000000"].recorded_on == date(2011, 2, 16)


@pytest.mark.parametrize("name", FULL_RECORDS)
def test_full_record_investigations_not_implemented_are_unavailable(name: str) -> None:
    # OperationOutcome: warning, not-supported, NOT_IMPLEMENTED, "includeInvestigations".
    with pytest.raises(SectionUnavailable) as raised:
        read(name, S.TEST_RESULTS, FULL_RECORD_NHS_NUMBER)
    assert raised.value.supplier_code == "NOT_IMPLEMENTED"


@pytest.mark.parametrize(
    ("name", "section"),
    [
        ("structured_immunizations", S.IMMUNISATIONS),
        ("structured_allergies", S.ALLERGIES),
        ("structured_repeat_only", S.MEDICATIONS),
        ("structured_full_record", S.MEDICATIONS),
    ],
)
def test_an_example_asked_for_another_nhs_number_is_refused(
    name: str, section: RecordSection
) -> None:
    with pytest.raises(GPSystemUnavailable) as raised:
        read(name, section, "9000000009")
    assert raised.value.supplier_code == "RECORD_PATIENT_MISMATCH"


# --- documents ------------------------------------------------------------------------------

DOCUMENTS_PATIENT_ID = "04603d77-1a4e-4d63-b246-d7504f8bd833"


def test_the_documents_servers_patient_id() -> None:
    found = example("documents_patient")
    assert fhir_documents.document_patient_id(found, nhs_number="9476719931") == "2"
    with pytest.raises(GPSystemUnavailable):
        fhir_documents.document_patient_id(found, nhs_number=EXAMPLE_NHS_NUMBER)
    with pytest.raises(PatientNotFound):
        fhir_documents.document_patient_id(
            {"resourceType": "Bundle", "type": "searchset"}, nhs_number=EXAMPLE_NHS_NUMBER
        )


def test_document_references_example() -> None:
    [document] = fhir_documents.documents_from_bundle(
        example("document_references"),
        patient_id=DOCUMENTS_PATIENT_ID,
        nhs_number=EXAMPLE_NHS_NUMBER,
    )
    # Its id is the Binary's, read with /documents/Binary/{id}.
    assert document.document_id == "07a6483f-732b-461e-86b6-edb665c45510"
    assert (document.title, document.recorded_on, document.content_type, document.size_bytes) == (
        "Discharge Summary", date(2019, 6, 24), "application/msword", 3654,
    )  # fmt: skip
    assert not (document.hidden or document.third_party or document.harmful)


def test_documents_of_another_patient_are_refused() -> None:
    with pytest.raises(GPSystemUnavailable):
        fhir_documents.documents_from_bundle(
            example("document_references"),
            patient_id=DOCUMENTS_PATIENT_ID,
            nhs_number="9000000009",
        )
    with pytest.raises(GPSystemUnavailable):
        fhir_documents.documents_from_bundle(
            example("document_references"), patient_id="2", nhs_number=EXAMPLE_NHS_NUMBER
        )


def test_a_document_labelled_not_for_the_patient_is_hidden() -> None:
    bundle = example("document_references")
    reference = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "DocumentReference"
    )
    reference["meta"]["security"] = [{"system": "http://hl7.org/fhir/v3/ActCode", "code": "NOPAT"}]
    [document] = fhir_documents.documents_from_bundle(
        bundle, patient_id=DOCUMENTS_PATIENT_ID, nhs_number=EXAMPLE_NHS_NUMBER
    )
    assert document.hidden


async def test_binary_example_content() -> None:
    binary = example("binary")
    content = fhir_documents.document_content_from_binary(binary, read_size=4096)
    chunks = [chunk async for chunk in content.chunks]
    data = b"".join(chunks)
    assert len(chunks) == 3 and all(len(chunk) <= 4096 for chunk in chunks)
    assert content.content_type == "application/msword"
    assert data == base64.b64decode(binary["content"]) and data.startswith(b"PK")
    assert content.size_bytes == len(data) == 11705


def test_a_binary_that_is_not_base64_is_a_provider_fault() -> None:
    binary = example("binary") | {"content": "not base64!"}
    with pytest.raises(GPSystemUnavailable):
        fhir_documents.document_content_from_binary(binary)
