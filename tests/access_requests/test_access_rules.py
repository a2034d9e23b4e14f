"""Who may see and act on applications, and what each side is refused."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from app.adapters.sandbox.supplier.base import SupplierBase
from app.gp.types import Capability
from app.staff.deps import StaffRole
from tests.access_requests.conftest import StaffOf, applications_url, apply, proxy_body
from tests.conftest import FakeClock, SignIn


async def test_staff_of_one_practice_cannot_see_or_act_on_anothers_applications(
    client: httpx.AsyncClient, sign_in: SignIn, staff_of: StaffOf
) -> None:
    olivia = await sign_in("adult-full", ods_code="A81001")
    request_id = (await apply(client, olivia, {"kind": "historic_record"})).json()["request_id"]
    other = staff_of("B82002")

    # Another practice's list: refused outright.
    for method, path in [
        ("GET", ""),
        ("GET", f"/{request_id}"),
        ("POST", f"/{request_id}/approve"),
        ("POST", f"/{request_id}/reject"),
    ]:
        response = await client.request(
            method,
            other.url(path, ods_code="A81001"),
            json={"reason": "No"},
            headers=await other.headers(),
        )
        assert (response.status_code, response.json()["code"]) == (403, "not_staff_of_practice")
    # Their own practice's routes do not find it.
    assert (await other.get()).json()["items"] == []
    for path, body in [
        (f"/{request_id}/identity-check", {"method": "nhs_login_p9"}),
        (f"/{request_id}/clinical-review", {"outcome": "approved"}),
        (f"/{request_id}/approve", None),
        (f"/{request_id}/reject", {"reason": "No"}),
        (f"/{request_id}/applied", None),
    ]:
        response = await other.post(path, body)
        assert (response.status_code, response.json()["code"]) == (404, "access_request_not_found")
    assert (await other.get(f"/{request_id}")).status_code == 404
    # Untouched: still submitted at its own practice.
    own = await staff_of("A81001").get(f"/{request_id}")
    assert own.json()["status"] == "submitted"


async def test_staff_routes_refuse_without_a_staff_session_and_patient_tokens(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    olivia = await sign_in("adult-full", ods_code="A81001")
    assert app.dependency_overrides == {}
    for headers in ({}, olivia.headers):
        response = await client.get("/v1/practices/A81001/access-requests", headers=headers)
        assert (response.status_code, response.json()["code"]) == (401, "staff_not_signed_in")


async def test_only_a_clinician_records_the_clinical_review(
    client: httpx.AsyncClient, sign_in: SignIn, staff_of: StaffOf
) -> None:
    olivia = await sign_in("adult-full", ods_code="A81001")
    request_id = (await apply(client, olivia, {"kind": "historic_record"})).json()["request_id"]
    admin = staff_of("A81001", roles=frozenset({StaffRole.ADMINISTRATOR}))
    checked = await admin.post(f"/{request_id}/identity-check", {"method": "vouching"})
    assert checked.status_code == 200
    assert checked.json()["identity_checked_by"] == f"cis2:{admin.user_id}"
    refused = await admin.post(f"/{request_id}/clinical-review", {"outcome": "approved"})
    assert (refused.status_code, refused.json()["code"]) == (403, "staff_role_required")


async def test_approval_needs_the_identity_check_and_the_clinical_review(
    client: httpx.AsyncClient, sign_in: SignIn, staff_of: StaffOf
) -> None:
    olivia = await sign_in("adult-full", ods_code="A81001")
    request_id = (await apply(client, olivia, {"kind": "historic_record"})).json()["request_id"]
    staff = staff_of("A81001")
    first = await staff.post(f"/{request_id}/approve")
    assert (first.status_code, first.json()["code"]) == (409, "identity_check_needed")
    review_first = await staff.post(f"/{request_id}/clinical-review", {"outcome": "approved"})
    assert (review_first.status_code, review_first.json()["code"]) == (
        409,
        "identity_check_needed",
    )
    await staff.post(f"/{request_id}/identity-check", {"method": "nhs_login_p9"})
    second = await staff.post(f"/{request_id}/approve")
    assert (second.status_code, second.json()["code"]) == (409, "clinical_review_needed")
    assert (await staff.get(f"/{request_id}")).json()["status"] == "identity_verified"


async def test_the_applicant_withdraws_and_may_then_apply_again(
    client: httpx.AsyncClient, sign_in: SignIn, staff_of: StaffOf
) -> None:
    olivia = await sign_in("adult-full", ods_code="A81001")
    request_id = (await apply(client, olivia, {"kind": "historic_record"})).json()["request_id"]
    second = await apply(client, olivia, {"kind": "historic_record"})
    assert (second.status_code, second.json()["code"]) == (409, "access_request_already_open")
    url = f"{applications_url(olivia)}/{request_id}/withdraw"
    withdrawn = await client.post(url, headers=olivia.headers)
    assert withdrawn.json()["status"] == "withdrawn"
    assert (await client.post(url, headers=olivia.headers)).status_code == 409
    staff = staff_of("A81001")
    late = await staff.post(f"/{request_id}/identity-check", {"method": "nhs_login_p9"})
    assert late.status_code == 409
    assert (await apply(client, olivia, {"kind": "historic_record"})).status_code == 201


async def test_submission_is_idempotent(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    olivia = await sign_in("adult-full", ods_code="A81001")
    key = str(uuid.uuid4())
    body = {"kind": "historic_record", "entries_from": "2010-01-01"}
    first = await apply(client, olivia, body, key=key)
    again = await apply(client, olivia, body, key=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert first.headers["Location"] == again.headers["Location"]
    reused = await apply(client, olivia, {"kind": "detailed_coded"}, key=key)
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")
    listed = (await client.get(applications_url(olivia), headers=olivia.headers)).json()
    assert [item["request_id"] for item in listed["items"]] == [first.json()["request_id"]]


async def test_another_patients_id_p5_and_expired_sessions_are_refused(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    olivia = await sign_in("adult-full", ods_code="A81001")
    james = await sign_in("proxy-parent")
    daniel = await sign_in("p5-identity")
    body = {"kind": "historic_record"}
    others = await client.post(
        applications_url(olivia),
        json=body,
        headers={**james.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert (others.status_code, others.json()["code"]) == (404, "patient_not_found")
    listed = await client.get(applications_url(olivia), headers=james.headers)
    assert listed.status_code == 404
    # A proxy cannot apply in the name of the one they act for: applications are one's own.
    childs = f"/v1/patients/{james.acts_for('child-under-11')}/access-requests"
    as_proxy = await client.get(childs, headers=james.headers)
    assert (as_proxy.status_code, as_proxy.json()["code"]) == (403, "service_not_permitted")
    p5 = await apply(client, daniel, body)
    assert (p5.status_code, p5.json()["code"]) == (403, "identity_verification_required")
    clock.advance(app.state.auth.policy.idle + timedelta(seconds=1))
    expired = await apply(client, olivia, body)
    assert (expired.status_code, expired.json()["code"]) == (401, "session_expired")


async def test_a_proxy_application_must_match_a_patient_and_its_basis(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    james = await sign_in("proxy-parent")
    olivia = await sign_in("adult-full", ods_code="A81001")
    good = proxy_body(olivia.persona, basis="patient_consent", relationship="relative")
    wrong_name = {**good, "patient": {**good["patient"], "given_name": "Someone"}}
    cases = [
        (wrong_name, "patient_not_matched"),
        (proxy_body(james.persona, basis="patient_consent", relationship="other"),
         "proxy_for_yourself"),
        ({**good, "basis": "parental_responsibility"}, "parental_responsibility_under_16"),
        ({**good, "basis": "lasting_power_of_attorney"}, "document_reference_required"),
        ({**good, "document_reference": "LPA-1"}, "document_reference_not_expected"),
        ({**good, "ends_on": "2000-01-01"}, "end_date_passed"),
        ({**good, "services": {"record": "none"}}, "no_service"),
    ]  # fmt: skip
    for body, code in cases:
        response = await apply(client, james, body)
        assert (response.status_code, response.json().get("code")) == (422, code), body
    assert (await client.get(applications_url(james), headers=james.headers)).json()["items"] == []
    attorney = await apply(
        client,
        james,
        {**good, "basis": "lasting_power_of_attorney", "document_reference": "LPA-7000-1234"},
    )
    assert attorney.status_code == 201, attorney.text
    # Not on consent: straight to the practice, with the document's reference.
    assert attorney.json()["status"] == "submitted"
    assert attorney.json()["proxy"]["document_reference"] == "LPA-7000-1234"


async def test_no_proxy_application_where_the_gp_system_holds_no_proxies(
    client: httpx.AsyncClient, sign_in: SignIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GP Connect's patient-facing APIs have no proxy model: an approval could never let
    # the proxy see anything, so the application is refused before the practice gets it.
    james = await sign_in("proxy-parent")
    olivia = await sign_in("adult-full", ods_code="A81001")
    monkeypatch.setattr(
        SupplierBase,
        "capabilities",
        property(lambda self: self.profile.capabilities - {Capability.PROXY_RELATIONSHIPS}),
    )
    response = await apply(
        client, james, proxy_body(olivia.persona, basis="patient_consent", relationship="relative")
    )
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "not_available_at_practice"
    assert (await client.get(applications_url(james), headers=james.headers)).json()["items"] == []
