"""Patient ids have a key of their own: rotating SECRET_KEY keeps every id."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.config import Settings
from app.main import create_app
from tests.conftest import FakeClock, SignIn


def test_the_session_secret_does_not_key_patient_ids(
    make_settings: Callable[..., Settings],
) -> None:
    before = make_settings(secret_key="a" * 40, patient_id_key="p" * 40)
    rotated = make_settings(secret_key="b" * 40, patient_id_key="p" * 40)
    assert before.patient_id_secret == rotated.patient_id_secret == "p" * 40
    # Unset (dev and test only): derived from SECRET_KEY, never SECRET_KEY itself.
    derived = make_settings(secret_key="a" * 40)
    assert derived.patient_id_secret not in ("a" * 40, before.patient_id_secret)


@pytest.fixture
def settings(make_settings: Callable[..., Settings], sandbox_database_url: str) -> Settings:
    return make_settings(
        sandbox_database_url=sandbox_database_url, secret_key="a" * 40, patient_id_key="p" * 40
    )


async def test_ids_survive_a_rotated_session_secret(
    sign_in: SignIn, client: httpx.AsyncClient, settings: Settings, clock: FakeClock
) -> None:
    user = await sign_in("proxy-parent")
    listed = await client.get("/v1/me/patients", headers=user.headers)
    ids = [p["patient_id"] for p in listed.json()["items"]]
    assert ids == [user.patient_id(), user.acts_for("child-under-11")]

    rotated = settings.model_copy(update={"secret_key": "b" * 40})
    app = create_app(rotated, clock=clock)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
        ) as other,
    ):
        response = await other.get("/v1/me/patients", headers=user.headers)
    assert response.status_code == 200
    assert [p["patient_id"] for p in response.json()["items"]] == ids
