"""`python -m app.adapters.sandbox seed|personas|dump`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.adapters.sandbox.__main__ import main
from app.adapters.sandbox.personas import persona_catalogue
from tests.frozen import SUITE_NOW, SUITE_TODAY

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands (here and in their own process) on the suite's date."""
    monkeypatch.setenv("FROZEN_NOW", SUITE_NOW.isoformat())


def run(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "app.adapters.sandbox", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout


def test_personas_json() -> None:
    personas = json.loads(run("personas", "--json"))
    tags = {tag for persona in personas for tag in persona["tags"]}
    assert {"adult-full", "p5-identity", "carer", "age-16-proxied"} <= tags
    olivia = personas[0]
    # Birth dates count back from the suite's date (FROZEN_NOW), not the real one.
    assert olivia == persona_catalogue(SUITE_TODAY)[0].to_json()
    assert set(olivia) >= {"nhs_number", "ods_code", "family_name", "given_name", "birth_date",
                           "tags", "nhs_login_claims"}  # fmt: skip
    claims = olivia["nhs_login_claims"]
    assert set(claims) >= {
        "sub", "nhs_number", "birthdate", "family_name", "given_name", "email", "phone_number",
        "identity_proofing_level", "vot", "gp_registration_details", "gp_integration_credentials",
    }  # fmt: skip


def test_personas_text_gives_what_signing_in_takes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["personas"]) == 0
    lines = capsys.readouterr().out.splitlines()
    olivia = persona_catalogue(SUITE_TODAY)[0]
    # The `sub` (what the stand-in's form and the app example's --persona take) and the tag.
    sub, level, label = lines[1].split(maxsplit=2)
    assert (sub, level) == (olivia.nhs_login_claims["sub"], "P9")
    assert label == "Olivia Harrison (adult-full, A81001)"
    assert olivia.nhs_number not in "\n".join(lines)
    assert "--persona adult-full" in lines[-1]


def test_seed_and_dump(
    database_url: str,
    tmp_path: Path,
    postgres_sandbox: object,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if database_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    else:
        url = postgres_sandbox.url  # type: ignore[attr-defined]
    monkeypatch.setenv("SANDBOX_DATABASE_URL", url)
    assert main(["seed"]) == 0
    assert main(["seed", "--reset"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "sandbox: reset"
    assert main(["dump", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {p["ods_code"] for p in data["practices"]} >= {"A81001", "B82002", "C83003"}
    for key in ("patients", "relationships", "slots", "appointments", "courses",
                "prescription_requests", "record_entries", "documents", "pharmacies"):  # fmt: skip
        assert data[key], key
    entry = data["record_entries"][0]
    assert {"hidden", "third_party", "harmful", "filed", "recorded_on"} <= set(entry)
    assert all(r["course_ids"] for r in data["prescription_requests"])


def test_a_practice_switches_its_online_services_while_the_sandbox_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SANDBOX_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    assert main(["seed"]) == 0
    assert main(["practice", "a81001", "--record", "off", "--appointments", "off"]) == 0
    assert (
        capsys.readouterr().out.splitlines()[-1] == "sandbox: A81001 appointments off, record off"
    )
    assert main(["dump", "--json"]) == 0
    practices = {p["ods_code"]: p for p in json.loads(capsys.readouterr().out)["practices"]}
    emis = practices["A81001"]
    assert (emis["record_enabled"], emis["appointments_enabled"]) == (False, False)
    assert emis["prescriptions_enabled"] is True
    assert practices["B82002"]["record_enabled"] is True
    assert main(["practice", "A81001", "--record", "on"]) == 0
    assert main(["practice", "Z99999", "--record", "on"]) == 2
    assert "no practice Z99999" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["practice", "A81001"])  # says which service to switch
