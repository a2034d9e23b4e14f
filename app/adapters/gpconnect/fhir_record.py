"""Access Record Structured (FHIR STU3) resources ↔ record entries (pure functions, no I/O).

Checked against the GP Connect Access Record Structured specification, the
patient-facing Access Record specification and their example responses
(tests/adapters/gpconnect/payloads/structured/ and access_record/):

- the answer is for the patient asked for: a Bundle whose Patient carries another
  NHS number is a provider fault, never shown;
- each clinical area comes back as a primary `List` (by SNOMED code); a List with a
  `data-in-transit` warning, an `emptyReason` other than "no content recorded", no
  primary List at all, or an `OperationOutcome` saying the area is `NOT_IMPLEMENTED`
  at the provider means the section cannot be shown: `SectionUnavailable`, never an
  empty list;
- a `confidential-items` warning means the provider has already left out what the
  practice or the patient keeps confidential: the rest is shown, with no marker
  (hazard log H28);
- ended (resolved) allergies come in a List of their own whose items are
  contained in it (`#id` references), marked resolved;
- immunisations: only `Immunization`s that were given; "not given" records and
  consent or dissent records (`Observation`s) are not immunisations;
- results: `DiagnosticReport` → `Observation` (a test group header, whose
  `related` has-member items are the tests) → one entry per test, with its
  value, unit and reference range, named with its group ("Full blood count:
  Haemoglobin"); a report's conclusion is an entry of its own;
- free-text fields (`note`, `comment`) are read however a supplier shaped them:
  an odd note is not a reason to lose the section.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from app.adapters.gpconnect import interactions as wire
from app.adapters.gpconnect.fhir import (
    JSON,
    Resource,
    ResourceIndex,
    _first,
    bundle_resources,
    concept_code,
    concept_text,
    fhir_date,
    nhs_number_of,
    ref_id,
)
from app.gp.errors import GPSystemUnavailable, SectionUnavailable
from app.gp.types import RecordEntry, RecordSection, ResultValue

logger = logging.getLogger(__name__)

SECTION_LISTS: dict[RecordSection, str] = {
    RecordSection.ALLERGIES: wire.LIST_ALLERGIES,
    RecordSection.MEDICATIONS: wire.LIST_MEDICATIONS,
    RecordSection.PROBLEMS: wire.LIST_PROBLEMS,
    RecordSection.IMMUNISATIONS: wire.LIST_IMMUNISATIONS,
    RecordSection.CONSULTATIONS: wire.LIST_CONSULTATIONS,
    RecordSection.TEST_RESULTS: wire.LIST_INVESTIGATIONS,
}
ENDED_ALLERGIES_LIST = "1103671000000101"  # Ended allergies
# Titles the ended-allergies List had before it had its code (example responses use "TBD").
ENDED_ALLERGIES_TITLES = frozenset({"resolved allergies", "ended allergies"})
SNOMED = "http://snomed.info/sct"
CONSULTATION_LIST = "325851000000107"  # Consultation: one per Encounter, with its date

# List warnings that mean items the patient would see are missing from the answer.
UNAVAILABLE_WARNINGS = frozenset({"data-in-transit"})
# Not among them: `confidential-items` (the provider withheld what the practice or the
# patient keeps confidential; the rest is the patient's record as they may see it, H28)
# and `data-awaiting-filing` (results not yet filed are never shown online, the same
# rule the record policy applies to every GP system).
NOTHING_RECORDED = frozenset({"no-content-recorded", "nilknown"})

_FILED_REPORT_STATUSES = frozenset({"final", "amended", "corrected", "appended"})
_ENDED_STATUSES = frozenset({"resolved", "inactive", "remission", "completed", "stopped"})
_NULL_FLAVOUR = "http://hl7.org/fhir/v3/NullFlavor"
VACCINATION_PROCEDURE_EXT = (
    "https://fhir.hl7.org.uk/STU3/StructureDefinition/Extension-CareConnect-VaccinationProcedure-1"
)


# The $gpc.getstructuredrecord parameter asking for each clinical area.
SECTION_PARAMETERS: dict[RecordSection, Resource] = {
    RecordSection.ALLERGIES: {
        "name": "includeAllergies",
        "part": [{"name": "includeResolvedAllergies", "valueBoolean": True}],
    },
    RecordSection.MEDICATIONS: {
        "name": "includeMedication",
        "part": [{"name": "includePrescriptionIssues", "valueBoolean": False}],
    },
    RecordSection.PROBLEMS: {"name": "includeProblems"},
    RecordSection.IMMUNISATIONS: {
        "name": "includeImmunisations",
        # Given immunisations only: no "not given" records, no consent records.
        "part": [
            {"name": "includeNotGiven", "valueBoolean": False},
            {"name": "includeStatus", "valueBoolean": False},
        ],
    },
    RecordSection.CONSULTATIONS: {"name": "includeConsultations"},
    RecordSection.TEST_RESULTS: {"name": "includeInvestigations"},
}
# How a provider may spell a parameter it does not implement, besides ours.
_OTHER_SPELLINGS: dict[RecordSection, tuple[str, ...]] = {
    RecordSection.IMMUNISATIONS: ("includeImmunizations",),  # the patient-facing example
}


def structured_record_parameters(nhs_number: str, section: RecordSection | None = None) -> Resource:
    """The $gpc.getstructuredrecord Parameters asking for one clinical area, or for none:
    the response still carries the Patient (and their practice), as every response
    "must return"."""
    parameters: list[Resource] = [
        {
            "name": "patientNHSNumber",
            "valueIdentifier": {"system": wire.NHS_NUMBER_SYSTEM, "value": nhs_number},
        }
    ]
    if section is not None:
        parameters.append(copy.deepcopy(SECTION_PARAMETERS[section]))
    return {
        "resourceType": "Parameters",
        # The operation's OperationDefinition, as the example requests give it.
        "meta": {"profile": [wire.STRUCTURED_RECORD_OPERATION_PROFILE]},
        "parameter": parameters,
    }


# --- whose record, and what the provider could not answer ------------------------------


def _check_patient(bundle: JSON, nhs_number: str) -> None:
    """Refuse a record that is not the requested patient's: every response holds the Patient
    matching the NHS number asked for (the specification), and no other."""
    numbers = [nhs_number_of(patient) for patient in bundle_resources(bundle, "Patient")]
    if nhs_number in numbers and all(number == nhs_number for number in numbers):
        return
    # Never the numbers themselves: they identify patients.
    logger.error(
        "GP Connect structured record was not for the patient asked for",
        extra={"patients": len(numbers)},
    )
    raise GPSystemUnavailable(supplier_code="RECORD_PATIENT_MISMATCH")


def _parameter_names(section: RecordSection) -> set[str]:
    parameter = SECTION_PARAMETERS[section]
    names = {str(parameter["name"]), *_OTHER_SPELLINGS.get(section, ())}
    return names | {str(part["name"]) for part in parameter.get("part", [])}


def _check_implemented(bundle: JSON, section: RecordSection) -> None:
    """Raise `SectionUnavailable` when the provider says it does not implement the area.

    The specification's example: an `OperationOutcome` in the Bundle with an issue coded
    `NOT_IMPLEMENTED` (Spine-ErrorOrWarningCode-1) naming the parameter in `diagnostics`
    ("includeInvestigations"); the area's List may be absent or empty. An issue naming
    another area's parameter is about that area; one naming none is taken as this one's.
    """
    ours = _parameter_names(section)
    others = set().union(*(_parameter_names(s) for s in SECTION_PARAMETERS if s is not section))
    for outcome in bundle_resources(bundle, "OperationOutcome"):
        for issue in outcome.get("issue") or []:
            if not isinstance(issue, Mapping) or "NOT_IMPLEMENTED" not in _codes(
                issue.get("details")
            ):
                continue
            said = f"{issue.get('diagnostics')} {(issue.get('details') or {}).get('text')}"
            words = set(re.findall(r"[A-Za-z]+", said))
            if words & ours or not words & others:
                raise SectionUnavailable(supplier_code="NOT_IMPLEMENTED")


# --- lists ------------------------------------------------------------------------------


def _codes(concept: Any) -> set[str]:
    if not isinstance(concept, Mapping):
        return set()
    return {
        str(c["code"])
        for c in concept.get("coding") or []
        if isinstance(c, Mapping) and c.get("code")
    }


def _is_ended_allergies(lst: JSON) -> bool:
    code = _codes(lst.get("code"))
    title = str(lst.get("title") or "").strip().lower()
    return ENDED_ALLERGIES_LIST in code or title in ENDED_ALLERGIES_TITLES


def _warnings(lst: JSON) -> set[str]:
    found: set[str] = set()
    for ext in lst.get("extension") or []:
        if not isinstance(ext, Mapping) or "warningcode" not in str(ext.get("url", "")).lower():
            continue
        if ext.get("valueCode"):
            found.add(str(ext["valueCode"]))
        found |= _codes(ext.get("valueCodeableConcept"))
    return found


def _check_complete(lst: JSON) -> None:
    """Raise `SectionUnavailable` when the List says items are missing or it cannot say."""
    if _warnings(lst) & UNAVAILABLE_WARNINGS:
        raise SectionUnavailable(supplier_code="LIST_WARNING")
    empty_reason = lst.get("emptyReason")
    if empty_reason is not None and not (_codes(empty_reason) & NOTHING_RECORDED):
        raise SectionUnavailable(supplier_code="LIST_EMPTY_REASON")


def _section_lists(bundle: JSON, section: RecordSection) -> list[tuple[JSON, bool]]:
    """The section's primary Lists, each with whether its items are ended allergies."""
    code = SECTION_LISTS[section]
    found: list[tuple[JSON, bool]] = []
    for lst in bundle_resources(bundle, "List"):
        if code in _codes(lst.get("code")):
            found.append((lst, False))
        elif section is RecordSection.ALLERGIES and _is_ended_allergies(lst):
            found.append((lst, True))
    if not any(not ended for _, ended in found):
        # No primary List: the provider did not answer for this area (it may say why in
        # an OperationOutcome). Absent is not the same as empty.
        raise SectionUnavailable(supplier_code="LIST_MISSING")
    return found


