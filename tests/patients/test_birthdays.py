"""A parent's access on the child's 13th and 16th birthdays, through the HTTP API.

The suite's instant is 00:30 in England on 15 October and still 14 October in UTC
(tests/frozen.py): a child born on 15 October turns 16 today at the practice, and a
"today" taken from UTC would wrongly keep their parent's access for another day.
"""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import update

from app.adapters.sandbox import tables
from app.adapters.sandbox.personas import patient_ref_for, years_before
from app.db import create_engine
from tests.conftest import SignIn
from tests.frozen import SUITE_TODAY

TOMORROW = SUITE_TODAY + timedelta(days=1)


async def born_on(sandbox_database_url: str, person: str, birth_date: date) -> None:
    """Record another birth date for a seeded person in their GP system."""
    engine = create_engine(sandbox_database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(tables.patients)
                .where(tables.patients.c.patient_ref == patient_ref_for(person))
                # A new lock version, as the GP system's own writes make: the shared
                # PostgreSQL sandbox is then seeded afresh for the next test.
                .values(birth_date=birth_date, lock_version=tables.patients.c.lock_version + 1)
            )
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("parent", "child", "age", "birthday", "band", "reason"),
    [
        # Noah's practice recorded the review at 13: only turning 16 stops it.
        ("parent-of-14", "noah", 16, SUITE_TODAY, "16_to_17", "proxy_suspended_at_16"),
        ("parent-of-14", "noah", 16, TOMORROW, "11_to_15", None),
        # Lily's practice has recorded no review: it pauses at the review age, 13.
        ("proxy-parent", "lily", 13, SUITE_TODAY, "11_to_15", "proxy_review_needed"),
        ("proxy-parent", "lily", 13, TOMORROW, "11_to_15", None),
    ],
    ids=["16 today", "16 tomorrow", "13 today", "13 tomorrow"],
)
async def test_a_parents_access_changes_on_the_childs_birthday_in_england(
    client: httpx.AsyncClient,
    sign_in: SignIn,
    sandbox_database_url: str,
    parent: str,
    child: str,
    age: int,
    birthday: date,
    band: str,
    reason: str | None,
) -> None:
    await born_on(sandbox_database_url, child, years_before(birthday, age))
    user = await sign_in(parent)
    items = (await client.get("/v1/me/patients", headers=user.headers)).json()["items"]
    (proxied,) = [item for item in items if item["relationship"] == "parent"]
    assert proxied["age_band"] == band
    assert proxied["unavailable_reason"] == reason
    assert proxied["available"] is (reason is None)
    assert proxied["services"]["appointments"]["allowed"] is (reason is None)

    response = await client.get(f"/v1/patients/{proxied['patient_id']}/slots", headers=user.headers)
    if reason is None:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 403
        assert response.json()["reason"] == reason
