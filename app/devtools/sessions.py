"""Start a session for a sandbox persona without the browser round trip.

For load tests, benchmarks and feature tests that begin after sign-in: the
persona's NHS login claims go through the same account, linkage and session
code as a real sign-in (`app.auth.service.sign_in`). Only the OIDC exchange,
tested on its own, is skipped. Needs a started app (its lifespan has run).
"""

from __future__ import annotations

from fastapi import FastAPI

from app.adapters.sandbox.personas import Persona
from app.auth import service as auth_service
from app.auth.oidc import identity_from_claims
from app.auth.types import Via
from app.clock import Clock
from app.patients.ids import patient_id


async def sign_in_persona(
    app: FastAPI, persona: Persona, *, clock: Clock | None = None, via: Via = "bearer"
) -> auth_service.IssuedSession:
    """A session for `persona` (bearer unless `via` says cookie), signed in as NHS login
    would have signed them in."""
    claims = dict(persona.nhs_login_claims)
    runtime = app.state.auth
    async with app.state.sessionmaker() as db:
        return await auth_service.sign_in(
            db,
            identity_from_claims(claims, claims),
            registry=app.state.gp_registry,
            cipher=runtime.cipher,
            clock=clock or app.state.clock,
            policy=runtime.policy,
            via=via,
        )


def persona_patient_id(app: FastAPI, persona: Persona, patient_ref: str | None = None) -> str:
    """The opaque id the API uses for the persona (or a patient they act for)."""
    key: str = app.state.settings.patient_id_secret
    return patient_id(key, persona.ods_code, patient_ref or persona.patient_ref)
