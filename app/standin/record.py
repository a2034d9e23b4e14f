"""Access record (FHIR STU3): the structured record, and documents.

`$gpc.getstructuredrecord` takes a Parameters resource naming the patient and the
sections wanted, and answers a `collection` Bundle: the Patient, then per section a
List (coded by its SNOMED CT list code) and the entries it references. Entries the
practice marked not to be shown online (hidden, third party, potentially harmful) are
sent with the `NOPAT` security label, as GP2GP adaptors label confidential items; the
consumer decides what the patient sees. Documents: find the patient's logical id
(`/documents/Patient/{nhs}`), search DocumentReference, fetch one as Binary.
"""

from __future__ import annotations

import base64
from datetime import datetime, time
from typing import Any, Final

from fhir.resources.STU3.allergyintolerance import AllergyIntolerance
from fhir.resources.STU3.binary import Binary
from fhir.resources.STU3.bundle import Bundle
from fhir.resources.STU3.condition import Condition
from fhir.resources.STU3.documentreference import DocumentReference
from fhir.resources.STU3.encounter import Encounter
from fhir.resources.STU3.immunization import Immunization
from fhir.resources.STU3.list import List as FhirList
from fhir.resources.STU3.medicationstatement import MedicationStatement
from fhir.resources.STU3.observation import Observation
from fhir.resources.STU3.parameters import Parameters
from fhir.resources.STU3.patient import Patient as FhirPatient
from fhir_core.fhirabstractmodel import FHIRAbstractModel

from app.clock import LONDON
from app.gp.errors import SectionUnavailable
from app.gp.types import Capability, Document, Patient, RecordEntry, RecordSection
from app.standin.calls import Answer, Call, Operation, json_body
from app.standin.outcomes import Refused
from app.standin.specification import API

NHS_NUMBER_SYSTEM: Final = "https://fhir.nhs.uk/Id/nhs-number"
SNOMED: Final = "http://snomed.info/sct"
ACT_CODE: Final = "http://hl7.org/fhir/v3/ActCode"
MAX_DOCUMENT_BYTES: Final = 20 * 1024 * 1024
# Parameters part → the port's sections, and each section's List code (SNOMED CT).
SECTIONS: Final = {
    "includeAllergies": (RecordSection.ALLERGIES, "886921000000105", "Allergies"),
    "includeMedication": (RecordSection.MEDICATIONS, "933361000000108", "Medications"),
    "includeProblems": (RecordSection.PROBLEMS, "717711000000103", "Problems"),
    "includeImmunisations": (RecordSection.IMMUNISATIONS, "1102181000000102", "Immunisations"),
    "includeImmunizations": (RecordSection.IMMUNISATIONS, "1102181000000102", "Immunisations"),
    "includeInvestigations": (RecordSection.TEST_RESULTS, "887191000000108", "Investigations"),
    "includeConsultations": (RecordSection.CONSULTATIONS, "1149501000000101", "Consultations"),
}


def _instant(day: Any) -> datetime:
    return datetime.combine(day, time(), LONDON)


