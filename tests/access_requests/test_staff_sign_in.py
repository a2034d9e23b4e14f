"""An application walked to `applied` by practice staff who signed in through the NHS
CIS2 stand-in in a browser: the staff routes read the real staff session cookie."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from app.adapters.sandbox.personas import find_persona
from app.clock import today
from app.devtools.sessions import sign_in_persona
from tests.access_requests.conftest import apply
from tests.conftest import FakeClock, SignedInUser
from tests.staff.conftest import BASE_URL, staff_app, staff_settings, staff_web_sign_in, web

__all__ = ["staff_app", "staff_settings", "web"]  # the fixtures this module uses


async def test_a_gp_signed_in_with_cis2_approves_a_historic_record_application(
    staff_app: FastAPI, web: httpx.AsyncClient, clock: FakeClock
) -> None:
    persona = find_persona(today(clock), "adult-full", ods_code="A81001")
    issued = await sign_in_persona(staff_app, persona, clock=clock)
    olivia = SignedInUser(persona, issued.token, staff_app.state.settings.patient_id_secret)
    submitted = await apply(web, olivia, {"kind": "historic_record"})
    assert submitted.status_code == 201, submitted.text
    request_id = submitted.json()["request_id"]

    signed_in = await staff_web_sign_in(web, "gp-a81001")
    assert signed_in.status_code == 303, signed_in.text
    base = "/v1/practices/A81001/access-requests"
    listed = await web.get(base, params={"status": "submitted"})
    assert [a["request_id"] for a in listed.json()["items"]] == [request_id]
    same_site = {"Origin": BASE_URL}
    for path, body in [
        ("identity-check", {"method": "nhs_login_p9"}),
        ("clinical-review", {"outcome": "approved"}),
        ("approve", None),
    ]:
        response = await web.post(f"{base}/{request_id}/{path}", json=body, headers=same_site)
        assert response.status_code == 200, (path, response.text)
    assert response.json()["status"] == "applied"
    assert response.json()["identity_checked_by"] == "cis2:555000000101"
    # The GP's session is no patient's: the patient routes do not answer it.
    assert (await web.get("/v1/me")).status_code == 401
