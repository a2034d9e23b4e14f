"""Access Record Structured (FHIR STU3) resources ↔ record entries (pure functions, no I/O)."""

from __future__ import annotations

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
)
from app.gp.types import (
    RecordEntry,
    RecordSection,
)

SECTION_LISTS: dict[RecordSection, str] = {
    RecordSection.ALLERGIES: wire.LIST_ALLERGIES,
    RecordSection.MEDICATIONS: wire.LIST_MEDICATIONS,
    RecordSection.PROBLEMS: wire.LIST_PROBLEMS,
    RecordSection.IMMUNISATIONS: wire.LIST_IMMUNISATIONS,
    RecordSection.CONSULTATIONS: wire.LIST_CONSULTATIONS,
    RecordSection.TEST_RESULTS: wire.LIST_INVESTIGATIONS,
}
_FILED_REPORT_STATUSES = frozenset({"final", "amended", "corrected", "appended"})


def structured_record_parameters(nhs_number: str, section: RecordSection) -> Resource:
    """The $gpc.getstructuredrecord Parameters asking for one clinical area."""
    part: dict[RecordSection, Resource] = {
        RecordSection.ALLERGIES: {
            "name": "includeAllergies",
            "part": [{"name": "includeResolvedAllergies", "valueBoolean": True}],
        },
        RecordSection.MEDICATIONS: {
            "name": "includeMedication",
            "part": [{"name": "includePrescriptionIssues", "valueBoolean": False}],
        },
        RecordSection.PROBLEMS: {"name": "includeProblems"},
        RecordSection.IMMUNISATIONS: {"name": "includeImmunisations"},
        RecordSection.CONSULTATIONS: {"name": "includeConsultations"},
        RecordSection.TEST_RESULTS: {"name": "includeInvestigations"},
    }
    return {
        "resourceType": "Parameters",
        "meta": {"profile": [wire.STRUCTURED_RECORD_PARAMETERS_PROFILE]},
        "parameter": [
            {
                "name": "patientNHSNumber",
                "valueIdentifier": {"system": wire.NHS_NUMBER_SYSTEM, "value": nhs_number},
            },
            part[section],
        ],
    }


def record_entries_from_bundle(bundle: JSON, section: RecordSection) -> list[RecordEntry]:
    """The entries of one section's List in a structured record Bundle, newest first.

    Confidential items are withheld by the provider (it never sends them), so nothing
    returned is marked hidden; GP Connect carries no third-party or harmful flags.
    """
    list_code = SECTION_LISTS[section]
    index = ResourceIndex.of_bundle(bundle)
    entries: list[RecordEntry] = []
    for lst in bundle_resources(bundle, "List"):
        if concept_code(lst.get("code")) != list_code:
            continue
        for item in lst.get("entry") or []:
            resource = index.get(item.get("item"))
            if resource is not None:
                entry = _entry(resource, section, index)
                if entry is not None:
                    entries.append(entry)
    return sorted(entries, key=lambda e: (e.recorded_on, e.entry_id), reverse=True)


def _entry(resource: JSON, section: RecordSection, index: ResourceIndex) -> RecordEntry | None:
    kind = resource.get("resourceType")
    code = resource.get("code")
    detail: str | None = None
    filed = True
    if kind == "AllergyIntolerance":
        when = resource.get("assertedDate") or resource.get("recordedDate")
        when = when or resource.get("onsetDateTime")
        detail = _notes(resource)
    elif kind == "MedicationStatement":
        medication = index.get(resource.get("medicationReference")) or {}
        code = medication.get("code") or resource.get("medicationCodeableConcept")
        when = resource.get("dateAsserted") or (resource.get("effectivePeriod") or {}).get("start")
        detail = (_first(resource.get("dosage")) or {}).get("text")
    elif kind == "Condition":
        when = resource.get("assertedDate") or resource.get("recordedDate")
        when = when or resource.get("onsetDateTime")
        detail = _notes(resource)
    elif kind == "Immunization":
        code = resource.get("vaccineCode")
        when = resource.get("date") or resource.get("occurrenceDateTime")
    elif kind == "Encounter":
        code = _first(resource.get("type"))
        when = (resource.get("period") or {}).get("start")
    elif kind in ("DiagnosticReport", "Observation"):
        when = resource.get("issued") or resource.get("effectiveDateTime")
        filed = resource.get("status") in _FILED_REPORT_STATUSES
        detail = _result_values(resource, index)
    else:
        return None
    recorded_on = fhir_date(when)
    if recorded_on is None or not resource.get("id"):
        return None
    return RecordEntry(
        entry_id=str(resource["id"]),
        section=section,
        recorded_on=recorded_on,
        term=concept_text(code) or "",
        code=concept_code(code),
        detail=detail or None,
        filed=filed,
    )


def _notes(resource: JSON) -> str | None:
    texts = [str(note.get("text")) for note in resource.get("note") or [] if note.get("text")]
    return "; ".join(texts) or None


def _value(observation: JSON) -> str | None:
    quantity = observation.get("valueQuantity")
    if quantity:
        return f"{quantity.get('value')} {quantity.get('unit') or ''}".strip()
    return observation.get("valueString") or concept_text(observation.get("valueCodeableConcept"))


def _result_values(resource: JSON, index: ResourceIndex) -> str | None:
    if resource.get("resourceType") == "Observation":
        return _value(resource)
    values = []
    for reference in resource.get("result") or []:
        observation = index.get(reference)
        if observation:
            value = _value(observation)
            name = concept_text(observation.get("code"))
            if value:
                values.append(f"{name}: {value}" if name else value)
    return "; ".join(values) or resource.get("conclusion") or None
