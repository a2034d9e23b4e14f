"""User permissions (plain JSON, not FHIR): the patient's record and prescriptions access.

From the port's record access settings: the current level (at or after
`effectiveDate`) and the historical one, as the document's levels; where the GP system
cannot report them, or the patient declined online access, the answer is `none`
(absent means no). Prescriptions are `manage` where the practice offers them online.
"""

from __future__ import annotations

from typing import Any, Final

from app.clock import today
from app.gp.types import AUTOMATIC_ACCESS_START, Capability, RecordGrants
from app.standin.calls import Answer, Call, Operation
from app.standin.specification import API

JSON: Final = "application/json"


def _level(summary: bool, detailed: bool, full: bool) -> str:
    if full:
        return "full"
    if detailed:
        return "detailed"
    return "summary" if summary else "none"


async def get_permissions(call: Call) -> Answer:
    registered = await call.patient(call.path_params["id"])
    system, patient = registered.system, registered.patient
    grants, declined = RecordGrants(), True
    if Capability.RECORD_ACCESS_SETTINGS in system.capabilities:
        access = await system.get_record_access(patient.patient_ref)
        grants, declined = access.grants, access.declined
    if declined:
        grants = RecordGrants()
    settings = await system.get_practice_settings()
    effective = min(grants.full_from or AUTOMATIC_ACCESS_START, today(call.clock))
    body: dict[str, Any] = {
        "medicalRecord": {
            "effectiveDate": effective.isoformat(),
            "current": {
                "accessLevel": _level(grants.shows_summary, grants.detailed_coded, grants.has_full)
            },
            "historical": {
                "accessLevel": _level(grants.shows_summary, grants.detailed_coded, grants.historic)
            },
        },
        "prescriptions": {"accessLevel": "manage" if settings.prescriptions_enabled else "none"},
    }
    return Answer(200, body, content_type=JSON)


OPERATIONS: Final = (Operation(API.USER_PERMISSIONS, "GET", "/Patient/{id}", get_permissions),)