def _items(lst: JSON, index: ResourceIndex) -> Iterator[JSON]:
    contained = {f"#{r.get('id')}": r for r in lst.get("contained") or [] if isinstance(r, Mapping)}
    missing = 0
    for entry in lst.get("entry") or []:
        reference = (entry or {}).get("item") or {}
        text = reference.get("reference") if isinstance(reference, Mapping) else None
        resource = contained.get(text) if isinstance(text, str) and text.startswith("#") else None
        resource = resource or index.get(reference)
        if resource is None:
            missing += 1
            continue
        yield resource
    if missing:
        logger.warning(
            "GP Connect List referenced resources it did not send", extra={"count": missing}
        )


def record_entries_from_bundle(
    bundle: JSON, section: RecordSection, *, nhs_number: str
) -> list[RecordEntry]:
    """The entries of one section in the structured record Bundle answering a request for
    the patient with `nhs_number`, newest first.

    Confidential items are withheld by the provider (it never sends them, and warns
    that it did not); GP Connect carries no third-party or harmful flags.
    """
    _check_patient(bundle, nhs_number)
    _check_implemented(bundle, section)
    index = ResourceIndex.of_bundle(bundle)
    consulted = _consultation_dates(bundle) if section is RecordSection.CONSULTATIONS else {}
    entries: dict[str, RecordEntry] = {}
    for lst, ended in _section_lists(bundle, section):
        _check_complete(lst)
        for resource in _items(lst, index):
            for entry in _entries(resource, section, index, ended=ended, consulted=consulted):
                entries.setdefault(entry.entry_id, entry)
    return sorted(entries.values(), key=lambda e: (e.recorded_on, e.entry_id), reverse=True)


