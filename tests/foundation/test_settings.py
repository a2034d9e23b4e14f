from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from app.config import DEFAULT_PRACTICES_FILE, Settings, UnsafeSettings
from app.main import create_app
from tests.conftest import FakeClock


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def safe_prod(tmp_path: Path, **overrides: object) -> Settings:
    key = tmp_path / "key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    practices = tmp_path / "practices.json"
    practices.write_text('{"practices": []}')
    values: dict[str, object] = {
        "app_env": "prod",
        "database_url": "postgresql+asyncpg://gp@db.internal/gp",
        "public_base_url": "https://gp-online.example.org",
        "nhs_login_issuer": "https://auth.login.nhs.uk",
        "nhs_login_private_key_file": key,
        "nhs_login_redirect_uri": "https://gp-online.example.org/v1/auth/callback",
        "dev_login_enabled": False,
        "cors_allow_origins": "https://portal.example.org",
        "secret_key": "k" * 40,
        "patient_id_key": "p" * 40,
        "practices_file": practices,
        "gp_credentials_key": Fernet.generate_key().decode(),
        "pharmacy_directory": "service_search",
        "service_search_base_url": "https://api.service.nhs.uk/service-search-api",
        "service_search_api_key": "directory-key",
    }
    values.update(overrides)
    return make(**values)


def test_prod_with_dev_defaults_names_every_unsafe_setting() -> None:
    settings = make(app_env="prod", cors_allow_origins="*")
    with pytest.raises(UnsafeSettings) as caught:
        create_app(settings, clock=FakeClock())
    message = str(caught.value)
    for name in (
        "DATABASE_URL",
        "NHS_LOGIN_ISSUER",
        "NHS_LOGIN_PRIVATE_KEY_FILE",
        "DEV_LOGIN_ENABLED",
        "CORS_ALLOW_ORIGINS",
        "SECRET_KEY",
        "PRACTICES_FILE",
        "GP_CREDENTIALS_KEY",
        "PHARMACY_DIRECTORY",
        "PATIENT_ID_KEY",
    ):
        assert name in message


def test_prod_with_safe_settings_starts(tmp_path: Path) -> None:
    settings = safe_prod(tmp_path)
    assert settings.unsafe_for_production() == []
    assert create_app(settings, clock=FakeClock()).title == "GP Online"


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"database_url": "sqlite+aiosqlite:///x.db"}, "DATABASE_URL"),
        ({"nhs_login_issuer": None}, "NHS_LOGIN_ISSUER"),
        ({"nhs_login_issuer": "http://auth.login.nhs.uk"}, "NHS_LOGIN_ISSUER"),
        ({"nhs_login_private_key_file": None}, "NHS_LOGIN_PRIVATE_KEY_FILE"),
        ({"nhs_login_private_key_file": "/nonexistent/key.pem"}, "NHS_LOGIN_PRIVATE_KEY_FILE"),
        ({"dev_login_enabled": True}, "DEV_LOGIN_ENABLED"),
        ({"cors_allow_origins": "https://a.example, *"}, "CORS_ALLOW_ORIGINS"),
        ({"secret_key": "short"}, "SECRET_KEY"),
        ({"practices_file": DEFAULT_PRACTICES_FILE}, "PRACTICES_FILE"),
        ({"public_base_url": "http://gp-online.example.org"}, "PUBLIC_BASE_URL"),
        ({"gp_credentials_key": None}, "GP_CREDENTIALS_KEY"),
        ({"patient_id_key": None}, "PATIENT_ID_KEY"),
        ({"patient_id_key": "short"}, "PATIENT_ID_KEY"),
        ({"patient_id_key": "k" * 40}, "PATIENT_ID_KEY"),
        ({"nhs_login_issuer": "http://127.0.0.1:9000"}, "NHS_LOGIN_ISSUER"),
        ({"pharmacy_directory": "sandbox"}, "PHARMACY_DIRECTORY"),
        ({"service_search_base_url": "http://127.0.0.1:9001"}, "SERVICE_SEARCH_BASE_URL"),
        ({"frozen_now": "2026-10-14T23:30:00+00:00"}, "FROZEN_NOW"),
    ],
)
def test_each_unsafe_setting_alone_refuses_prod(
    tmp_path: Path, override: dict[str, object], named: str
) -> None:
    settings = safe_prod(tmp_path, **override)
    with pytest.raises(UnsafeSettings, match=named):
        settings.check_safe()


def test_dev_and_test_accept_the_embedded_defaults() -> None:
    make(app_env="dev").check_safe()
    make(app_env="test").check_safe()


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://x@h/db")
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://a.example, https://b.example")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.app_env == "test"
    assert settings.database_url == "postgresql+asyncpg://x@h/db"
    assert settings.cors_allow_origins == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize("app_env", ["dev", "test"])
def test_outside_prod_an_http_issuer_is_allowed_only_on_loopback(app_env: str) -> None:
    for issuer in ("http://127.0.0.1:9000", "http://localhost:9000/op", "https://op.example"):
        assert make(app_env=app_env, nhs_login_issuer=issuer).nhs_login_issuer == issuer
    for issuer in ("http://op.example", "ftp://127.0.0.1/", "http://10.0.0.1/"):
        with pytest.raises(ValidationError, match="NHS_LOGIN_ISSUER"):
            make(app_env=app_env, nhs_login_issuer=issuer)


def test_gp_credentials_key_must_be_fernet_keys() -> None:
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    assert make(gp_credentials_key=f"{first},{second}").gp_credentials_key is not None
    with pytest.raises(ValidationError, match="GP_CREDENTIALS_KEY"):
        make(gp_credentials_key="not-a-key")


def test_session_lifetimes_default_to_nhs_login_guidance() -> None:
    settings = make()
    assert (settings.session_idle_minutes, settings.session_absolute_hours) == (30, 12)
    assert settings.nhs_login_pkce is True
    assert settings.redirect_uri == "http://127.0.0.1:8000/v1/auth/callback"


@pytest.mark.parametrize(
    ("name", "value"), [("session_idle_minutes", 31), ("session_absolute_hours", 13)]
)
def test_sessions_cannot_be_configured_to_outlive_nhs_login_guidance(name: str, value: int) -> None:
    # Re-authenticate after 30 minutes idle and 12 hours in total (DESIGN: NHS login facts).
    with pytest.raises(ValidationError, match=name):
        make(**{name: value})


def test_app_redirect_uris_come_from_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NHS_LOGIN_APP_REDIRECT_URIS", "gponline://auth, https://app.example/cb")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.nhs_login_app_redirect_uris == ["gponline://auth", "https://app.example/cb"]


def test_serving_in_prod_with_dev_defaults_exits_with_one_plain_message() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NHS_LOGIN", "DATABASE"))}
    result = subprocess.run(
        [sys.executable, "-m", "app"],
        env={**env, "APP_ENV": "prod", "FROZEN_NOW": "2026-10-14T23:30:00+00:00"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("Refusing to start with APP_ENV=prod:")
    assert "NHS_LOGIN_ISSUER" in result.stderr
    assert "FROZEN_NOW" in result.stderr  # a test's stopped clock never serves patients
