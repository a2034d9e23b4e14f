"""Benchmark set-up, run inside the checkout under test: sign in the load-test patients.

`bench/load.py` runs this with the service's own code on `PYTHONPATH`, against the
benchmark database (already migrated). It signs each `load-test` patient in through
the auth service, as NHS login would, and writes their bearer tokens, their patient
ids and one bookable slot each to a JSON file for the load generator.

    python bench/prepare.py USERS.json                      # the sandbox's load-test practice
    python bench/prepare.py USERS.json --practice D84004 \
        --issuer URL --id-token-key PEM                     # a GP Connect practice

At a GP Connect practice each sign-in carries an NHS login ID token, signed with
`--id-token-key` for the issuer `--issuer` (whose keys `bench/load.py` serves): the
service keeps it with the session and exchanges it at the practice's token endpoint, as
it does a real one. The GP Connect stand-in must be running: linking the patient at
sign-in, the slots and the repeats are its answers.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import RSAKey

from app.adapters.sandbox.personas import LOAD_TEST_PRACTICE, Persona, load_test_personas
from app.auth import service as auth_service
from app.auth.oidc import identity_from_claims
from app.clock import SystemClock, today
from app.config import Settings
from app.devtools.sessions import persona_patient_id, sign_in_persona
from app.main import create_app

ID_TOKEN_LIFETIME = timedelta(hours=4)  # longer than any benchmark: no refresh mid-run


def id_token(persona: Persona, args: argparse.Namespace, audience: str) -> str:
    """An ID token as NHS login signs one (RS512), for the issuer `bench/load.py` serves."""
    key = RSAKey.import_key(args.id_token_key.read_bytes())
    now = int(time.time())
    claims = {
        **persona.nhs_login_claims,
        "iss": args.issuer,
        "aud": audience,
        "iat": now,
        "exp": now + int(ID_TOKEN_LIFETIME.total_seconds()),
    }
    # The key id the issuer publishes it under: its RFC 7638 thumbprint (`bench/load.py`).
    return jwt.encode({"alg": "RS512", "kid": key.thumbprint()}, claims, key, algorithms=["RS512"])


async def sign_in_with_id_token(
    app: FastAPI, persona: Persona, args: argparse.Namespace
) -> auth_service.IssuedSession:
    """`sign_in_persona`, with the ID token a real sign-in keeps for GP Connect."""
    claims = dict(persona.nhs_login_claims)
    identity = dataclasses.replace(
        identity_from_claims(claims, claims),
        id_token=id_token(persona, args, app.state.settings.nhs_login_client_id),
        id_token_expires_at=datetime.now(UTC) + ID_TOKEN_LIFETIME,
    )
    runtime = app.state.auth
    async with app.state.sessionmaker() as db:
        return await auth_service.sign_in(
            db,
            identity,
            registry=app.state.gp_registry,
            cipher=runtime.cipher,
            clock=app.state.clock,
            policy=runtime.policy,
            via="bearer",
        )


async def own_patient_id(transport: httpx.ASGITransport, token: str) -> str:
    """The patient id the API gives the signed-in patient (the GP system's own id)."""
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        people = await client.get("/v1/me/patients", headers={"Authorization": f"Bearer {token}"})
        people.raise_for_status()
    patient_id: str = people.json()["items"][0]["patient_id"]
    return patient_id


async def prepare(args: argparse.Namespace) -> list[dict[str, str]]:
    app = create_app(Settings())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        users = []
        for persona in load_test_personas(today(SystemClock())):
            if persona.ods_code != args.practice:
                continue
            if args.issuer is None:
                issued = await sign_in_persona(app, persona)
                patient_id = persona_patient_id(app, persona)
            else:
                issued = await sign_in_with_id_token(app, persona, args)
                patient_id = await own_patient_id(transport, issued.token)
            users.append({"patient_id": patient_id, "token": issued.token})
        if not users:
            raise SystemExit(f"no load-test patients at {args.practice}")
        # Bookable slots, clear of the 24 hour cancellation cut-off: one per patient.
        start = (SystemClock().now() + timedelta(days=3)).isoformat()
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            first = users[0]
            listed = await client.get(
                f"/v1/patients/{first['patient_id']}/slots",
                params={"from": start, "limit": 100},
                headers={"Authorization": f"Bearer {first['token']}"},
            )
            listed.raise_for_status()
        slots = [slot["slot_id"] for slot in listed.json()["items"]]
        if len(slots) < len(users):
            raise SystemExit(f"only {len(slots)} free slots for {len(users)} patients")
        for user, slot in zip(users, slots, strict=False):
            user["slot_id"] = slot
            # A repeat each patient can order (and, once cancelled, order again).
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                courses = await client.get(
                    f"/v1/patients/{user['patient_id']}/prescriptions/courses",
                    headers={"Authorization": f"Bearer {user['token']}"},
                )
                courses.raise_for_status()
            user["course_id"] = next(
                c["course_id"] for c in courses.json()["items"] if c["orderable"]
            )
    return users


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--practice", default=LOAD_TEST_PRACTICE)
    parser.add_argument("--issuer", help="NHS login issuer of the ID tokens (GP Connect)")
    parser.add_argument("--id-token-key", type=Path, help="PEM the ID tokens are signed with")
    args = parser.parse_args()
    if (args.issuer is None) != (args.id_token_key is None):
        parser.error("--issuer and --id-token-key go together")
    args.output.write_text(json.dumps({"users": asyncio.run(prepare(args))}))


if __name__ == "__main__":
    main()
