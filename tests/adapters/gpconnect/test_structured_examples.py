"""The structured record mapping against GP Connect's own example responses.

Each official example response (payloads/structured/, see its README) is read as
the adapter reads a provider's answer: what it shows, what it leaves out, and
where it must say "not available" rather than "nothing recorded".
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from app.adapters.gpconnect import GPConnectAdapter, fhir_record
from app.adapters.gpconnect import interactions as wire
from app.adapters.gpconnect.fhir import nhs_number_of
from app.gp.errors import GPSystemUnavailable, SectionUnavailable
from app.gp.types import RecordEntry, RecordSection
from tests.adapters.gpconnect.fake_server import NHS_NUMBER, FakeGPConnect, load

S = RecordSection


def first(bundle: dict[str, Any], resource_type: str) -> dict[str, Any]:
    resource: dict[str, Any] = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type
    )
    return resource


def example(name: str) -> dict[str, Any]:
    bundle: dict[str, Any] = load(f"structured/{name}.json")
    return bundle


def patient_number(bundle: dict[str, Any]) -> str:
    """The NHS number of the example's own Patient: the patient it answers for."""
    number = nhs_number_of(first(bundle, "Patient"))
    assert number is not None
    return number


def read(bundle: dict[str, Any], section: RecordSection) -> list[RecordEntry]:
    """The section as read for the patient the example answers for."""
    return fhir_record.record_entries_from_bundle(
        bundle, section, nhs_number=patient_number(bundle)
    )


def entries(name: str, section: RecordSection) -> list[RecordEntry]:
    return read(example(name), section)


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


LIST_WARNING = (
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-CareConnect-GPC-ListWarningCode-1"
)


def _warn(lst: dict[str, Any], warning: str) -> None:
    lst.setdefault("extension", []).append({"url": LIST_WARNING, "valueCode": warning})


def _active_allergies(bundle: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in _lists(bundle) if wire.LIST_ALLERGIES in json.dumps(r.get("code")))


def test_data_in_transit_or_another_empty_reason_makes_the_section_unavailable() -> None:
    bundle = example("allergies_response1")
    _warn(_active_allergies(bundle), "data-in-transit")
    with pytest.raises(SectionUnavailable):
        read(bundle, S.ALLERGIES)
    bundle = example("allergies_response3")
    [empty] = _lists(bundle)
    empty["emptyReason"]["coding"][0]["code"] = "withheld"
    with pytest.raises(SectionUnavailable):
        read(bundle, S.ALLERGIES)


def test_confidential_items_withheld_by_the_provider_leave_the_rest_shown_unmarked() -> None:
    # The provider has already left out what is confidential (H28): what it sent is shown,
    # as it would be without the warning, with nothing to say that anything is missing.
    plain = entries("allergies_response1", S.ALLERGIES)
    bundle = example("allergies_response1")
    for lst in _lists(bundle):
        _warn(lst, "confidential-items")
    assert read(bundle, S.ALLERGIES) == plain
    assert len(plain) == 4


def test_results_awaiting_filing_do_not_make_the_section_unavailable() -> None:
    bundle = example("pathology_response2")
    [investigations] = _lists(bundle)
    investigations["extension"] = [
        {"url": "Extension-CareConnect-GPC-ListWarningCode-1", "valueCode": "data-awaiting-filing"}
    ]
    assert len(read(bundle, S.TEST_RESULTS)) == 1


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


NOT_IMPLEMENTED_EXAMPLE = "consultations_forwards_response1"


@pytest.mark.parametrize("section", [S.CONSULTATIONS, S.PROBLEMS])
def test_an_area_the_provider_does_not_implement_is_unavailable_even_with_an_empty_list(
    section: RecordSection,
) -> None:
    # The example's OperationOutcome: a NOT_IMPLEMENTED warning naming includeConsultations
    # and includeProblems. A provider may also send the area's List, empty.
    bundle = example(NOT_IMPLEMENTED_EXAMPLE)
    bundle["entry"].append(
        {
            "resource": {
                "resourceType": "List",
                "status": "current",
                "mode": "snapshot",
                "code": {"coding": [{"system": fhir_record.SNOMED, "code": _code(section)}]},
                "emptyReason": {"coding": [{"code": "no-content-recorded"}]},
            }
        }
    )
    with pytest.raises(SectionUnavailable) as raised:
        read(bundle, section)
    assert raised.value.supplier_code == "NOT_IMPLEMENTED"


def test_a_not_implemented_warning_for_another_area_leaves_this_one_shown() -> None:
    assert len(entries(NOT_IMPLEMENTED_EXAMPLE, S.ALLERGIES)) == 4
    assert len(entries(NOT_IMPLEMENTED_EXAMPLE, S.MEDICATIONS)) == 2


def test_a_not_implemented_warning_naming_no_area_makes_the_asked_area_unavailable() -> None:
    bundle = example(NOT_IMPLEMENTED_EXAMPLE)
    outcome = first(bundle, "OperationOutcome")
    for issue in outcome["issue"]:
        issue.pop("diagnostics")
        issue["details"].pop("text")
    with pytest.raises(SectionUnavailable):
        read(bundle, S.ALLERGIES)


