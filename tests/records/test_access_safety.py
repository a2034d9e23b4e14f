"""What a viewer must never see of the record, however the settings and timing fall.

Each case is one the seed holds (app/adapters/sandbox/personas.py): a patient who
declined online access, one flagged for enhanced review, one registered after the
automatic rollout, and proxies of each. The practice's record switch is changed while
the service runs, as a practice would change it in its GP system.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from app.adapters.sandbox.switches import switch_services
from app.clock import today
from app.config import Settings
from app.db import create_engine
from tests.conftest import FakeClock, SignedInUser, SignIn
from tests.patients.test_gp_calls import second_instance
from tests.records.conftest import EMIS, VISION, Viewer, days_ago

# The declined and late-registered patients are at the EMIS practice, the
# enhanced-review patient at the Vision one.
REFUSALS = [
    ("declined", EMIS, "online_access_declined"),
    ("enhanced-review", VISION, "enhanced_review"),
]


async def switch_record(settings: Settings, ods_code: str, *, on: bool) -> None:
    """The practice switches its online record on or off in its GP system."""
    engine = create_engine(settings.sandbox_url)
    try:
        await switch_services(engine, ods_code, {"record": on})
    finally:
        await engine.dispose()


async def record_state(client: httpx.AsyncClient, user: SignedInUser, patient_id: str) -> dict:
    listed = (await client.get("/v1/me/patients", headers=user.headers)).json()["items"]
    [profile] = [p for p in listed if p["patient_id"] == patient_id]
    state: dict = profile["services"]["record"]
    return state


async def assert_refused(viewer: Viewer, reason: str) -> None:
    overview = (await viewer.get()).json()
    assert (overview["available"], overview["reason"], overview["level"]) == (False, reason, "none")
    for path in ["/consultations", "/allergies", "/documents"]:
        response = await viewer.get(path)
        assert response.status_code == 403, path
        assert (response.json()["code"], response.json()["reason"]) == (
            "service_not_permitted", reason,
        )  # fmt: skip


async def signed_in_while_the_record_is_off(
    client: httpx.AsyncClient, sign_in: SignIn, settings: Settings, tag: str, ods_code: str
) -> Viewer:
    """`tag` signs in, and reads their profile, while their practice's record is off."""
    await switch_record(settings, ods_code, on=False)
    user = await sign_in(tag)
    viewer = Viewer(client, user, user.patient_id())
    assert (await record_state(client, user, viewer.patient_id))["reason"] == (
        "not_offered_by_practice"
    )
    return viewer


# --- 1: settings read while the practice's record was off -------------------------------


@pytest.mark.parametrize(("tag", "ods_code", "reason"), REFUSALS)
async def test_a_refusal_holds_when_the_record_is_switched_on_within_one_session(
    app: FastAPI,
    client: httpx.AsyncClient,
    sign_in: SignIn,
    clock: FakeClock,
    settings: Settings,
    tag: str,
    ods_code: str,
    reason: str,
) -> None:
    viewer = await signed_in_while_the_record_is_off(client, sign_in, settings, tag, ods_code)
    user = viewer.user
    # The context is built again while this instance still holds the practice's
    # settings with the record off ...
    clock.advance(timedelta(seconds=settings.practice_settings_seconds - 10))
    assert (await record_state(client, user, viewer.patient_id))["reason"] == (
        "not_offered_by_practice"
    )
    # ... then the practice switches it on, and the settings are read again while that
    # context is still alive.
    await switch_record(settings, ods_code, on=True)
    clock.advance(timedelta(seconds=20))
    assert settings.acting_context_seconds > 20 + 10
    await assert_refused(viewer, reason)
    assert (await record_state(client, user, viewer.patient_id))["reason"] == reason


@pytest.mark.parametrize(("tag", "ods_code", "reason"), REFUSALS)
async def test_a_refusal_holds_on_an_instance_that_reads_the_practice_afresh(
    client: httpx.AsyncClient,
    sign_in: SignIn,
    clock: FakeClock,
    settings: Settings,
    tag: str,
    ods_code: str,
    reason: str,
) -> None:
    first = await signed_in_while_the_record_is_off(client, sign_in, settings, tag, ods_code)
    user = first.user
    await switch_record(settings, ods_code, on=True)
    clock.advance(timedelta(seconds=5))
    async with second_instance(settings, clock) as (_, other_client):
        # The stored context, read with newer practice settings than it was built with.
        await assert_refused(Viewer(other_client, user, first.patient_id), reason)


async def test_a_late_registered_patients_full_record_starts_at_registration_after_a_switch(
    client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock, settings: Settings
) -> None:
    await switch_record(settings, EMIS, on=False)
    user = await sign_in("registered-after-rollout")
    viewer = Viewer(client, user, user.patient_id())
    assert (await viewer.get()).json()["reason"] == "not_offered_by_practice"
    await switch_record(settings, EMIS, on=True)
    clock.advance(timedelta(seconds=5))
    registered = days_ago(today(clock), 150)
    async with second_instance(settings, clock) as (_, other_client):
        overview = (await Viewer(other_client, user, viewer.patient_id).get()).json()
    assert overview["available"] is True
    assert overview["prospective_from"] == registered.isoformat()


# --- 2: the patient's refusals bind their proxies ---------------------------------------


@pytest.mark.parametrize(
    ("tag", "patient_tag"),
    [("proxy-of-declined", "declined"), ("proxy-of-enhanced-review", "enhanced-review")],
)
async def test_a_patients_refusal_binds_a_full_record_proxy(
    client: httpx.AsyncClient, sign_in: SignIn, tag: str, patient_tag: str
) -> None:
    user = await sign_in(tag)
    viewer = Viewer(client, user, user.acts_for(patient_tag))
    # The proxy is told only that they have no access: the patient's decision, or the
    # practice's concern (which may be about the proxy), is not theirs to read.
    await assert_refused(viewer, "not_granted")
    state = await record_state(client, user, viewer.patient_id)
    assert (state["allowed"], state["reason"]) == (False, "not_granted")
    # Their other services are untouched.
    appointments = await client.get(
        f"/v1/patients/{viewer.patient_id}/appointments", headers=user.headers
    )
    assert appointments.status_code == 200


# --- 4: a full-record proxy with no start date of their own ------------------------------


async def test_a_proxy_without_a_start_date_starts_where_the_patient_does(
    client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    user = await sign_in("proxy-of-late-registered")
    viewer = Viewer(client, user, user.acts_for("registered-after-rollout"))
    registered = days_ago(today(clock), 150)
    overview = (await viewer.get()).json()
    assert overview["level"] == "full"
    assert overview["prospective_from"] == registered.isoformat()
    consultations = (await viewer.section("consultations"))["items"]
    assert consultations, "the seed gives Kai consultations since he registered"
    assert all(entry["recorded_on"] >= registered.isoformat() for entry in consultations)
    for document in (await viewer.section("documents"))["items"]:
        assert document["recorded_on"] >= registered.isoformat()
