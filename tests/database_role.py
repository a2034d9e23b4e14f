"""The role the service serves with in production (docs/app-database-role.sql), for tests.

The owner of the tables (the role that migrates) sets up a database; the service then
runs as this role, with only the grants the file gives, so a test fails wherever the
app would need a right the serving role does not have.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

GRANTS = Path(__file__).resolve().parents[1] / "docs" / "app-database-role.sql"
ROLE = "gp_online_app_test"


def grant_statements(role: str) -> list[str]:
    lines = [line for line in GRANTS.read_text().splitlines() if not line.startswith("--")]
    sql = "\n".join(lines).replace(':"role"', f'"{role}"')
    return [statement.strip() for statement in sql.split(";") if statement.strip()]


async def grant_serving_role(owner: AsyncEngine, role: str = ROLE) -> None:
    """Make `role` (if the cluster lacks it) and give it the file's grants on `owner`'s
    database, as an operator does after every migration."""
    async with owner.begin() as connection:
        exists = await connection.scalar(
            text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
        )
        if not exists:
            await connection.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        for statement in grant_statements(role):
            await connection.exec_driver_sql(statement)


def as_serving_role(owner_url: str, role: str = ROLE) -> str:
    """`owner_url` signed in as the serving role instead."""
    return make_url(owner_url).set(username=role, password=None).render_as_string(False)
