"""The structured record mapping against GP Connect's own example responses.

Each official example response (payloads/structured/, see its README) is read as
the adapter reads a provider's answer: what it shows, what it leaves out, and
where it must say "not available" rather than "nothing recorded".
"""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest

from app.adapters.gpconnect import GPConnectAdapter, fhir_record
from app.adapters.gpconnect import interactions as wire
from app.gp.errors import SectionUnavailable
from app.gp.types import RecordEntry, RecordSection
from tests.adapters.gpconnect.fake_server import FakeGPConnect, load

S = RecordSection


def first(bundle: dict[str, Any], resource_type: str) -> dict[str, Any]:
    resource: dict[str, Any] = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type
    )
    return resource


def example(name: str) -> dict[str, Any]:
    bundle: dict[str, Any] = load(f"structured/{name}.json")
    return bundle


def entries(name: str, section: RecordSection) -> list[RecordEntry]:
    return fhir_record.record_entries_from_bundle(example(name), section)


def by_id(found: list[RecordEntry]) -> dict[str, RecordEntry]:
    return {entry.entry_id: entry for entry in found}


# --- allergies ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["allergies_response1", "consultations_forwards_response1"])
def test_ended_allergies_are_kept_from_their_own_list_and_marked_resolved(name: str) -> None:
    found = by_id(entries(name, S.ALLERGIES))
    assert set(found) == {
        "6bff710a-0bdc-4c9b-b98b-40db0a107edc",
        "5eb0f76a-cecb-4b83-999d-ddb76e551a9b",
        "d92b7d42-554d-4c92-b829-e76508185702",
        "Resolved-1",  # contained in the ended-allergies List
    }
    resolved = found["Resolved-1"]
    assert resolved.resolved and resolved.term == "Aspirin 75mg dispersible tablet"
    assert resolved.recorded_on == date(2011, 5, 7)
    assert not any(e.resolved for key, e in found.items() if key != "Resolved-1")
    peanut = found["5eb0f76a-cecb-4b83-999d-ddb76e551a9b"]
    assert (peanut.code, peanut.recorded_on) == ("256349002", date(2016, 2, 8))
    # The term as the clinician recorded it (code.text), which the two examples word apart.
    assert peanut.term in {"Nut allergy", "Peanut - dietary"}
    assert peanut.detail is not None and "Life Threatening" in peanut.detail


def test_one_allergy() -> None:
    [entry] = entries("allergies_response2", S.ALLERGIES)
    assert (entry.term, entry.recorded_on) == ("No known allergy", date(2012, 5, 7))


def test_no_content_recorded_is_an_empty_list() -> None:
    # The List says nothing is recorded (emptyReason no-content-recorded): truly none.
    assert entries("allergies_response3", S.ALLERGIES) == []


def test_a_list_warning_or_another_empty_reason_makes_the_section_unavailable() -> None:
    for warning in ("confidential-items", "data-in-transit"):
        bundle = example("allergies_response1")
        active = next(r for r in _lists(bundle) if wire.LIST_ALLERGIES in json.dumps(r.get("code")))
        active["extension"] = [
            {
                "url": "https://fhir.nhs.uk/STU3/StructureDefinition/"
                "Extension-CareConnect-GPC-ListWarningCode-1",
                "valueCode": warning,
            }
        ]
        with pytest.raises(SectionUnavailable):
            fhir_record.record_entries_from_bundle(bundle, S.ALLERGIES)
    bundle = example("allergies_response3")
    [empty] = _lists(bundle)
    empty["emptyReason"]["coding"][0]["code"] = "withheld"
    with pytest.raises(SectionUnavailable):
        fhir_record.record_entries_from_bundle(bundle, S.ALLERGIES)


def test_results_awaiting_filing_do_not_make_the_section_unavailable() -> None:
    bundle = example("pathology_response2")
    [investigations] = _lists(bundle)
    investigations["extension"] = [
        {"url": "Extension-CareConnect-GPC-ListWarningCode-1", "valueCode": "data-awaiting-filing"}
    ]
    assert len(fhir_record.record_entries_from_bundle(bundle, S.TEST_RESULTS)) == 1