def patient_resource(patient: Patient) -> FhirPatient:
    return FhirPatient(
        id=patient.patient_ref,
        identifier=[{"system": NHS_NUMBER_SYSTEM, "value": patient.nhs_number}],
        name=[{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        birthDate=patient.birth_date,
        active=True,
    )


def _meta(withheld: bool) -> dict[str, Any] | None:
    return {"security": [{"system": ACT_CODE, "code": "NOPAT"}]} if withheld else None


def _entry(entry: RecordEntry, subject: dict[str, str]) -> FHIRAbstractModel:
    meta = _meta(entry.hidden or entry.third_party or entry.harmful or not entry.filed)
    code: dict[str, Any] = {"text": entry.term}
    if entry.code:
        code["coding"] = [{"system": SNOMED, "code": entry.code, "display": entry.term}]
    common: dict[str, Any] = {"id": entry.entry_id, "meta": meta}
    match entry.section:
        case RecordSection.ALLERGIES:
            return AllergyIntolerance(
                **common,
                patient=subject,
                code=code,
                verificationStatus="confirmed",
                clinicalStatus="resolved" if entry.resolved else "active",
                assertedDate=_instant(entry.recorded_on),
                note=[{"text": entry.detail}] if entry.detail else None,
            )
        case RecordSection.MEDICATIONS:
            return MedicationStatement(
                **common,
                subject=subject,
                medicationCodeableConcept=code,
                taken="unk",
                status="completed" if entry.resolved else "active",
                dateAsserted=_instant(entry.recorded_on),
                dosage=[{"text": entry.detail}] if entry.detail else None,
            )
        case RecordSection.PROBLEMS:
            return Condition(
                **common,
                subject=subject,
                code=code,
                clinicalStatus="resolved" if entry.resolved else "active",
                assertedDate=_instant(entry.recorded_on),
                note=[{"text": entry.detail}] if entry.detail else None,
            )
        case RecordSection.IMMUNISATIONS:
            return Immunization(
                **common,
                patient=subject,
                vaccineCode=code,
                status="completed",
                notGiven=False,
                primarySource=True,
                date=_instant(entry.recorded_on),
                note=[{"text": entry.detail}] if entry.detail else None,
            )
        case RecordSection.TEST_RESULTS:
            return _observation(entry, subject, code, common)
    return Encounter(
        **common,
        subject=subject,
        status="finished",
        type=[code],
        period={"start": _instant(entry.recorded_on)},
    )


def _observation(
    entry: RecordEntry, subject: dict[str, str], code: dict[str, Any], common: dict[str, Any]
) -> Observation:
    result = entry.result
    value: dict[str, Any] = {}
    ranges = None
    if result is not None:
        if result.number is not None:
            value["valueQuantity"] = {"value": result.number, "unit": result.unit}
        else:
            value["valueString"] = result.text
        if result.range_low is not None or result.range_high is not None or result.range_text:
            ranges = [
                {
                    "low": {"value": result.range_low} if result.range_low is not None else None,
                    "high": {"value": result.range_high} if result.range_high is not None else None,
                    "text": result.range_text,
                }
            ]
    return Observation(
        **common,
        subject=subject,
        code=code,
        status="final" if entry.filed else "preliminary",
        issued=_instant(entry.recorded_on),
        referenceRange=ranges,
        comment=entry.detail,
        **value,
    )


def _requested(parameters: Parameters) -> tuple[str, list[str]]:
    """The NHS number and the section parameters named, in order."""
    nhs_number, sections = None, []
    for parameter in parameters.parameter or []:
        if parameter.name == "patientNHSNumber" and parameter.valueIdentifier is not None:
            nhs_number = parameter.valueIdentifier.value
        elif parameter.name in SECTIONS:
            sections.append(parameter.name)
        else:
            raise Refused(422, "INVALID_PARAMETER", f"Unknown parameter {parameter.name}")
    if not nhs_number:
        raise Refused(422, "INVALID_PARAMETER", "patientNHSNumber is required")
    return nhs_number, sections


async def structured_record(call: Call) -> Answer:
    nhs_number, wanted = _requested(call.resource(Parameters))
    registered = await call.patient(nhs_number)
    system, patient = registered.system, registered.patient
    subject = {"reference": f"Patient/{patient.patient_ref}"}
    entries: list[Any] = [{"resource": patient_resource(patient)}]
    done: set[RecordSection] = set()
    for name in wanted:
        section, list_code, title = SECTIONS[name]
        if section in done:
            continue
        done.add(section)
        empty: dict[str, str] | None = None
        try:
            items = await system.list_record_entries(patient.patient_ref, section)
        except SectionUnavailable:
            items, empty = [], {"text": "Not available from this GP system"}
        if not items and empty is None:
            empty = {"text": "No content recorded"}
        resources = [_entry(item, subject) for item in items]
        entries.append(
            {
                "resource": FhirList(
                    status="current",
                    mode="snapshot",
                    title=title,
                    subject=subject,
                    code={"coding": [{"system": SNOMED, "code": list_code, "display": title}]},
                    entry=[
                        {"item": {"reference": f"{type(r).__name__}/{r.id}"}}  # type: ignore[attr-defined]
                        for r in resources
                    ]
                    or None,
                    emptyReason=empty,
                )
            }
        )
        entries += [{"resource": resource} for resource in resources]
    return Answer(200, json_body(Bundle(type="collection", entry=entries)))


async def find_patient(call: Call) -> Answer:
    registered = await call.patient(call.path_params["id"])
    entry = [{"resource": patient_resource(registered.patient)}]
    return Answer(200, json_body(Bundle(type="searchset", total=1, entry=entry)))


async def _documents_patient(call: Call) -> Any:
    nhs_number = call.param("patientNHSNumber") or ""
    registered = await call.patient(nhs_number)
    if Capability.DOCUMENTS not in registered.system.capabilities:
        raise Refused(403, "ACCESS_DENIED", "Documents are not offered by this practice")
    return registered


def _document(document: Document, subject: dict[str, str], base_url: str) -> DocumentReference:
    withheld = document.hidden or document.third_party or document.harmful
    return DocumentReference(
        id=document.document_id,
        meta=_meta(withheld),
        status="current",
        subject=subject,
        type={"text": document.title},
        description=document.title,
        indexed=_instant(document.recorded_on),
        created=_instant(document.recorded_on),
        content=[
            {
                "attachment": {
                    "contentType": document.content_type,
                    "title": document.title,
                    "size": document.size_bytes,
                    # Absolute, as in the document's example: where it is read.
                    "url": f"{base_url}/documents/Binary/{document.document_id}",
                }
            }
        ],
    )


async def search_documents(call: Call) -> Answer:
    registered = await _documents_patient(call)
    if call.path_params["id"] != registered.patient.patient_ref:
        raise Refused(404, "PATIENT_NOT_FOUND", "The patient id does not match the NHS number")
    documents = await registered.system.list_documents(registered.patient.patient_ref)
    subject = {"reference": f"Patient/{registered.patient.patient_ref}"}
    entries = [{"resource": _document(document, subject, call.base_url)} for document in documents]
    bundle = Bundle(type="searchset", total=len(entries), entry=entries or None)
    return Answer(200, json_body(bundle))


async def get_document(call: Call) -> Answer:
    registered = await _documents_patient(call)
    content = await registered.system.get_document_content(
        registered.patient.patient_ref, call.path_params["id"]
    )
    data = bytearray()
    try:
        async for chunk in content.chunks:
            data += chunk
            if len(data) > MAX_DOCUMENT_BYTES:
                raise Refused(422, "INVALID_RESOURCE", "The document is too large to send")
    finally:
        await content.chunks.aclose()
    binary = Binary(
        id=call.path_params["id"],
        contentType=content.content_type,
        content=base64.b64encode(bytes(data)).decode(),
    )
    return Answer(200, json_body(binary))


OPERATIONS: Final = (
    Operation(API.ACCESS_RECORD, "POST", "/Patient/$gpc.getstructuredrecord", structured_record),
    Operation(API.ACCESS_RECORD, "GET", "/documents/Patient/{id}", find_patient),
    Operation(API.ACCESS_RECORD, "GET", "/Patient/{id}/DocumentReference", search_documents),
    Operation(API.ACCESS_RECORD, "GET", "/documents/Binary/{id}", get_document),
)