def _code(section: RecordSection) -> str:
    return fhir_record.SECTION_LISTS[section]


# --- whose record ---------------------------------------------------------------------------


def test_a_record_of_another_nhs_number_is_refused_as_a_provider_fault(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bundle = example("allergies_response1")
    with caplog.at_level(logging.INFO), pytest.raises(GPSystemUnavailable) as raised:
        fhir_record.record_entries_from_bundle(bundle, S.ALLERGIES, nhs_number=NHS_NUMBER)
    assert raised.value.supplier_code == "RECORD_PATIENT_MISMATCH"
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert caplog.records and NHS_NUMBER not in logged and patient_number(bundle) not in logged


def test_a_record_holding_a_second_patient_or_none_is_refused() -> None:
    bundle = example("allergies_response1")
    other = copy.deepcopy(first(bundle, "Patient"))
    other["identifier"][0]["value"] = NHS_NUMBER
    bundle["entry"].append({"resource": other})
    with pytest.raises(GPSystemUnavailable):
        fhir_record.record_entries_from_bundle(bundle, S.ALLERGIES, nhs_number="9999999999")
    bundle = example("allergies_response1")
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Patient"]
    with pytest.raises(GPSystemUnavailable):
        fhir_record.record_entries_from_bundle(bundle, S.ALLERGIES, nhs_number="9999999999")


@pytest.mark.parametrize(
    ("name", "section"),
    [
        # The provider did not recognise includeConsultations (its OperationOutcome says so).
        (NOT_IMPLEMENTED_EXAMPLE, S.CONSULTATIONS),
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
        read(bundle, S.ALLERGIES)


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
    # Named with its test group, coded as the test itself.
    assert (white_cells.term, white_cells.code, white_cells.recorded_on) == (
        "FBC - Full blood count: Total white cell count", "1022541000000102", date(2019, 4, 3),
    )  # fmt: skip
    assert all(e.term.startswith("FBC - Full blood count: ") for e in found.values())
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


def test_a_reports_conclusion_is_shown_once_named_by_its_test_group() -> None:
    bundle = example("pathology_response1")
    report = first(bundle, "DiagnosticReport")
    report["conclusion"] = "Normal blood count. No action needed."
    found = by_id(read(bundle, S.TEST_RESULTS))
    assert len(found) == 19  # the 18 tests and the report's conclusion
    conclusion = found[report["id"]]
    assert (conclusion.term, conclusion.detail, conclusion.recorded_on, conclusion.result) == (
        "FBC - Full blood count", "Normal blood count. No action needed.", date(2019, 4, 3), None,
    )  # fmt: skip
    assert conclusion.filed
    assert sum("No action needed" in (e.detail or "") for e in found.values()) == 1


def test_a_report_not_yet_final_is_not_filed() -> None:
    bundle = example("pathology_response1")
    report = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "DiagnosticReport"
    )
    report["status"] = "partial"
    assert not any(e.filed for e in read(bundle, S.TEST_RESULTS))


# --- through the adapter, on the wire ----------------------------------------------------------


def served(tmp_path: Path, name: str) -> str:
    """The example as the fake provider answers for its patient: the same Bundle, its
    Patient carrying the NHS number asked for. (An absolute path: the fake loads it.)"""
    bundle = example(name)
    first(bundle, "Patient")["identifier"][0]["value"] = NHS_NUMBER
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(bundle))
    return str(path)


async def test_the_request_names_the_operation_and_asks_for_given_immunisations_only(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect, tmp_path: Path
) -> None:
    fake_server.structured_record = served(tmp_path, "immunizations_response2")
    found = await adapter.list_record_entries(NHS_NUMBER, S.IMMUNISATIONS)
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
    tmp_path: Path,
) -> None:
    fake_server.structured_record = served(tmp_path, name)
    found = await adapter.list_record_entries(NHS_NUMBER, section)
    assert len(found) == count
    assert found == sorted(found, key=lambda e: (e.recorded_on, e.entry_id), reverse=True)


async def test_an_unavailable_section_reaches_the_caller_as_such(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect, tmp_path: Path
) -> None:
    fake_server.structured_record = served(tmp_path, NOT_IMPLEMENTED_EXAMPLE)
    with pytest.raises(SectionUnavailable):
        await adapter.list_record_entries(NHS_NUMBER, S.CONSULTATIONS)
    # Not an outage: the next section is read as usual.
    assert len(await adapter.list_record_entries(NHS_NUMBER, S.MEDICATIONS)) == 2


async def test_another_patients_record_never_reaches_the_caller(
    adapter: GPConnectAdapter, fake_server: FakeGPConnect
) -> None:
    # The official example as it is: its Patient is not the one the adapter asked for.
    fake_server.structured_record = "structured/allergies_response1.json"
    with pytest.raises(GPSystemUnavailable):
        await adapter.list_record_entries(NHS_NUMBER, S.ALLERGIES)


def test_examples_are_not_changed_by_reading_them() -> None:
    bundle = example("pathology_response1")
    before = copy.deepcopy(bundle)
    read(bundle, S.TEST_RESULTS)
    assert bundle == before
