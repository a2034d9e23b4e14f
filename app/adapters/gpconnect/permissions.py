"""The patient's record and prescriptions access, from GP Connect's User Permissions API.

`GET /Patient/{NHS number}` (patient-facing, the patient's own access token) answers, in
plain JSON::

    {"medicalRecord": {"effectiveDate": "2022-11-01",
                       "current": {"accessLevel": "full"},
                       "historical": {"accessLevel": "summary"}},
     "prescriptions": {"accessLevel": "manage"}}

`current` covers entries on or after `effectiveDate`, `historical` those before it.
Record levels are `none < summary < detailed < documents < full`; prescriptions levels
`none | view | manage`. This module turns that into the port's `RecordAccess` (the
practice's grants, applied by `app.records.policy`) and the self relationship's
`Permissions`, and so lets a GP Connect practice switch the record on.

Where the base URL comes from: the practices file's optional `endpoints.permissions`;
else derived from the record endpoint when that is the specification's
`…/gp-connect/patient-facing/access-record-fhir/FHIR/STU3` (the platform serves
`…/gp-connect/patient-facing/user-permissions` beside it); else the practice's
`base_url` (one provider serving every API, as the test stand-in does). With none of
them the practice is refused at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.adapters.gpconnect import apis
from app.adapters.gpconnect.base import GPConnectBase
from app.gp.registry import PracticeConfig
from app.gp.types import Permissions, RecordAccess, RecordGrants

logger = logging.getLogger(__name__)

_RANK = {level: rank for rank, level in enumerate(apis.MEDICAL_RECORD_LEVELS)}
SUMMARY = _RANK["summary"]
DETAILED = _RANK["detailed"]
FULL = _RANK["full"]


def permissions_base_url(config: PracticeConfig) -> str | None:
    """The User Permissions API's base URL for a practice (see the module docstring)."""
    if config.endpoints.permissions:
        return config.endpoints.permissions
    record = (config.endpoint("record") or "").rstrip("/")
    if record.endswith(apis.ACCESS_RECORD_PATH):
        return record.removesuffix(apis.ACCESS_RECORD_PATH) + apis.USER_PERMISSIONS_PATH
    return config.base_url


@dataclass(frozen=True, slots=True)
class PatientPermissions:
    """The API's answer, read conservatively: anything missing or unknown is `none`."""

    current: int  # rank in MEDICAL_RECORD_LEVELS
    historical: int
    effective_date: date | None
    prescriptions_manage: bool


def _level(item: Any) -> int:
    """An access level's rank; missing, misspelt or unknown levels are `none`."""
    level = item.get("accessLevel") if isinstance(item, Mapping) else None
    return _RANK.get(level, 0) if isinstance(level, str) else 0


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def parse_permissions(payload: Any) -> PatientPermissions:
    """The answer, failing closed: a body not of the specification's shape grants nothing.

    `historical` is optional in the schema: absent, nothing before `effectiveDate` is
    granted. `effectiveDate` is required: absent or unreadable, the current full record
    has no start, so it is not granted (see `record_grants`)."""
    body = payload if isinstance(payload, Mapping) else {}
    record = body.get("medicalRecord")
    record = record if isinstance(record, Mapping) else {}
    prescriptions = body.get("prescriptions")
    manage = (
        isinstance(prescriptions, Mapping)
        and prescriptions.get("accessLevel") == apis.PRESCRIPTIONS_MANAGE
    )
    if not record or not isinstance(payload, Mapping):
        logger.warning("GP Connect user permissions had no medical record permission")
    return PatientPermissions(
        current=_level(record.get("current")),
        historical=_level(record.get("historical")),
        effective_date=_date(record.get("effectiveDate")),
        prescriptions_manage=manage,
    )


def record_grants(permissions: PatientPermissions) -> RecordGrants:
    """The practice's grants, in the port's terms, never wider than the API's levels.

    The port's grants (RCGP GP Online Services Toolkit) are *summary* and the *detailed
    coded record*, each for entries of any date, and the *full record* from a date
    (`full_from`) or of any date (`historic`). The API gives one level for entries on or
    after `effectiveDate` (current) and one for those before (historical). So:

    - summary, detailed coded: any date in the port, so granted only when *both* levels
      reach them (a summary granted only from `effectiveDate` cannot be expressed, and
      is not widened to every date);
    - full record from `effectiveDate`: current `full`, with a readable `effectiveDate`;
    - historic (full record of any date): both `full`;
    - `documents`: the detailed coded record and documents, without free text. The port
      shows documents only with the full record, so `documents` is read as `detailed`:
      no documents, rather than free text the practice did not grant.

    Declined and enhanced review are not in the API, and no flag is invented here: the
    practice's system reports the levels that apply *after* them (a patient who
    declined, or one held for enhanced review, is given `none` or a narrower level by
    their practice), and `RecordAccess.declined`/`enhanced_review` only ever narrow
    access further. What the API leaves unsaid is therefore read as the narrower
    grant: an unknown or missing level is `none`, a missing `historical` is `none`, a
    missing `effectiveDate` withholds the full record.

    One rule of the port's own widens what a current `full` with historical `none`
    would strictly allow: the full record implies the summary (allergies, medications)
    of any date (`RecordGrants.shows_summary`), as the Toolkit has it.
    """
    current, historical = permissions.current, permissions.historical
    full_from = permissions.effective_date if current >= FULL else None
    return RecordGrants(
        summary=min(current, historical) >= SUMMARY,
        detailed_coded=min(current, historical) >= DETAILED,
        full_from=full_from,
        historic=full_from is not None and historical >= FULL,
    )


def record_access(permissions: PatientPermissions) -> RecordAccess:
    """Declined and enhanced review are reflected in the levels, never set here (see
    `record_grants`)."""
    return RecordAccess(grants=record_grants(permissions))


def relationship_permissions(permissions: PatientPermissions) -> Permissions:
    """The self relationship's permissions.

    - record level: the widest the grants hold (`RecordGrants.level`), so that it caps
      nothing the grants allow and allows nothing they do not;
    - prescriptions: only `manage` ("view, order, amend & cancel"). `view` cannot order,
      and the port has one switch for seeing and ordering, so `view` is read as none;
    - appointments: not part of this API; the Appointments API refuses what the
      practice does not offer (`ACCESS_DENIED`).
    """
    grants = record_grants(permissions)
    return Permissions(
        appointments=True,
        prescriptions=permissions.prescriptions_manage,
        record_level=grants.level,
        record_from=grants.full_from,
        record_historic=grants.historic,
    )


class PermissionsMixin(GPConnectBase):
    async def _user_permissions(self, patient_ref: str) -> PatientPermissions:
        nhs_number = self._nhs_number(patient_ref)
        payload = await self._clients.permissions.send(
            "GET", f"Patient/{nhs_number}", nhs_number=nhs_number, accept=apis.JSON
        )
        return parse_permissions(payload)

    async def get_record_access(self, patient_ref: str) -> RecordAccess:
        return record_access(await self._user_permissions(patient_ref))

    async def relationship_permissions(self, patient_ref: str) -> Permissions:
        return relationship_permissions(await self._user_permissions(patient_ref))
