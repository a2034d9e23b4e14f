"""Wire constants of GP Connect's patient-facing APIs on the NHS API platform.

Sources, each an OpenAPI document in NHS Digital's repositories:
- `gp-connect-appointments-management-fhir` (FHIR STU3): `GET /Slot`, `POST /Appointment`,
  `GET /Patient/{NHS number}/Appointment`, `GET` and `PUT /Appointment/{id}`;
- `gp-connect-access-record-fhir` (FHIR STU3): `POST /Patient/$gpc.getstructuredrecord`,
  `GET /documents/Patient/{NHS number}`, `GET /Patient/{id}/DocumentReference`,
  `GET /documents/Binary/{id}`;
- `gp-connect-user-permissions` (plain JSON): `GET /Patient/{NHS number}`;
- `gp-connect-prescriptions-management-fhir` (FHIR R4), see `fhir_prescriptions.py`.

Every call carries `Authorization: Bearer <the patient's access token>` and a UUID
`X-Request-ID` (`X-Correlation-ID` optional): `patient_facing.py`. There are no Spine
interaction ids, and no Practitioner or Location read: display names come from the
searches' `_include:recurse`.
"""

from __future__ import annotations

from typing import Final

JSON: Final = "application/json"  # the User Permissions API answers plain JSON

# The path each API's base URL ends with (the `servers` of its specification).
APPOINTMENTS_PATH: Final = "/gp-connect/patient-facing/appointments-management-fhir/FHIR/STU3"
ACCESS_RECORD_PATH: Final = "/gp-connect/patient-facing/access-record-fhir/FHIR/STU3"
USER_PERMISSIONS_PATH: Final = "/gp-connect/patient-facing/user-permissions"

# --- appointments ---------------------------------------------------------------------

SLOT_INCLUDES: Final = (
    ("_include", "Slot:schedule"),  # required by the specification
    ("_include:recurse", "Schedule:actor:Practitioner"),
    ("_include:recurse", "Schedule:actor:Location"),
)
APPOINTMENT_INCLUDES: Final = (
    ("_include:recurse", "Appointment:actor:Practitioner"),
    ("_include:recurse", "Appointment:actor:Location"),
)

# --- documents ------------------------------------------------------------------------

# "The request does not contain the mandatory _include parameters" is a 400.
DOCUMENT_INCLUDES: Final = (
    ("_include", "DocumentReference:subject:Patient"),
    ("_include", "DocumentReference:custodian:Organization"),
    ("_include", "DocumentReference:author:Organization"),
    ("_include", "DocumentReference:author:Practitioner"),
    ("_revinclude:recurse", "PractitionerRole:practitioner"),
)
PATIENT_NHS_NUMBER_PARAM: Final = "patientNHSNumber"

# --- user permissions -----------------------------------------------------------------

# MedicalRecordAccessLevelEnum, narrowest first.
MEDICAL_RECORD_LEVELS: Final = ("none", "summary", "detailed", "documents", "full")
# PrescriptionsAccessLevelEnum: "manage" is "view, order, amend & cancel".
PRESCRIPTIONS_MANAGE: Final = "manage"