# --- resources ------------------------------------------------------------------------------


def _snomed(concept: Any) -> str | None:
    if not isinstance(concept, Mapping):
        return None
    for coding in concept.get("coding") or []:
        if isinstance(coding, Mapping) and coding.get("system") == SNOMED and coding.get("code"):
            return str(coding["code"])
    return concept_code(concept)


def _text(value: Any) -> str | None:
    """Free text however it was shaped: a string, an Annotation, or a list of either."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, Mapping):
        return _text(value.get("text"))
    if isinstance(value, list):
        return "; ".join(t for t in (_text(v) for v in value) if t) or None
    return None


def _consultation_dates(bundle: JSON) -> dict[str, Any]:
    """Each Encounter's date as its consultation `List` (325851000000107) gives it."""
    return {
        f"Encounter/{ref_id(lst.get('encounter'), 'Encounter')}": lst.get("date")
        for lst in bundle_resources(bundle, "List")
        if CONSULTATION_LIST in _codes(lst.get("code")) and lst.get("date")
    }


def _entries(
    resource: JSON,
    section: RecordSection,
    index: ResourceIndex,
    *,
    ended: bool,
    consulted: Mapping[str, Any],
) -> list[RecordEntry]:
    kind = resource.get("resourceType")
    if "entered-in-error" in (resource.get("status"), resource.get("verificationStatus")):
        return []  # recorded by mistake: not part of the record
    if section is RecordSection.TEST_RESULTS:
        return _results(resource, index)
    code: Any = resource.get("code")
    detail: str | None = None
    resolved = ended or str(resource.get("clinicalStatus") or "") in _ENDED_STATUSES
    if section is RecordSection.ALLERGIES and kind == "AllergyIntolerance":
        when = resource.get("assertedDate") or resource.get("onsetDateTime")
        detail = _text(resource.get("note"))
    elif section is RecordSection.MEDICATIONS and kind == "MedicationStatement":
        medication = index.get(resource.get("medicationReference")) or {}
        code = medication.get("code") or resource.get("medicationCodeableConcept")
        when = resource.get("dateAsserted") or (resource.get("effectivePeriod") or {}).get("start")
        detail = _text((_first(resource.get("dosage")) or {}).get("text"))
        resolved = str(resource.get("status") or "") in _ENDED_STATUSES
    elif section is RecordSection.PROBLEMS and kind == "Condition":
        when = resource.get("assertedDate") or resource.get("onsetDateTime")
        detail = _text(resource.get("note"))
    elif section is RecordSection.IMMUNISATIONS and kind == "Immunization":
        if resource.get("notGiven") is True or resource.get("status") not in (None, "completed"):
            return []
        code = _vaccine(resource)
        when = resource.get("date") or resource.get("occurrenceDateTime")
        detail = _text(resource.get("note"))
    elif section is RecordSection.CONSULTATIONS and kind == "Encounter":
        code = _first(resource.get("type"))
        # An Encounter without its period (one in the specification's full-record example)
        # is dated by its consultation's List.
        when = (resource.get("period") or {}).get("start") or consulted.get(
            f"Encounter/{resource.get('id')}"
        )
    else:
        # Not an entry of this section: e.g. a consent record in the immunisations List.
        return []
    return [_entry(resource, section, code, when, detail=detail, resolved=resolved)]


