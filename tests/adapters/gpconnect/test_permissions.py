"""The User Permissions API's answer, read into the port's record grants and permissions."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from app.adapters.gpconnect.permissions import (
    parse_permissions,
    permissions_base_url,
    record_grants,
    relationship_permissions,
)
from app.gp.registry import PracticeConfig
from app.gp.types import RecordAccessLevel, RecordGrants

EFFECTIVE = date(2022, 11, 1)


def answer(current: Any, historical: Any = None, prescriptions: Any = "manage") -> Any:
    record: dict[str, Any] = {"effectiveDate": EFFECTIVE.isoformat()}
    if current is not None:
        record["current"] = {"accessLevel": current}
    if historical is not None:
        record["historical"] = {"accessLevel": historical}
    return {"medicalRecord": record, "prescriptions": {"accessLevel": prescriptions}}


@pytest.mark.parametrize(
    ("current", "historical", "grants"),
    [
        ("none", "none", RecordGrants()),
        ("summary", "summary", RecordGrants(summary=True)),
        # Summary is of any date in the port: not granted when historical says none.
        ("summary", "none", RecordGrants()),
        ("detailed", "detailed", RecordGrants(summary=True, detailed_coded=True)),
        ("detailed", "summary", RecordGrants(summary=True)),
        # Documents without free text cannot be expressed: read as the detailed coded record.
        ("documents", "documents", RecordGrants(summary=True, detailed_coded=True)),
        ("full", "summary", RecordGrants(summary=True, full_from=EFFECTIVE)),
        ("full", "none", RecordGrants(full_from=EFFECTIVE)),
        ("full", "detailed", RecordGrants(summary=True, detailed_coded=True, full_from=EFFECTIVE)),
        ("full", "documents", RecordGrants(summary=True, detailed_coded=True, full_from=EFFECTIVE)),
        (
            "full",
            "full",
            RecordGrants(summary=True, detailed_coded=True, full_from=EFFECTIVE, historic=True),
        ),
        # A wider historical level never widens the current one.
        ("summary", "full", RecordGrants(summary=True)),
        # Unknown or missing levels are none.
        ("everything", "full", RecordGrants()),
        ("full", None, RecordGrants(full_from=EFFECTIVE)),
        (None, "full", RecordGrants()),
    ],
)
def test_record_levels_map_to_grants_never_wider(
    current: Any, historical: Any, grants: RecordGrants
) -> None:
    assert record_grants(parse_permissions(answer(current, historical))) == grants


def test_full_without_an_effective_date_grants_no_full_record() -> None:
    body = answer("full", "full")
    del body["medicalRecord"]["effectiveDate"]
    assert record_grants(parse_permissions(body)) == RecordGrants(summary=True, detailed_coded=True)


@pytest.mark.parametrize("body", [None, [], "full", {}, {"medicalRecord": "full"}])
def test_an_answer_not_of_the_specifications_shape_grants_nothing(body: Any) -> None:
    parsed = parse_permissions(body)
    assert record_grants(parsed) == RecordGrants()
    assert relationship_permissions(parsed).prescriptions is False


@pytest.mark.parametrize(
    ("level", "allowed"), [("manage", True), ("view", False), ("none", False), ("x", False)]
)
def test_only_manage_allows_prescriptions(level: str, allowed: bool) -> None:
    assert (
        relationship_permissions(parse_permissions(answer("full", "summary", level))).prescriptions
        is allowed
    )


def test_relationship_record_level_is_the_widest_grant() -> None:
    permissions = relationship_permissions(parse_permissions(answer("full", "summary")))
    assert permissions.record_level is RecordAccessLevel.FULL
    assert permissions.record_from == EFFECTIVE
    assert permissions.record_historic is False
    assert permissions.appointments is True
    detailed = relationship_permissions(parse_permissions(answer("documents", "detailed")))
    assert detailed.record_level is RecordAccessLevel.DETAILED


def config(**values: Any) -> PracticeConfig:
    return PracticeConfig.model_validate(
        {"ods_code": "A81001", "name": "P", "adapter": "gpconnect", **values}
    )


def test_permissions_url_is_configured_derived_or_the_base_url() -> None:
    platform = "https://api.example/gp-connect/patient-facing"
    record = f"{platform}/access-record-fhir/FHIR/STU3"
    assert permissions_base_url(config(endpoints={"record": record})) == (
        f"{platform}/user-permissions"
    )
    assert (
        permissions_base_url(config(endpoints={"record": record, "permissions": "https://p/x"}))
        == "https://p/x"
    )
    assert permissions_base_url(config(base_url="https://one.example/fhir")) == (
        "https://one.example/fhir"
    )
    assert permissions_base_url(config(endpoints={"record": "https://r.example/x"})) is None
