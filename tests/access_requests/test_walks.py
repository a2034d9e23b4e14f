"""Each kind of application from submission to its end, and what the patient or the new
proxy then sees through the record and profile routes."""

from __future__ import annotations

from dataclasses import replace

import httpx
from fastapi import FastAPI

from app.adapters.sandbox import find_sandbox
from app.gp.types import Capability
from tests.access_requests.conftest import StaffOf, acts_for, applications_url, apply, proxy_body
from tests.conftest import FakeClock, SignedInUser, SignIn


async def section(
    client: httpx.AsyncClient, user: SignedInUser, name: str, patient: str = ""
) -> dict:
    response = await client.get(
        f"/v1/patients/{patient or user.patient_id()}/record/{name}", headers=user.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def terms(page: dict) -> set[str]:
    return {entry["term"] for entry in page.get("items") or []}


async def mine(client: httpx.AsyncClient, user: SignedInUser) -> list[dict]:
    response = await client.get(applications_url(user), headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def linked(client: httpx.AsyncClient, user: SignedInUser) -> dict[str, dict]:
    response = await client.get("/v1/me/patients", headers=user.headers)
    assert response.status_code == 200, response.text
    return {item["patient_id"]: item for item in response.json()["items"]}


# --- historic record -----------------------------------------------------------------------


async def test_a_historic_record_application_walks_to_applied_and_shows_older_entries(
    client: httpx.AsyncClient, sign_in: SignIn, staff_of: StaffOf
) -> None:
    olivia = await sign_in("adult-full", ods_code="A81001")
    before = terms(await section(client, olivia, "consultations"))
    assert "Lower respiratory tract infection" not in before  # 2020: before her access

    made = await apply(client, olivia, {"kind": "historic_record"})
    assert made.status_code == 201, made.text
    request_id = made.json()["request_id"]
    assert made.json()["status"] == "submitted"
    assert made.headers["Location"].endswith(request_id)

    staff = staff_of("A81001")
    listed = (await staff.get(params={"status": "submitted"})).json()["items"]
    assert [item["request_id"] for item in listed] == [request_id]
    assert listed[0]["patient"]["family_name"] == "Harrison"
    await staff.walk_to_review(request_id, note="Nothing to hide.")
    approved = await staff.post(f"/{request_id}/approve")
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "applied"
    assert [e["to_status"] for e in body["events"]] == [
        "submitted", "identity_verified", "under_clinical_review", "approved", "applied",
    ]  # fmt: skip
    assert [e["position"] for e in body["events"]] == [1, 2, 3, 4, 5]

    after = terms(await section(client, olivia, "consultations"))
    assert "Lower respiratory tract infection" in after
    # Withheld entries stay withheld, whatever was granted.
    assert "Discussion about a relative" not in after
    assert [a["status"] for a in await mine(client, olivia)] == ["applied"]


# --- detailed coded record ----------------------------------------------------------------


async def test_a_detailed_coded_application_walks_to_applied_and_shows_coded_problems(
    client: httpx.AsyncClient, sign_in: SignIn, staff_of: StaffOf
) -> None:
    hannah = await sign_in("summary-only")
    assert (await section(client, hannah, "problems"))["available"] is False

    made = await apply(client, hannah, {"kind": "detailed_coded"})
    assert made.status_code == 201, made.text
    request_id = made.json()["request_id"]
    staff = staff_of(hannah.persona.ods_code)
    await staff.walk_to_review(request_id, outcome="approved_with_hidden_entries")
    assert (await staff.post(f"/{request_id}/approve")).json()["status"] == "applied"

    problems = await section(client, hannah, "problems")
    assert problems["available"] is True
    assert "Asthma" in terms(problems)  # coded, from 2009
    assert "Alcohol misuse" not in terms(problems)  # hidden by the practice
    # Coded entries only: no free text of consultations before any full access.
    assert all(e["detail"] is None for e in problems["items"])


# --- proxy for a consenting adult --------------------------------------------------------------


async def test_a_proxy_for_a_consenting_adult_waits_for_consent_then_sees_the_profile(
    client: httpx.AsyncClient, sign_in: SignIn, staff_of: StaffOf
) -> None:
    james = await sign_in("proxy-parent")
    olivia = await sign_in("adult-full", ods_code="A81001")
    made = await apply(
        client,
        james,
        proxy_body(olivia.persona, basis="patient_consent", relationship="relative"),
    )
    assert made.status_code == 201, made.text
    request_id = made.json()["request_id"]
    assert made.json()["status"] == "awaiting_patient_consent"
    assert made.json()["proxy"]["patient"]["family_name"] == "Harrison"

    # Nothing moves at the practice without the patient's consent.
    staff = staff_of("A81001")
    early = await staff.post(f"/{request_id}/identity-check", {"method": "photo_documents"})
    assert (early.status_code, early.json()["code"]) == (409, "access_request_status")

    consents_url = f"{applications_url(olivia)}/consents"
    asked = (await client.get(consents_url, headers=olivia.headers)).json()["items"]
    assert [(a["request_id"], a["applicant"]["family_name"]) for a in asked] == [
        (request_id, "Okafor")
    ]
    agreed = await client.post(f"{consents_url}/{request_id}/consent", headers=olivia.headers)
    assert agreed.status_code == 200, agreed.text
    assert agreed.json()["status"] == "submitted"

    await staff.walk_to_review(request_id)
    assert (await staff.post(f"/{request_id}/approve")).json()["status"] == "applied"

    olivias_id = olivia.patient_id()
    profile = (await linked(client, james))[olivias_id]
    assert profile["services"]["appointments"]["allowed"] is True
    assert profile["services"]["record"]["allowed"] is True
    # What the new proxy sees of the record never exceeds what Olivia sees herself.
    for name in ("allergies", "medications", "problems", "consultations"):
        proxy_view = await section(client, james, name, olivias_id)
        own_view = await section(client, olivia, name)
        assert terms(proxy_view) <= terms(own_view), name
    assert (await section(client, james, "consultations", olivias_id))["available"] is False


# --- a child ------------------------------------------------------------------------------------


async def test_a_childs_application_records_parental_responsibility_and_competence(
    client: httpx.AsyncClient, sign_in: SignIn, staff_of: StaffOf, clock: FakeClock
) -> None:
    mohammed = await sign_in("adult-full", ods_code="B82002")
    noah = acts_for("parent-of-14", "age-14", clock)
    made = await apply(
        client,
        mohammed,
        proxy_body(noah, basis="parental_responsibility", relationship="parent"),
    )
    assert made.status_code == 201, made.text
    request_id = made.json()["request_id"]
    assert made.json()["status"] == "submitted"
    assert made.json()["proxy"]["basis"] == "parental_responsibility"
    assert made.json()["proxy"]["competence_assessment_needed"] is True

    staff = staff_of("B82002")
    checked = await staff.post(f"/{request_id}/identity-check", {"method": "vouching"})
    assert checked.status_code == 200
    # A young person of 11 to 15: the competence assessment comes with the review.
    missing = await staff.post(f"/{request_id}/clinical-review", {"outcome": "approved"})
    assert (missing.status_code, missing.json()["code"]) == (422, "competence_assessment_needed")
    reviewed = await staff.post(
        f"/{request_id}/clinical-review", {"outcome": "approved", "competence": "not_competent"}
    )
    assert reviewed.status_code == 200, reviewed.text
    assert (await staff.post(f"/{request_id}/approve")).json()["status"] == "applied"

    noahs_id = mohammed.patient_id(noah.patient_ref)
    profile = (await linked(client, mohammed))[noahs_id]
    assert profile["relationship"] == "parent"
    assert profile["services"]["appointments"]["allowed"] is True


# --- refused by the patient ---------------------------------------------------------------------


async def test_an_application_the_patient_refuses_ends_and_changes_nothing(
    client: httpx.AsyncClient, sign_in: SignIn, staff_of: StaffOf
) -> None:
    james = await sign_in("proxy-parent")
    olivia = await sign_in("adult-full", ods_code="A81001")
    made = await apply(
        client, james, proxy_body(olivia.persona, basis="patient_consent", relationship="other")
    )
    request_id = made.json()["request_id"]
    consents_url = f"{applications_url(olivia)}/consents"
    refused = await client.post(f"{consents_url}/{request_id}/refuse", headers=olivia.headers)
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "rejected"

    [seen] = await mine(client, james)
    assert seen["status"] == "rejected"
    assert seen["rejection_reason"] == "The patient did not agree to this application."
    staff = staff_of("A81001")
    late = await staff.post(f"/{request_id}/identity-check", {"method": "nhs_login_p9"})
    assert late.status_code == 409
    again = await client.post(f"{consents_url}/{request_id}/consent", headers=olivia.headers)
    assert again.status_code == 409
    assert olivia.patient_id() not in await linked(client, james)


# --- rejected by the practice -------------------------------------------------------------------


async def test_an_application_the_practice_rejects_changes_nothing(
    client: httpx.AsyncClient, sign_in: SignIn, staff_of: StaffOf
) -> None:
    hannah = await sign_in("summary-only")
    request_id = (await apply(client, hannah, {"kind": "detailed_coded"})).json()["request_id"]
    staff = staff_of(hannah.persona.ods_code)
    await staff.post(f"/{request_id}/identity-check", {"method": "photo_documents"})
    no_reason = await staff.post(f"/{request_id}/clinical-review", {"outcome": "rejected"})
    assert (no_reason.status_code, no_reason.json()["code"]) == (422, "reason_required")
    rejected = await staff.post(
        f"/{request_id}/clinical-review",
        {"outcome": "rejected", "reason": "Please book a chat with your GP first."},
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert (await staff.post(f"/{request_id}/approve")).status_code == 409

    [seen] = await mine(client, hannah)
    assert (seen["status"], seen["rejection_reason"]) == (
        "rejected",
        "Please book a chat with your GP first.",
    )
    assert (await section(client, hannah, "problems"))["available"] is False


# --- a GP system that cannot apply it -----------------------------------------------------------


async def test_where_the_gp_system_cannot_apply_it_staff_confirm_it_applied(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, staff_of: StaffOf
) -> None:
    grace = await sign_in("adult-full", ods_code="C83003")
    supplier = find_sandbox(app.state.gp_registry.for_practice("C83003")).supplier
    supplier.profile = replace(
        supplier.profile, capabilities=supplier.profile.capabilities - {Capability.ACCESS_CHANGES}
    )
    before = terms(await section(client, grace, "consultations"))
    request_id = (await apply(client, grace, {"kind": "historic_record"})).json()["request_id"]
    staff = staff_of("C83003")
    await staff.walk_to_review(request_id)
    approved = (await staff.post(f"/{request_id}/approve")).json()
    assert (approved["status"], approved["to_apply_in_clinical_system"]) == ("approved", True)
    [seen] = await mine(client, grace)
    assert (seen["status"], seen["to_apply_in_clinical_system"]) == ("approved", True)
    # The app changed nothing in the GP system: staff set it there, then say so.
    assert terms(await section(client, grace, "consultations")) == before
    applied = await staff.post(f"/{request_id}/applied")
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "applied"
    assert [a["status"] for a in await mine(client, grace)] == ["applied"]
