"""The User Permissions API's own example answers, as its OpenAPI document publishes them
(app/standin/specifications/user-permissions), read into the port's grants."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml

from app.adapters.gpconnect.outcomes import Operation, error_for_response
from app.adapters.gpconnect.permissions import (
    parse_permissions,
    record_grants,
    relationship_permissions,
)
from app.gp.errors import GPSystemUnavailable
from app.gp.types import RecordAccessLevel, RecordGrants

EXAMPLES = (
    Path(__file__).resolve().parents[3]
    / "app/standin/specifications/user-permissions/components/examples"
)


def example(name: str) -> Any:
    return yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())["value"]


def test_the_full_permissions_example_is_the_full_record_from_its_date_and_no_history() -> None:
    # "full permission to their current medical record and prescriptions service and
    # summary permission to their historical medical record".
    permissions = parse_permissions(example("GetResponsePermissionsFull"))
    assert record_grants(permissions) == RecordGrants(summary=True, full_from=date(2022, 11, 1))
    own = relationship_permissions(permissions)
    assert own.prescriptions is True
    assert own.record_level is RecordAccessLevel.FULL
    assert own.record_from == date(2022, 11, 1)
    assert own.record_historic is False  # historical is summary only


def test_the_error_examples_are_refusals_never_grants() -> None:
    for name in ("InvalidRequestError", "RejectedRequestError"):
        error = error_for_response(400, example(name), Operation.READ, retry_after=None)
        # Ours to fix or the provider's: never read as "no access", never as a grant.
        assert isinstance(error, GPSystemUnavailable), (name, error)
