"""Reading CIS2's role claims, and what each national RBAC role allows at a practice."""

from __future__ import annotations

import pytest

from app.auth.problems import LoginFailed
from app.staff.roles import NationalRole, national_roles, roles_at, staff_identity
from app.staff.types import StaffRole

GP = {
    "person_orgid": "100001",
    "person_roleid": "900001",
    "org_code": "A81001",
    "role_code": "S8000:G8000:R8000",
    "role_name": '"Clinical":"Clinical Provision":"Clinical Practitioner Access Role"',
}
RECEPTION = {
    **GP,
    "person_roleid": "900002",
    "org_code": "B82002",
    "role_code": "S8000:G8001:R8008",
}


def test_each_role_is_read_with_its_organisation_and_job_role_code() -> None:
    roles = national_roles({"nhsid_nrbac_roles": [GP, RECEPTION]})
    assert roles == (
        NationalRole("A81001", "R8000", "900001"),
        NationalRole("B82002", "R8008", "900002"),
    )
    assert roles_at(roles, "A81001") == {StaffRole.CLINICIAN}
    assert roles_at(roles, "B82002") == {StaffRole.ADMINISTRATOR}
    assert roles_at(roles, "C83003") == frozenset()


def test_the_selected_role_alone_counts_when_cis2_names_one() -> None:
    roles = national_roles({"nhsid_nrbac_roles": [GP, RECEPTION], "selected_roleid": "900002"})
    assert [role.org_code for role in roles] == ["B82002"]
    # A selected role the user does not hold leaves none.
    assert national_roles({"nhsid_nrbac_roles": [GP], "selected_roleid": "nope"}) == ()


@pytest.mark.parametrize(
    "entry",
    [
        {**GP, "org_code": "a8 1001"},
        {**GP, "role_code": "S8000:G8000"},
        {**GP, "person_roleid": ""},
        {**GP, "org_code": None},
        "R8000",
    ],
)
def test_malformed_roles_are_left_out(entry: object) -> None:
    assert national_roles({"nhsid_nrbac_roles": [entry]}) == ()


def test_a_role_code_not_in_the_mapping_allows_nothing() -> None:
    roles = national_roles({"nhsid_nrbac_roles": [{**GP, "role_code": "S0080:G0450:R5080"}]})
    assert len(roles) == 1
    assert roles_at(roles, "A81001") == frozenset()


def test_userinfo_naming_another_user_is_refused() -> None:
    claims = {"sub": "555000000101", "acr": "AAL3_ANY"}
    identity = staff_identity(claims, {"sub": "555000000101", "name": "Asha Patel"})
    assert (identity.user_id, identity.name, identity.acr) == (
        "555000000101",
        "Asha Patel",
        "AAL3_ANY",
    )
    with pytest.raises(LoginFailed):
        staff_identity(claims, {"sub": "555000000101", "nhsid_useruid": "555000000999"})