def _entry(
    resource: JSON,
    section: RecordSection,
    code: Any,
    when: Any,
    *,
    detail: str | None = None,
    result: ResultValue | None = None,
    filed: bool = True,
    resolved: bool = False,
) -> RecordEntry:
    recorded_on = fhir_date(when if isinstance(when, str) else None)
    if recorded_on is None or not resource.get("id"):
        # An entry we cannot date cannot be placed under the access rules: the section
        # is not shown rather than shown without it.
        raise SectionUnavailable(supplier_code="UNDATED_ENTRY")
    return RecordEntry(
        entry_id=str(resource["id"]),
        section=section,
        recorded_on=recorded_on,
        term=concept_text(code) or "",
        code=_snomed(code),
        detail=detail,
        result=result,
        filed=filed,
        resolved=resolved,
    )


def _vaccine(immunization: JSON) -> Any:
    """The vaccine's code, or the vaccination procedure where the vaccine is not coded."""
    vaccine = immunization.get("vaccineCode")
    systems = {
        str(c.get("system") or "").strip()
        for c in (vaccine or {}).get("coding") or []
        if isinstance(c, Mapping)
    }
    if vaccine and systems and systems != {_NULL_FLAVOUR}:
        return vaccine
    for ext in immunization.get("extension") or []:
        if isinstance(ext, Mapping) and ext.get("url") == VACCINATION_PROCEDURE_EXT:
            return ext.get("valueCodeableConcept")
    return vaccine


