"""Settings, read from environment variables (and an optional `.env`)."""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PRACTICES_FILE = Path(__file__).resolve().parent / "gp" / "practices.json"
DEFAULT_VTR = '["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]'
DEFAULT_SCOPES = "openid profile email phone gp_registration_details gp_integration_credentials"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
DEV_SECRET_KEY = "dev-only-secret-key-change-me"  # noqa: S105


class AppEnv(StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class UnsafeSettings(RuntimeError):
    """Raised when `APP_ENV=prod` is combined with development defaults."""


def _split_list(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """Every setting the service reads. Names match the environment variables."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    app_env: AppEnv = AppEnv.DEV
    database_url: str = f"sqlite+aiosqlite:///{PROJECT_ROOT / 'var' / 'gp_online.db'}"
    # The sandbox GP systems' own tables; by default beside the app's, in the same database.
    sandbox_database_url: str | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    # Secret for deriving opaque ids and signing short-lived cookies.
    secret_key: str = DEV_SECRET_KEY
    log_level: str = "INFO"

    nhs_login_issuer: str | None = None
    nhs_login_client_id: str = "gp-online-dev"
    nhs_login_private_key_file: Path | None = None
    nhs_login_redirect_uri: str | None = None
    nhs_login_scopes: str = DEFAULT_SCOPES
    nhs_login_vtr: str = DEFAULT_VTR
    dev_login_enabled: bool = True

    practices_file: Path = DEFAULT_PRACTICES_FILE
    cors_allow_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: object) -> object:
        return _split_list(value)

    @property
    def sandbox_url(self) -> str:
        return self.sandbox_database_url or self.database_url

    @cached_property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def unsafe_for_production(self) -> list[str]:
        """Plain-English reasons this configuration must not serve real patients."""
        problems: list[str] = []
        if self.uses_sqlite:
            problems.append("DATABASE_URL points at SQLite; use PostgreSQL")
        if not self.nhs_login_issuer:
            problems.append("NHS_LOGIN_ISSUER is not set")
        elif urlsplit(self.nhs_login_issuer).scheme != "https":
            problems.append("NHS_LOGIN_ISSUER must be an https:// URL")
        if self.nhs_login_private_key_file is None:
            problems.append("NHS_LOGIN_PRIVATE_KEY_FILE is not set")
        elif not self.nhs_login_private_key_file.is_file():
            problems.append("NHS_LOGIN_PRIVATE_KEY_FILE does not name a readable file")
        if not self.nhs_login_redirect_uri:
            problems.append("NHS_LOGIN_REDIRECT_URI is not set")
        if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32:
            problems.append("SECRET_KEY is the development default or shorter than 32 characters")
        if self.dev_login_enabled:
            problems.append("DEV_LOGIN_ENABLED is on; the development sign-in must be off")
        if self.practices_file == DEFAULT_PRACTICES_FILE:
            problems.append("PRACTICES_FILE is the demo file of simulated GP systems")
        if "*" in self.cors_allow_origins:
            problems.append("CORS_ALLOW_ORIGINS contains the wildcard '*'")
        if urlsplit(self.public_base_url).scheme != "https":
            problems.append("PUBLIC_BASE_URL must be an https:// URL")
        return problems

    def check_safe(self) -> None:
        """Refuse to start in production with any development default left in place."""
        if self.app_env is not AppEnv.PROD:
            return
        problems = self.unsafe_for_production()
        if problems:
            raise UnsafeSettings(
                "Refusing to start with APP_ENV=prod: " + "; ".join(problems) + "."
            )