def _lists(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        entry["resource"]
        for entry in bundle["entry"]
        if entry.get("resource", {}).get("resourceType") == "List"
    ]


# --- medications, problems, consultations ---------------------------------------------------------


def test_medications_with_their_dosage_past_ones_marked() -> None:
    found = by_id(entries("meds_response", S.MEDICATIONS))
    assert len(found) == 3
    aspirin = found["791ceb40-db0a-491d-ab0f-22f5a08509fd"]
    assert (aspirin.term, aspirin.detail, aspirin.resolved) == (
        "Aspirin 75mg dispersible tablets", "TAKE ONE DAILY", False,
    )  # fmt: skip
    assert found["6bff710a-0bdc-4c9b-b98b-40db0a107edc"].resolved  # completed


def test_a_problem_with_a_non_standard_note_does_not_lose_the_section() -> None:
    found = by_id(entries("consultations_response1", S.PROBLEMS))
    assert len(found) == 4
    legs = found["Problem-B-Swollen-Legs"]
    assert legs.term == "Swollen legs"
    assert legs.detail == "due to obesity and poor mobility and previous DVT"


def test_consultations() -> None:
    found = entries("consultations_response1", S.CONSULTATIONS)
    assert [(e.entry_id, e.recorded_on) for e in found] == [
        ("Encounter3", date(2019, 6, 1)),
        ("Encounter2", date(2019, 5, 1)),
        ("Encounter1", date(2019, 3, 28)),
    ]
    assert {e.term for e in found} == {"Surgery Consultation"}


@pytest.mark.parametrize(
    ("name", "section"),
    [
        # The provider did not recognise includeConsultations (its OperationOutcome says so).
        ("consultations_forwards_response1", S.CONSULTATIONS),
        ("consultations_response2", S.CONSULTATIONS),
        ("consultations_response3", S.CONSULTATIONS),
        ("problems_response2", S.PROBLEMS),
    ],
)
def test_a_section_with_no_list_in_the_answer_is_unavailable_not_empty(
    name: str, section: RecordSection
) -> None:
    with pytest.raises(SectionUnavailable):
        entries(name, section)


def test_an_entry_that_cannot_be_dated_makes_the_section_unavailable() -> None:
    bundle = example("allergies_response2")
    allergy = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "AllergyIntolerance"
    )
    del allergy["assertedDate"]
    allergy.pop("onsetDateTime", None)
    with pytest.raises(SectionUnavailable):
        fhir_record.record_entries_from_bundle(bundle, S.ALLERGIES)


# --- immunisations ------------------------------------------------------------------------------


def test_a_given_immunisation_is_named_by_its_procedure_when_the_vaccine_is_not_coded() -> None:
    [entry] = entries("immunizations_response1", S.IMMUNISATIONS)
    assert (entry.term, entry.code, entry.recorded_on) == (
        "First hepatitis A vaccination", "170378007", date(2019, 6, 28),
    )  # fmt: skip


def test_a_not_given_immunisation_is_not_shown_as_given() -> None:
    [entry] = entries("immunizations_response2", S.IMMUNISATIONS)
    assert entry.entry_id == "eba25af1-5b74-4790-aa5a-2134fd27ad45"
    assert "not done" not in entry.term


def test_a_consent_record_is_not_an_immunisation() -> None:
    assert entries("immunizations_response3", S.IMMUNISATIONS) == []


# --- investigations -------------------------------------------------------------------------------