# --- investigations ---------------------------------------------------------------------------


def _results(resource: JSON, index: ResourceIndex) -> list[RecordEntry]:
    kind = resource.get("resourceType")
    if kind == "Observation":
        return [_test(resource, index, report=None, group=None)]
    if kind != "DiagnosticReport":
        return []
    tests = [
        _test(observation, index, report=resource, group=group)
        for observation, group in _tests_of(resource, index)
    ]
    conclusion = _text(resource.get("conclusion"))
    if tests and conclusion is None:
        return tests
    # The report's conclusion is an entry of its own, named by what was tested, so that it
    # is read once beside its results; a report with no tests is that entry alone.
    groups = list(dict.fromkeys(group for _, group in _tests_of(resource, index) if group))
    report = _entry(
        resource,
        RecordSection.TEST_RESULTS,
        resource.get("code"),
        resource.get("issued") or resource.get("effectiveDateTime"),
        detail=conclusion,
        filed=resource.get("status") in _FILED_REPORT_STATUSES,
    )
    if groups:
        report = replace(report, term=", ".join(groups))
    return [report, *tests]


def _tests_of(report: JSON, index: ResourceIndex) -> Iterator[tuple[JSON, str | None]]:
    """The report's tests, each with the name of its test group where it has one: each
    result, or a test group's members (`related` has-member)."""
    for reference in report.get("result") or []:
        observation = index.get(reference)
        if observation is None:
            continue
        members = [
            index.get(related.get("target"))
            for related in observation.get("related") or []
            if isinstance(related, Mapping) and related.get("type") == "has-member"
        ]
        found = [member for member in members if member is not None]
        if found:
            group = concept_text(observation.get("code"))
            for member in found:
                yield member, group
        else:
            yield observation, None


def _test(
    observation: JSON, index: ResourceIndex, *, report: JSON | None, group: str | None
) -> RecordEntry:
    source = report or observation
    when = (
        (report or {}).get("issued")
        or observation.get("issued")
        or observation.get("effectiveDateTime")
        or (report or {}).get("effectiveDateTime")
    )
    entry = _entry(
        observation,
        RecordSection.TEST_RESULTS,
        observation.get("code"),
        when,
        detail=_text(observation.get("comment")),
        result=_value(observation),
        filed=source.get("status") in _FILED_REPORT_STATUSES,
    )
    if group and group != entry.term:
        # The test keeps its group's name ("Full blood count: Haemoglobin estimation"):
        # a test means less without the panel it was part of.
        return replace(entry, term=f"{group}: {entry.term}" if entry.term else group)
    return entry


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _value(observation: JSON) -> ResultValue | None:
    quantity = observation.get("valueQuantity")
    ranges = _first(observation.get("referenceRange")) or {}
    low = _number((ranges.get("low") or {}).get("value"))
    high = _number((ranges.get("high") or {}).get("value"))
    range_text = _text(ranges.get("text"))
    if range_text is None and (low is not None or high is not None):
        range_text = f"{'' if low is None else f'{low:g}'} - {'' if high is None else f'{high:g}'}"
    if isinstance(quantity, Mapping) and quantity.get("value") is not None:
        comparator = str(quantity.get("comparator") or "")
        number = _number(quantity.get("value"))
        return ResultValue(
            text=f"{comparator}{quantity.get('value')}",
            number=None if comparator else number,
            unit=quantity.get("unit") or quantity.get("code"),
            range_low=low,
            range_high=high,
            range_text=range_text,
        )
    text = observation.get("valueString") or concept_text(observation.get("valueCodeableConcept"))
    if text:
        return ResultValue(text=str(text), range_text=range_text)
    return None
