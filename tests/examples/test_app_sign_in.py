"""The README's app example, run as written against a real `make run`-like server (dev).

The example reads the time from its own clock, as an app does: it runs with that clock at
the suite's instant, where the server stands too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.adapters.sandbox.personas import find_persona
from tests.frozen import SUITE_TODAY
from tests.live_server import LiveServer, live_server

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLE = PROJECT / "examples" / "app_sign_in.py"


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("dev")
    env = {
        "APP_ENV": "dev",
        "NHS_LOGIN_PRIVATE_KEY_FILE": str(directory / "client-key.pem"),
        # Only the default loopback redirect URI for apps: nothing configured.
        "NHS_LOGIN_APP_REDIRECT_URIS": "",
    }
    with live_server(directory, env=env) as running:
        yield running


def run_example(server: LiveServer, persona: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own example script
        [
            sys.executable,
            "-m",
            "tests.examples.at_suite_now",
            str(EXAMPLE),
            "--base-url",
            server.base_url,
            "--persona",
            persona,
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("ods_code", ["A81001", "B82002", "C83003"])
def test_the_example_app_signs_in_books_and_cancels_at_each_practice(
    dev_server: LiveServer, ods_code: str
) -> None:
    persona = find_persona(SUITE_TODAY, "adult-full", ods_code=ods_code)
    run = run_example(dev_server, str(persona.nhs_login_claims["sub"]))
    assert_booked_and_cancelled(run)


def test_a_persona_may_be_given_by_its_tag(dev_server: LiveServer) -> None:
    assert_booked_and_cancelled(run_example(dev_server, "proxy-parent"))


def test_an_unknown_persona_is_one_line_saying_where_to_find_one(dev_server: LiveServer) -> None:
    run = run_example(dev_server, "adult-ful")
    assert run.returncode != 0
    assert run.stdout == ""
    assert run.stderr == (
        "Sign-in refused (400): There is no sandbox persona 'adult-ful': give a persona's sub "
        "or tag, as listed by `python -m app.adapters.sandbox personas`.\n"
    )


def assert_booked_and_cancelled(run: subprocess.CompletedProcess[str]) -> None:
    assert run.returncode == 0, run.stderr + run.stdout
    result = json.loads(run.stdout)
    assert result["booked"]["status"] == "booked"
    assert result["cancelled"]["status"] == "cancelled"
    assert result["cancelled"]["appointment_id"] == result["booked"]["appointment_id"]