def test_a_test_group_is_followed_to_each_test_with_value_unit_and_range() -> None:
    found = by_id(entries("pathology_response1", S.TEST_RESULTS))
    assert len(found) == 18  # the full blood count's members, not the group header
    assert "dacb177a-9501-4dcc-8b22-b941791ae0db" not in found
    white_cells = found["dacb177a-9501-4dcc-8b22-b941791ae067"]
    assert (white_cells.term, white_cells.code, white_cells.recorded_on) == (
        "Total white cell count", "1022541000000102", date(2019, 4, 3),
    )  # fmt: skip
    assert white_cells.filed and white_cells.result is not None
    result = white_cells.result
    assert (result.text, result.number, result.unit) == ("5.7", 5.7, "10*9/L")
    assert (result.range_low, result.range_high, result.range_text) == (3.5, 11.0, "3.5 - 11")
    red_cells = found["32685afe-1d46-4d98-8279-39b9e96ee914"].result
    assert red_cells is not None and red_cells.range_text == "less than 3.8 to 5"
    assert all(e.result is not None for e in found.values())


def test_a_single_test_report() -> None:
    [psa] = entries("pathology_response2", S.TEST_RESULTS)
    assert psa.term == "Prostate specific antigen level" and psa.result is not None
    assert (psa.result.number, psa.result.unit, psa.result.range_high) == (5.9, "ug/L", 4.0)


def test_a_report_not_yet_final_is_not_filed() -> None:
    bundle = example("pathology_response1")
    report = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "DiagnosticReport"
    )
    report["status"] = "partial"
    assert not any(e.filed for e in fhir_record.record_entries_from_bundle(bundle, S.TEST_RESULTS))


# --- through the adapter, on the wire ----------------------------------------------------------


async def test_the_request_names_the_operation_and_asks_for_given_immunisations_only(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect
) -> None:
    fake_server.structured_record = "structured/immunizations_response2.json"
    found = await adapter.list_record_entries("2", S.IMMUNISATIONS)
    assert [e.entry_id for e in found] == ["eba25af1-5b74-4790-aa5a-2134fd27ad45"]
    (call,) = [r for r in fake_server.requests if r.url.path.endswith("$gpc.getstructuredrecord")]
    body = json.loads(call.content)
    assert body["meta"]["profile"] == [
        "https://fhir.nhs.uk/STU3/OperationDefinition/GPConnect-GetStructuredRecord-Operation-1"
    ]
    assert body["parameter"][1] == {
        "name": "includeImmunisations",
        "part": [
            {"name": "includeNotGiven", "valueBoolean": False},
            {"name": "includeStatus", "valueBoolean": False},
        ],
    }


@pytest.mark.parametrize(
    ("name", "section", "count"),
    [
        ("allergies_response1", S.ALLERGIES, 4),
        ("meds_response", S.MEDICATIONS, 3),
        ("consultations_response1", S.PROBLEMS, 4),
        ("consultations_response1", S.CONSULTATIONS, 3),
        ("immunizations_response1", S.IMMUNISATIONS, 1),
        ("pathology_response1", S.TEST_RESULTS, 18),
    ],
)
async def test_every_official_example_reads_through_the_adapter(
    adapter: GPConnectAdapter,
    fake_server: FakeGPConnect,
    name: str,
    section: RecordSection,
    count: int,
) -> None:
    fake_server.structured_record = f"structured/{name}.json"
    found = await adapter.list_record_entries("2", section)
    assert len(found) == count
    assert found == sorted(found, key=lambda e: (e.recorded_on, e.entry_id), reverse=True)


async def test_an_unavailable_section_reaches_the_caller_as_such(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect
) -> None:
    fake_server.structured_record = "structured/consultations_forwards_response1.json"
    with pytest.raises(SectionUnavailable):
        await adapter.list_record_entries("2", S.CONSULTATIONS)
    # Not an outage: the next section is read as usual.
    assert len(await adapter.list_record_entries("2", S.MEDICATIONS)) == 2


def test_examples_are_not_changed_by_reading_them() -> None:
    bundle = example("pathology_response1")
    before = copy.deepcopy(bundle)
    fhir_record.record_entries_from_bundle(bundle, S.TEST_RESULTS)
    assert bundle == before
