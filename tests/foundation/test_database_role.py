"""The serving role of docs/app-database-role.sql: the app works, audit rows are append-only."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sandbox.personas import find_persona
from app.clock import today
from app.config import Settings
from app.db import create_engine
from app.devtools.sessions import sign_in_persona
from app.main import create_app
from tests.conftest import FakeClock
from tests.database_role import as_serving_role, grant_serving_role

pytestmark = pytest.mark.postgres_only


async def test_the_serving_role_can_run_the_app_but_not_rewrite_the_audit_trail(
    database_url: str,
    engine: AsyncEngine,
    make_settings: Callable[..., Settings],
    sandbox_database_url: str,
    clock: FakeClock,
) -> None:
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("database roles are PostgreSQL's")
    await grant_serving_role(engine)
    serving_url = make_url(as_serving_role(database_url))
    app = create_app(
        make_settings(
            database_url=serving_url.render_as_string(hide_password=False),
            sandbox_database_url=sandbox_database_url,
        ),
        clock=clock,
    )
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
        ) as client,
    ):
        persona = find_persona(today(clock), "adult-full")
        issued = await sign_in_persona(app, persona)  # accounts, sessions, an audit row
        me = await client.get(
            "/v1/me/patients", headers={"Authorization": f"Bearer {issued.token}"}
        )
        assert me.status_code == 200
        logout = await client.post(
            "/v1/auth/logout", headers={"Authorization": f"Bearer {issued.token}"}
        )
        assert logout.status_code == 204

    serving = create_engine(serving_url.render_as_string(hide_password=False))
    try:
        for tamper in (
            "UPDATE audit_events SET target = 'x'",
            "DELETE FROM audit_events",
            "TRUNCATE audit_events",
        ):
            with pytest.raises(DBAPIError, match="permission denied"):
                async with serving.begin() as connection:
                    await connection.exec_driver_sql(tamper)
        async with serving.connect() as connection:
            rows = await connection.scalar(text("SELECT count(*) FROM audit_events"))
        assert rows == 2  # signed in, signed out: both still there
    finally:
        await serving.dispose()
