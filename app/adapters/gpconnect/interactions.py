"""GP Connect wire constants: media types, systems, profiles, extension URLs and codes.

Sources (see docs/decisions/0002-gpconnect-adapter.md): the FHIR STU3 resources of
Appointment Management and Access Record Structured, which the patient-facing
appointments and access record APIs serve, and the patient-facing prescriptions
management API (FHIR R4, UK Core): MedicationRequest and Task. Every one is served by
the NHS API platform, not Spine: no Spine interaction id is sent (`apis.py`).
"""

from __future__ import annotations

from typing import Final

FHIR_JSON: Final = "application/fhir+json"  # Accept, and the media type of FHIR bodies
# The Content-Type of the FHIR bodies we send: they are UTF-8, and "requests and responses
# SHALL explicitly set the character encoding to UTF-8 using the charset parameter"
# (FHIR RESTful API, Content Types and encodings). `client.deliver` sets it.
FHIR_JSON_BODY: Final = f"{FHIR_JSON}; charset=utf-8"

# --- identifier and code systems ------------------------------------------------

NHS_NUMBER_SYSTEM: Final = "https://fhir.nhs.uk/Id/nhs-number"
ODS_CODE_SYSTEM: Final = "https://fhir.nhs.uk/Id/ods-organization-code"
SPINE_ERROR_SYSTEMS: Final = (
    "https://fhir.nhs.uk/STU3/ValueSet/Spine-ErrorOrWarningCode-1",
    "https://fhir.nhs.uk/R4/ValueSet/Spine-ErrorOrWarningCode-1",
    "https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1",
)
RFC4122_SYSTEM: Final = "https://tools.ietf.org/html/rfc4122"  # Task identifiers (UUIDs)
SNOMED_SYSTEM: Final = "http://snomed.info/sct"
RENEWAL_OF_PRESCRIPTION: Final = "103742009"  # SNOMED CT: the Task `code` for a reorder
# Security labels (`meta.security`) that keep a resource from the patient: HL7 v3 ActCode
# NOPAT ("no disclosure to patient, family or caregivers"), as NHS England's GP2GP
# adaptors label confidential GP record items, and v3 Confidentiality R and V.
ACT_CODE_SYSTEMS: Final = (
    "http://terminology.hl7.org/CodeSystem/v3-ActCode",
    "http://hl7.org/fhir/v3/ActCode",
)
NO_DISCLOSURE_TO_PATIENT: Final = "NOPAT"
CONFIDENTIALITY_SYSTEMS: Final = (
    "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
    "http://hl7.org/fhir/v3/Confidentiality",
)
RESTRICTED_CONFIDENTIALITY: Final = frozenset({"R", "V"})  # restricted, very restricted

# --- profiles ---------------------------------------------------------------------

APPOINTMENT_PROFILE: Final = "https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-Appointment-1"
ORGANIZATION_PROFILE: Final = (
    "https://fhir.nhs.uk/STU3/StructureDefinition/CareConnect-GPC-Organization-1"
)
# The operation's OperationDefinition (not a StructureDefinition: there is no such profile).
STRUCTURED_RECORD_OPERATION_PROFILE: Final = (
    "https://fhir.nhs.uk/STU3/OperationDefinition/GPConnect-GetStructuredRecord-Operation-1"
)

UK_CORE_TASK_PROFILE: Final = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Task"

# --- extensions ---------------------------------------------------------------------

DELIVERY_CHANNEL_EXT: Final = (
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-DeliveryChannel-2"
)
PRACTITIONER_ROLE_EXT: Final = (
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-PractitionerRole-1"
)
BOOKING_ORGANISATION_EXT: Final = (
    "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-BookingOrganisation-1"
)
CANCELLATION_REASON_EXT: Final = "https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-AppointmentCancellationReason-1"
REPEAT_INFORMATION_EXT: Final = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-MedicationRepeatInformation"
)

# --- Access Record Structured list codes (SNOMED CT) --------------------------------

LIST_ALLERGIES: Final = "886921000000105"  # Allergies and adverse reactions
LIST_MEDICATIONS: Final = "933361000000108"  # Medications and medical devices
LIST_PROBLEMS: Final = "717711000000103"  # Problems
LIST_IMMUNISATIONS: Final = "1102181000000102"  # Immunisations
LIST_CONSULTATIONS: Final = "1149501000000101"  # List of consultations
LIST_INVESTIGATIONS: Final = "887191000000108"  # Investigations and results
