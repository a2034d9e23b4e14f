"""The GP Connect settings `make run` needs and nobody sets: dev defaults, never in prod."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.adapters.gpconnect.settings import (
    DEV_CONSUMER_ODS_CODE,
    DEV_CONSUMER_TELEPHONE,
    DEV_PFS_TOKEN_URL,
    GPConnectSettings,
)
from app.config import DEFAULT_PRACTICES_FILE, AppEnv
from app.gp.registry import load_practices

MISSING = ["GPCONNECT_CONSUMER_ODS_CODE", "GPCONNECT_CONSUMER_TELEPHONE"]


@pytest.fixture(autouse=True)
def no_gpconnect_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("APP_ENV", "GPCONNECT_CONSUMER_ODS_CODE", "GPCONNECT_CONSUMER_TELEPHONE",
                 "GPCONNECT_PFS_TOKEN_URL", "GPCONNECT_PFS_PRIVATE_KEY_FILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("app_env", ["dev", "test"])
def test_outside_prod_the_booking_organisation_is_the_dev_one(
    monkeypatch: pytest.MonkeyPatch, app_env: str
) -> None:
    monkeypatch.setenv("APP_ENV", app_env)
    settings = GPConnectSettings(_env_file=None)
    assert settings.missing_for("D84004") == []
    assert settings.consumer_ods_code == DEV_CONSUMER_ODS_CODE
    assert settings.consumer_telephone == DEV_CONSUMER_TELEPHONE
    assert "development" in settings.consumer_name


def test_a_booking_organisation_given_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPCONNECT_CONSUMER_ODS_CODE", "X26")
    monkeypatch.setenv("GPCONNECT_CONSUMER_TELEPHONE", "0300 303 5678")
    settings = GPConnectSettings(_env_file=None)
    assert (settings.consumer_ods_code, settings.consumer_telephone) == ("X26", "0300 303 5678")
    assert settings.consumer_name == "GP Online"


def test_prod_gets_no_defaults_and_still_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "prod")
    settings = GPConnectSettings(_env_file=None)
    assert settings.missing_for("D84004") == MISSING
    assert settings.with_dev_defaults(AppEnv.PROD) == settings
    assert settings.missing_for_patient_facing(sandbox_allowed=False) == [
        "GPCONNECT_PFS_TOKEN_URL",
        "GPCONNECT_PFS_CLIENT_ID",
        "GPCONNECT_PFS_PRIVATE_KEY_FILE",
        "GPCONNECT_PFS_KEY_ID",
    ]


def test_in_dev_the_token_exchange_is_the_standins_with_a_dev_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = tmp_path / "client.pem"
    monkeypatch.setattr("app.adapters.gpconnect.settings.DEV_PFS_KEY_FILE", key)
    settings = GPConnectSettings(_env_file=None).with_dev_defaults(AppEnv.DEV)
    assert settings.pfs_token_url == DEV_PFS_TOKEN_URL
    assert settings.pfs_private_key_file == str(key)
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert settings.missing_for_patient_facing(sandbox_allowed=False) == []
    # In tests, no token exchange unless configured: the sandbox's open access.
    assert GPConnectSettings(_env_file=None).with_dev_defaults(AppEnv.TEST).pfs_token_url == ""


def test_the_dev_token_url_is_where_the_default_practice_is_served() -> None:
    [practice] = [p for p in load_practices(DEFAULT_PRACTICES_FILE) if p.adapter == "gpconnect"]
    base = DEV_PFS_TOKEN_URL.removesuffix("/oauth2/token")
    assert practice.ods_code == "D84004"
    for service in ("appointments", "prescriptions", "record"):
        assert (practice.endpoint(service) or "").startswith(base + "/gp-connect/patient-facing/")
