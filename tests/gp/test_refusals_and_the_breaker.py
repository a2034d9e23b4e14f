"""No patient can open their practice's circuit breaker for everyone else.

The breaker stands for the GP system failing: only time-outs, connection errors and
outages count towards it (app.gp.resilience). A request the GP system refuses, for
whatever it carried, is the system working. Two layers keep one patient's input away
from it: the edge refuses text no GP system can store (app.storable), and a value the
GP system's database refuses all the same is a refusal, not an outage.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from app.gp.errors import GPError, GPForbidden, GPSystemUnavailable
from tests.conftest import SignIn

EMIS = "A81001"
# Well past the practice's failure threshold (5 in the practices file).
ATTEMPTS = 15


async def test_a_patients_unstorable_input_does_not_cut_off_the_practice(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    sender = await sign_in("adult-full", ods_code=EMIS)
    other = await sign_in("proxy-parent", ods_code=EMIS)
    slots = f"/v1/patients/{sender.patient_id()}/slots"
    for _ in range(ATTEMPTS):
        response = await client.get(slots, params={"clinician": "a\x00"}, headers=sender.headers)
        assert response.status_code == 422, response.text
    assert (await app.state.gp_registry.circuit_states())[EMIS] == "closed"
    # Everyone else at the practice is served as before.
    theirs = await client.get(f"/v1/patients/{other.patient_id()}/slots", headers=other.headers)
    assert theirs.status_code == 200, theirs.text


async def test_values_the_gp_database_refuses_are_refusals_that_leave_the_breaker_closed(
    app: FastAPI, client: httpx.AsyncClient, database_url: str
) -> None:
    # Past the edge (as from a route that forgot it): what the simulated GP system's
    # database cannot hold. A lone surrogate cannot be encoded for either database;
    # PostgreSQL also refuses NUL.
    refused = ["\ud800"]
    if make_url(database_url).get_backend_name() == "postgresql":
        refused.append("a\x00")
    system = app.state.gp_registry.for_practice(EMIS)
    for value in refused * ATTEMPTS:
        with pytest.raises(GPError) as caught:
            await system.get_patient(value)
        assert not isinstance(caught.value, GPSystemUnavailable)
        assert isinstance(caught.value, GPForbidden)
    assert (await app.state.gp_registry.circuit_states())[EMIS] == "closed"
    assert (await system.get_practice_settings()).ods_code == EMIS
