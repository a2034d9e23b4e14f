"""The OpenAPI document, fuzzed against a real server with a signed-in session.

Schemathesis generates requests from `openapi/openapi.json` (valid and invalid)
and runs every check on each answer: no 5xx, every status, header and body as
documented, invalid input refused, valid input accepted (with the business-rule
refusals of `schemathesis.toml`). A bounded budget: `EXAMPLES` per operation,
derandomised so that a run is repeatable. Valid cases for patient routes get the
signed-in persona's own patient id, so that fuzzing reaches past the
authorisation check. The server runs with the development NHS login stand-in,
so that sign-in routes answer as they do for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from joserfc.jwk import RSAKey
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

from tests.live_server import LiveServer, live_server

HERE = Path(__file__).resolve().parent
EXAMPLES = 12
SCHEMA = schemathesis.openapi.from_path(
    HERE.parents[1] / "openapi" / "openapi.json",
    config=SchemathesisConfig.from_path(HERE / "schemathesis.toml"),
).exclude(operation_id="sign_out")  # it would end the session every other case uses


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("fuzz")
    key = directory / "client-key.pem"
    key.write_bytes(RSAKey.generate_key(2048).as_pem(private=True))
    env = {
        "APP_ENV": "dev",
        "NHS_LOGIN_PRIVATE_KEY_FILE": str(key),
        # The budgets have tests of their own; here they would only answer 429.
        "RATE_LIMIT_ACCOUNT": "100000/minute",
        "RATE_LIMIT_BOOKING": "100000/hour",
        "RATE_LIMIT_SIGN_IN": "100000/minute",
        # Long generated values would meet the header limit before the route's own checks.
        "MAX_HEADER_BYTES": str(1024 * 1024),
    }
    with live_server(directory, env=env, sign_in={"user": ("adult-full", "bearer")}) as running:
        yield running


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case: schemathesis.Case, server: LiveServer) -> None:
    user = server.sessions["user"]
    positive = case.meta is None or case.meta.generation.mode is GenerationMode.POSITIVE
    if positive and "patient_id" in (case.path_parameters or {}):
        case.path_parameters["patient_id"] = user.patient_id
    case.call_and_validate(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {user.token}"},
        timeout=30,
    )
