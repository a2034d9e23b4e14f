"""`/v1/me`, linked profiles and the "acting for" rules, through the HTTP API."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import SignIn


async def test_me_describes_the_signed_in_person_without_the_full_nhs_number(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full", ods_code="A81001")
    response = await client.get("/v1/me", headers=user.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["nhs_number_masked"] == f"*** *** {user.persona.nhs_number[-4:]}"
    assert user.persona.nhs_number not in response.text
    assert body["identity_level"] == "P9"
    assert body["practice"] == {"ods_code": "A81001", "name": "Riverside Medical Centre"}
    assert body["given_name"] == user.persona.given_name


async def test_me_needs_a_session(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_signed_in"


async def test_p5_user_can_see_me_but_must_verify_to_list_profiles(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("p5-identity")
    assert (await client.get("/v1/me", headers=user.headers)).json()["identity_level"] == "P5"
    response = await client.get("/v1/me/patients", headers=user.headers)
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "identity_verification_required"
    assert body["step_up_url"].startswith("/v1/auth/login?")


async def test_profiles_list_self_first_then_proxied_patients(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    parent = await sign_in("proxy-parent")
    response = await client.get("/v1/me/patients", headers=parent.headers)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["relationship"] for item in items] == ["self", "parent"]
    me, child = items
    assert me["patient_id"] == parent.patient_id()
    assert child["patient_id"] == parent.acts_for("child-under-11")
    assert child["age_band"] == "under_11"
    assert child["services"]["appointments"]["allowed"] is True
    assert child["services"]["record"]["level"] == "summary"
    assert child["services"]["change_pharmacy"] == {
        "allowed": False,
        "reason": "proxy_cannot_change_pharmacy",
        "explanation": "Only the patient can change their nominated pharmacy. People acting "
        "for them can see it, but not change it.",
    }
    # The opaque id is neither the NHS number nor the GP system's reference.
    for item in items:
        assert not item["patient_id"].isdigit()
    assert parent.persona.patient_ref not in response.text
    assert parent.persona.nhs_number not in response.text


async def test_parent_access_is_shown_suspended_at_16(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    parent = await sign_in("parent-of-16")
    items = (await client.get("/v1/me/patients", headers=parent.headers)).json()["items"]
    teen = next(item for item in items if item["relationship"] == "parent")
    assert teen["available"] is False
    assert teen["unavailable_reason"] == "proxy_suspended_at_16"
    assert all(not state["allowed"] for state in teen["services"].values())

    response = await client.get(
        f"/v1/patients/{teen['patient_id']}/appointments", headers=parent.headers
    )
    assert response.status_code == 403
    assert response.json()["reason"] == "proxy_suspended_at_16"


async def test_carer_may_not_book_for_a_prescriptions_only_resident(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    carer = await sign_in("carer")
    resident = carer.acts_for("care-home-resident")
    response = await client.get(f"/v1/patients/{resident}/slots", headers=carer.headers)
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "service_not_permitted"
    assert body["reason"] == "not_granted"
    policy = await client.get(f"/v1/patients/{resident}/practice", headers=carer.headers)
    assert policy.status_code == 200


@pytest.mark.parametrize("tag", ["declined", "enhanced-review"])
async def test_declined_and_enhanced_review_have_no_record_access(
    client: httpx.AsyncClient, sign_in: SignIn, tag: str
) -> None:
    user = await sign_in(tag)
    me = (await client.get("/v1/me/patients", headers=user.headers)).json()["items"][0]
    record = me["services"]["record"]
    expected = "online_access_declined" if tag == "declined" else "enhanced_review"
    assert record == {**record, "allowed": False, "level": "none", "reason": expected}
    assert me["services"]["appointments"]["allowed"] is True


async def test_another_patients_id_is_not_found(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    parent = await sign_in("proxy-parent")
    stranger = await sign_in("adult-full", ods_code="A81001")
    response = await client.get(
        f"/v1/patients/{stranger.patient_id()}/appointments", headers=parent.headers
    )
    assert response.status_code == 404
    assert response.json()["code"] == "patient_not_found"
    assert stranger.persona.family_name not in response.text


async def test_practice_policy_tells_apps_about_booking_reasons(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    expected = {"A81001": "mandatory", "B82002": "not_requested", "C83003": "optional"}
    for ods_code, policy in expected.items():
        user = await sign_in("adult-full", ods_code=ods_code)
        response = await client.get(
            f"/v1/patients/{user.patient_id()}/practice", headers=user.headers
        )
        assert response.status_code == 200
        assert response.json()["booking_reason"] == policy


async def test_p5_user_is_not_shown_names_from_the_gp_record(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    # A P5 user found by demographics is linked, but has not proved who they are.
    user = await sign_in("p5-identity")
    body = (await client.get("/v1/me", headers=user.headers)).json()
    assert body["identity_level"] == "P5"
    assert body["given_name"] is None
    assert user.persona.given_name not in str(body)
