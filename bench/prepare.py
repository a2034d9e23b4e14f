"""Benchmark set-up, run inside the checkout under test: sign in the load-test patients.

`bench/load.py` runs this with the service's own code on `PYTHONPATH`, against the
benchmark database (already migrated). It signs each `load-test` patient in through
the auth service, as NHS login would, and writes their bearer tokens, their patient
ids and one bookable slot each to a JSON file for the load generator.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from app.adapters.sandbox.personas import load_test_personas
from app.clock import SystemClock, today
from app.config import Settings
from app.devtools.sessions import persona_patient_id, sign_in_persona
from app.main import create_app


async def prepare() -> list[dict[str, str]]:
    app = create_app(Settings())
    async with LifespanManager(app) as manager:
        users = []
        for persona in load_test_personas(today(SystemClock())):
            issued = await sign_in_persona(app, persona)
            users.append({"patient_id": persona_patient_id(app, persona), "token": issued.token})
        # Bookable slots, clear of the 24 hour cancellation cut-off: one per patient.
        start = (SystemClock().now() + timedelta(days=3)).isoformat()
        transport = httpx.ASGITransport(app=manager.app)
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


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(json.dumps({"users": asyncio.run(prepare())}))
