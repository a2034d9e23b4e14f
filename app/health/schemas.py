from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(
        description="Each of this instance's dependencies and its state, `ok` or "
        "`unavailable`: `database`; `schema` (`ok`, or `behind` with the migration to run) "
        "while the database answers; `redis` where rate limits use it; and `nhs_login` "
        "(`ok`, `mismatch:` and what its discovery document does not offer, or "
        "`unavailable:` and why that document cannot be read)."
    )
