"""The request examples Swagger UI fills in do what they say against the sandbox.

The README's walk-through signs in as Olivia Harrison (adult-full, A81001) under
`make run`'s defaults: the ordering examples are medicines she may order, and each
order goes through as it stands. A booking example cannot name a free slot (slots are
dated, and the sandbox offers the weeks from today), so booking one must say what to
do instead of a bare "not found".
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.appointments.schemas import BOOKING_EXAMPLES
from app.config import Settings
from app.prescriptions.schemas import REQUEST_EXAMPLES
from tests.conftest import SignedInUser, SignIn

WALK_THROUGH = ("adult-full", "A81001")


async def walk_through_persona(sign_in: SignIn) -> tuple[SignedInUser, str]:
    tag, ods_code = WALK_THROUGH
    user = await sign_in(tag, ods_code=ods_code)
    assert user.persona.label.startswith("Olivia Harrison"), user.persona.label
    return user, f"/v1/patients/{user.patient_id()}"


def test_the_suite_makes_ids_as_make_run_does(app: FastAPI) -> None:
    """Ids depend on PATIENT_ID_KEY (derived from SECRET_KEY outside prod): the suite's
    must be `make run`'s defaults, or the examples below would prove nothing for it."""
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert app.state.settings.patient_id_secret == defaults.patient_id_secret


@pytest.mark.parametrize("name", sorted(REQUEST_EXAMPLES))
async def test_each_ordering_example_orders_as_it_stands(
    client: httpx.AsyncClient, sign_in: SignIn, name: str
) -> None:
    user, base = await walk_through_persona(sign_in)
    example: dict[str, Any] = REQUEST_EXAMPLES[name]["value"]
    courses = (await client.get(f"{base}/prescriptions/courses", headers=user.headers)).json()
    orderable = {c["course_id"] for c in courses["items"] if c["orderable"]}
    assert set(example["course_ids"]) <= orderable

    response = await client.post(
        f"{base}/prescriptions/requests",
        json=example,
        headers={**user.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("name", sorted(BOOKING_EXAMPLES))
async def test_booking_an_example_slot_says_to_list_the_slots_again(
    client: httpx.AsyncClient, sign_in: SignIn, name: str
) -> None:
    example: dict[str, Any] = BOOKING_EXAMPLES[name]["value"]
    ods_code = example["slot_id"].split("-")[0]  # at the practice it is written for
    user = await sign_in("adult-full", ods_code=ods_code)
    response = await client.post(
        f"/v1/patients/{user.patient_id()}/appointments",
        json=example,
        headers={**user.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["code"] == "slot_not_found"
    assert "look at the free appointments again" in problem["detail"]


def test_the_first_booking_example_is_for_the_walk_through_practice() -> None:
    """Swagger UI shows the first example by name; the walk-through's practice asks for
    a reason, so that example must carry one."""
    first: dict[str, Any] = BOOKING_EXAMPLES[min(BOOKING_EXAMPLES)]["value"]
    assert first["slot_id"].startswith(WALK_THROUGH[1] + "-")
    assert first.get("reason")
