"""Settings, read from environment variables (and an optional `.env`)."""

from __future__ import annotations

import hashlib
import hmac
import json
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from limits import parse
from pydantic import (
    AwareDatetime,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as EnvironmentUnreadable
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.public_address import is_wildcard, served_base_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PRACTICES_FILE = Path(__file__).resolve().parent / "gp" / "practices.json"
DEFAULT_VTR = '["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]'
DEFAULT_SCOPES = "openid profile email phone gp_registration_details gp_integration_credentials"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
DEV_SECRET_KEY = "dev-only-secret-key-change-me"  # noqa: S105
# NHS CIS2: the user's name and id (profile) and their national RBAC roles, each at its
# organisation (nationalrbacaccess).
DEFAULT_CIS2_SCOPES = "openid profile nationalrbacaccess"
# NHS CIS2 authenticator assurance: AAL3 (smartcard and other very-high-confidence
# authenticators). Practice staff decide who may read a patient's record.
DEFAULT_CIS2_ACR_VALUES = "AAL3_ANY"
CIS2_SIGNING_ALGS = ("RS256", "RS384", "RS512")
# In dev, apps may always come back here (RFC 8252 §7.3 loopback redirect), so an app
# (examples/app_sign_in.py) gets a bearer token from a plain `make run`. Never outside dev.
DEV_APP_REDIRECT_URI = "http://127.0.0.1:8765/callback"


class AppEnv(StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class PharmacyDirectoryKind(StrEnum):
    """Where patients find a pharmacy to nominate."""

    SANDBOX = "sandbox"  # the sandbox GP systems' made-up pharmacies
    SERVICE_SEARCH = "service_search"  # NHS Directory of Healthcare Services (Service Search)


# The async drivers the service runs on, and what a URL without one (as most tools and
# hosting platforms write it) means. A URL naming a synchronous driver is refused: it would
# fail later with "No module named 'psycopg'", pointing at the wrong fix.
DATABASE_SCHEMES = {
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "sqlite": "sqlite+aiosqlite",
}
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class UnsafeSettings(RuntimeError):
    """Raised when `APP_ENV=prod` is combined with development defaults."""


class InvalidSettings(RuntimeError):
    """Settings that cannot be read: the message names each one, a line apiece."""


def read_settings() -> Settings:
    """The settings from the environment (and `.env`), or `InvalidSettings` saying, one
    line per setting, what to change: for a person at a terminal, not a traceback."""
    try:
        return Settings()
    except ValidationError as invalid:
        lines = setting_errors(invalid)
    except EnvironmentUnreadable as unreadable:
        lines = [str(unreadable)]
    raise InvalidSettings(
        "Cannot start: fix these settings (environment variables or .env):\n"
        + "\n".join(f"  {line}" for line in lines)
    )


def setting_errors(invalid: ValidationError) -> list[str]:
    """`NAME: what is wrong` for each error, never the value given (it may be a secret)."""
    lines: list[str] = []
    for error in invalid.errors(include_url=False, include_input=False):
        message = error["msg"].removeprefix("Value error, ")
        location = error.get("loc") or ()
        line = f"{str(location[0]).upper()}: {message}" if location else message
        if line not in lines:
            lines.append(line)
    return lines


def async_database_url(url: str) -> str:
    """`url` with the async driver the service needs (`postgres://` is PostgreSQL with
    asyncpg); ValueError, in words that name the fix, for any other kind of database."""
    scheme, separator, rest = url.strip().partition("://")
    driver = DATABASE_SCHEMES.get(scheme.lower())
    if not separator:
        raise ValueError("is not a URL: use postgresql+asyncpg://user:password@host:5432/name")
    if driver is None:
        raise ValueError(
            f"{scheme}:// is not supported: use postgresql+asyncpg://user:password@host:5432/name"
            " (or sqlite+aiosqlite:///path/to/file.db outside prod)"
        )
    normalised = f"{driver}://{rest}"
    try:
        port = make_url(normalised).port  # a port that is not a number fails here
    except (ArgumentError, ValueError):
        port = -1
    if port is not None and not 0 < port < 65536:
        raise ValueError(
            "cannot be read as a URL: use postgresql+asyncpg://user:password@host:5432/name"
            " (in the password, write @ / : as %40 %2F %3A)"
        )
    return normalised


def simulated_practices(practices_file: Path) -> list[str]:
    """The ODS codes a practices file serves from the sandbox (simulated GP systems).

    Read with `json` alone: the full check (`app.gp.registry`) imports the metrics, which
    must wait until `python -m app` has prepared them. OSError or ValueError when the file
    cannot be read.
    """
    document = json.loads(practices_file.read_text())
    practices = document.get("practices") if isinstance(document, dict) else None
    if not isinstance(practices, list):
        raise ValueError("it holds no list of practices")
    return [
        str(practice.get("ods_code"))
        for practice in practices
        if isinstance(practice, dict) and practice.get("adapter") == "sandbox"
    ]


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
    # Secret for signing and sealing short-lived values (the sign-in cookie, CSRF tokens).
    secret_key: str = DEV_SECRET_KEY
    # Key of the opaque patient ids (app.patients.ids), apart from SECRET_KEY so that
    # rotating the session secret keeps every id, and so patients' access history.
    # Outside prod, derived from SECRET_KEY when unset.
    patient_id_key: SecretStr | None = None
    # Signs the audit trail's tip (`python -m app.audit verify --print-tip`); needed only
    # where that command runs. Outside prod, derived from SECRET_KEY when unset.
    audit_tip_key: SecretStr | None = None
    log_level: str = "INFO"

    nhs_login_issuer: str | None = None
    nhs_login_client_id: str = "gp-online-dev"
    nhs_login_private_key_file: Path | None = None
    nhs_login_redirect_uri: str | None = None
    nhs_login_scopes: str = DEFAULT_SCOPES
    nhs_login_vtr: str = DEFAULT_VTR
    # PKCE (S256) on the authorization code; NHS login accepts it, so it is on unless a
    # deployment has a reason to turn it off.
    nhs_login_pkce: bool = True
    # Redirect URIs that native apps may use when they hand us a code (POST /v1/auth/session).
    nhs_login_app_redirect_uris: Annotated[list[str], NoDecode] = Field(default_factory=list)
    nhs_login_timeout_seconds: float = Field(default=10.0, gt=0)
    dev_login_enabled: bool = True

    # Practice staff sign in with NHS CIS2 (app.staff): the same relying-party code as
    # NHS login, under this second client configuration. Without CIS2_ISSUER, and outside
    # dev (where a stand-in serves), staff cannot sign in.
    cis2_issuer: str | None = None
    cis2_client_id: str = "gp-online-staff-dev"
    cis2_private_key_file: Path | None = None
    cis2_redirect_uri: str | None = None
    cis2_scopes: str = DEFAULT_CIS2_SCOPES
    # Space-separated acr values asked for; the ID token's `acr` must be one of them.
    cis2_acr_values: str = DEFAULT_CIS2_ACR_VALUES
    # Signs the client assertion; the one algorithm accepted on CIS2's ID tokens.
    cis2_signing_alg: str = "RS512"
    cis2_pkce: bool = True
    # Redirect URIs that staff apps may use when they hand us a code
    # (POST /v1/staff/auth/session).
    cis2_app_redirect_uris: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cis2_timeout_seconds: float = Field(default=10.0, gt=0)

    # NHS login has no logout or session lifetime of its own: the service re-authenticates
    # after 30 minutes idle and 12 hours in total. Shorter is allowed, longer is not.
    session_idle_minutes: int = Field(default=30, ge=1, le=30)
    session_absolute_hours: int = Field(default=12, ge=1, le=12)
    # Fernet key(s), comma-separated, newest first, for GP linkage credentials at rest.
    gp_credentials_key: SecretStr | None = None

    practices_file: Path = DEFAULT_PRACTICES_FILE
    # How long a session's acting-for context (relationships, the user's own record
    # access) is reused before the GP system is asked again: a revoked proxy loses
    # access within this many seconds. 0 asks on every request.
    acting_context_seconds: int = Field(default=60, ge=0, le=60)
    # How long each worker reuses a practice's settings (booking window, services offered)
    # and its cancellation reasons.
    practice_settings_seconds: int = Field(default=300, ge=0, le=3600)
    # Adds X-GP-Calls (GP system calls made by the request) to every response: benchmarks.
    expose_gp_calls: bool = False
    # Connections per worker: a request holds one only while it queries, never while a
    # GP system answers, so a few serve many concurrent requests. Overflow connections
    # are closed when returned: under sustained load they are opened per request.
    database_pool_size: int = Field(default=20, ge=1)
    database_max_overflow: int = Field(default=0, ge=0)
    # The longest a request waits to open a database connection: then it answers 503
    # `database_unavailable` rather than hang while the database is down or restarting
    # (asyncpg alone waits 60 s).
    database_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # Age at which a parent's proxy access for a child pauses until the practice reviews it.
    proxy_review_age: int = Field(default=13, ge=11, le=16)
    cors_allow_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    pharmacy_directory: PharmacyDirectoryKind = PharmacyDirectoryKind.SANDBOX
    # The Directory of Healthcare Services API (version 3) and this service's API key for it.
    service_search_base_url: str | None = None
    service_search_api_key: SecretStr | None = None
    service_search_timeout_seconds: float = Field(default=5.0, gt=0, le=30)

    # Limits before parsing (app.request_limits, app.serving). Bodies are small by default;
    # a route that needs more declares it (`x-max-body-bytes` in its openapi_extra).
    max_body_bytes: int = Field(default=16 * 1024, ge=1024)
    max_header_bytes: int = Field(default=16 * 1024, ge=4096)
    # Time to send the headers, and then the whole body, however slowly it trickles in.
    request_read_timeout_seconds: float = Field(default=10.0, gt=0)
    max_concurrent_requests: int = Field(default=100, ge=1)
    # Of those, the most one client address (an IPv6 /64) may hold, so that no one client
    # can fill a worker. Behind a proxy, needs FORWARDED_ALLOW_IPS to tell clients apart.
    max_concurrent_requests_per_address: int = Field(default=10, ge=1)

    # Rate limits (app.ratelimit), as `limits` strings ("10/hour", "5 per day"). In memory
    # per worker unless RATE_LIMIT_STORAGE_URL names Redis, shared by every instance.
    rate_limit_enabled: bool = True
    rate_limit_storage_url: str | None = None
    # Keeps budgets apart when several deployments share one Redis.
    rate_limit_namespace: str = "gp-online"
    rate_limit_sign_in: str = "60/minute"  # per client address
    rate_limit_booking: str = "10/hour"  # per account, whoever it acts for
    rate_limit_prescription_request: str = "10/hour"
    rate_limit_record_correction: str = "5/day"
    rate_limit_account: str = "300/minute"  # every signed-in request
    # Prometheus metrics (app.metrics): on a port of their own, and/or on the main port
    # behind a bearer token. With neither, on the main port outside prod only.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_token: SecretStr | None = None
    # Live sessions per account; signing in past it ends the oldest.
    max_sessions_per_account: int = Field(default=5, ge=1)
    # Seconds a request's claim on an Idempotency-Key, and its lock on a patient's action,
    # outlive a worker that died holding them (app.idempotency.lease): then a retry takes
    # over. Longer than any request can take, or two could act at once.
    idempotency_lease_seconds: float = Field(default=120.0, gt=0, le=3600)
    # Days a report of an inaccuracy is kept after it was made (and reached the practice):
    # the practice's answer may take up to three months (UK GDPR Article 12(3)). At least a
    # week, so that a retry within the 24 hours its Idempotency-Key is kept finds it.
    record_correction_retention_days: int = Field(default=90, ge=7, le=365)
    # Days an application for access is kept after it closed (applied, rejected or
    # withdrawn): long enough to answer questions about the decision; who decided what
    # stays in the audit trail. At least a day, so a retry of its submission finds it.
    access_request_retention_days: int = Field(default=180, ge=1, le=3650)
    # Stops the clock at this instant (ISO 8601 with an offset) for tests that run the
    # service in a process of its own. Never in prod.
    frozen_now: AwareDatetime | None = None

    @field_validator("database_url", "sandbox_database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        return None if value is None else async_database_url(value)

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        if value.strip().lower() not in LOG_LEVELS:
            raise ValueError("must be one of " + ", ".join(LOG_LEVELS))
        return value.strip().upper()

    @field_validator("public_base_url")
    @classmethod
    def _check_public_base_url(cls, value: str) -> str:
        host = urlsplit(value).hostname
        if host is not None and is_wildcard(host):
            raise ValueError(
                f"names {host}, which is where a server listens, not an address to open: "
                "name one a browser opens, such as http://127.0.0.1:8000, or leave it unset "
                "outside prod (it then follows HOST and PORT)"
            )
        return value

    @field_validator(
        "cors_allow_origins", "nhs_login_app_redirect_uris", "cis2_app_redirect_uris", mode="before"
    )
    @classmethod
    def _parse_origins(cls, value: object) -> object:
        return _split_list(value)

    @field_validator(
        "rate_limit_sign_in",
        "rate_limit_booking",
        "rate_limit_prescription_request",
        "rate_limit_record_correction",
        "rate_limit_account",
    )
    @classmethod
    def _check_rate(cls, value: str) -> str:
        try:
            parse(value)
        except ValueError:
            raise ValueError("rate limits look like '10/hour' or '5 per day'") from None
        return value

    @field_validator("gp_credentials_key")
    @classmethod
    def _check_fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            for key in value.get_secret_value().split(","):
                try:
                    Fernet(key.strip())
                except ValueError:
                    raise ValueError(
                        "GP_CREDENTIALS_KEY must be Fernet keys (32 url-safe base64 bytes)"
                    ) from None
        return value

    @model_validator(mode="after")
    def _check_issuer(self) -> Settings:
        # Outside prod a local OpenID provider may stand in on http:// loopback; anything
        # else must be https. In prod, `unsafe_for_production` names the problem instead.
        if self.nhs_login_issuer and self.app_env is not AppEnv.PROD:
            parts = urlsplit(self.nhs_login_issuer)
            loopback_http = parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
            if parts.scheme != "https" and not loopback_http:
                raise ValueError(
                    "NHS_LOGIN_ISSUER must be https:// (http:// only on a loopback address)"
                )
        return self

    @model_validator(mode="after")
    def _check_cis2(self) -> Settings:
        if self.cis2_signing_alg not in CIS2_SIGNING_ALGS:
            raise ValueError("CIS2_SIGNING_ALG must be one of " + ", ".join(CIS2_SIGNING_ALGS))
        if not self.cis2_acr_values.split():
            raise ValueError("CIS2_ACR_VALUES must name at least one acr value")
        if "openid" not in self.cis2_scopes.split():
            raise ValueError("CIS2_SCOPES must include openid")
        if self.cis2_issuer and self.app_env is not AppEnv.PROD:
            parts = urlsplit(self.cis2_issuer)
            loopback_http = parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
            if parts.scheme != "https" and not loopback_http:
                raise ValueError(
                    "CIS2_ISSUER must be https:// (http:// only on a loopback address)"
                )
        return self

    @model_validator(mode="after")
    def _check_service_search(self) -> Settings:
        if self.pharmacy_directory is not PharmacyDirectoryKind.SERVICE_SEARCH:
            return self
        if not self.service_search_base_url or self.service_search_api_key is None:
            raise ValueError(
                "PHARMACY_DIRECTORY=service_search needs SERVICE_SEARCH_BASE_URL and "
                "SERVICE_SEARCH_API_KEY"
            )
        parts = urlsplit(self.service_search_base_url)
        loopback_http = parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        if parts.scheme != "https" and not loopback_http:
            raise ValueError(
                "SERVICE_SEARCH_BASE_URL must be https:// (http:// only on a loopback address)"
            )
        return self

    @property
    def redirect_uri(self) -> str:
        """Where NHS login sends the browser back: the setting, or this service's callback."""
        return self.nhs_login_redirect_uri or f"{self.public_base_url}/v1/auth/callback"

    @property
    def staff_redirect_uri(self) -> str:
        """Where NHS CIS2 sends the browser back: the setting, or the staff callback."""
        return self.cis2_redirect_uri or f"{self.public_base_url}/v1/staff/auth/callback"

    @property
    def cis2_acr(self) -> tuple[str, ...]:
        return tuple(self.cis2_acr_values.split())

    @property
    def staff_app_redirect_uris(self) -> frozenset[str]:
        """Where staff apps may have NHS CIS2 send their codes: the setting, plus in dev
        the loopback `DEV_APP_REDIRECT_URI`."""
        uris = set(self.cis2_app_redirect_uris)
        if self.app_env is AppEnv.DEV:
            uris.add(DEV_APP_REDIRECT_URI)
        return frozenset(uris)

    def served_at(self, host: str, port: int) -> Settings:
        """These settings for a server bound to `host`:`port`. Outside prod, with no
        PUBLIC_BASE_URL given, the public address is the bound one (loopback for a
        wildcard bind), so that sign-in comes back to the server it started at. Prod
        keeps the https PUBLIC_BASE_URL it refuses to start without."""
        if self.app_env is AppEnv.PROD or "public_base_url" in self.model_fields_set:
            return self
        return self.model_copy(update={"public_base_url": served_base_url(host, port)})

    @property
    def app_redirect_uris(self) -> frozenset[str]:
        """Where apps may have NHS login send their codes: the setting, plus in dev the
        loopback `DEV_APP_REDIRECT_URI`."""
        uris = set(self.nhs_login_app_redirect_uris)
        if self.app_env is AppEnv.DEV:
            uris.add(DEV_APP_REDIRECT_URI)
        return frozenset(uris)

    @property
    def patient_id_secret(self) -> str:
        """The key patient ids are made with: PATIENT_ID_KEY, else one derived for dev."""
        if self.patient_id_key is not None:
            return self.patient_id_key.get_secret_value()
        derived = hmac.new(self.secret_key.encode(), b"gp-online:patient-id", hashlib.sha256)
        return derived.hexdigest()

    @property
    def cursor_secret(self) -> str:
        """The key page cursors are signed with (app.cursors): derived from SECRET_KEY,
        so rotating it ends every cursor, under a label no other signed value uses."""
        derived = hmac.new(self.secret_key.encode(), b"gp-online:page-cursor", hashlib.sha256)
        return derived.hexdigest()

    @property
    def audit_tip_secret(self) -> str | None:
        """AUDIT_TIP_KEY, else (outside prod) one derived from SECRET_KEY."""
        if self.audit_tip_key is not None:
            return self.audit_tip_key.get_secret_value()
        if self.app_env is AppEnv.PROD:
            return None
        derived = hmac.new(self.secret_key.encode(), b"gp-online:audit-tip", hashlib.sha256)
        return derived.hexdigest()

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
        if self.gp_credentials_key is None:
            problems.append("GP_CREDENTIALS_KEY is not set")
        if self.patient_id_key is None or len(self.patient_id_key.get_secret_value()) < 32:
            problems.append("PATIENT_ID_KEY is not set or shorter than 32 characters")
        elif self.patient_id_key.get_secret_value() == self.secret_key:
            problems.append("PATIENT_ID_KEY must differ from SECRET_KEY")
        if self.dev_login_enabled:
            problems.append("DEV_LOGIN_ENABLED is on; the development sign-in must be off")
        # Staff sign-in is optional (without it no one signs in as staff), but a CIS2
        # issuer that is set must be usable.
        if self.cis2_issuer:
            if urlsplit(self.cis2_issuer).scheme != "https":
                problems.append("CIS2_ISSUER must be an https:// URL")
            if self.cis2_private_key_file is None:
                problems.append("CIS2_PRIVATE_KEY_FILE is not set")
            elif not self.cis2_private_key_file.is_file():
                problems.append("CIS2_PRIVATE_KEY_FILE does not name a readable file")
            if not self.cis2_redirect_uri:
                problems.append("CIS2_REDIRECT_URI is not set")
        problems.extend(self._practices_file_problems())
        if self.pharmacy_directory is PharmacyDirectoryKind.SANDBOX:
            problems.append("PHARMACY_DIRECTORY is the sandbox list of made-up pharmacies")
        elif urlsplit(self.service_search_base_url or "").scheme != "https":
            problems.append("SERVICE_SEARCH_BASE_URL must be an https:// URL")
        if "*" in self.cors_allow_origins:
            problems.append("CORS_ALLOW_ORIGINS contains the wildcard '*'")
        if urlsplit(self.public_base_url).scheme != "https":
            problems.append("PUBLIC_BASE_URL must be an https:// URL")
        if self.frozen_now is not None:
            problems.append("FROZEN_NOW is set; production runs on the real clock")
        return problems

    def _practices_file_problems(self) -> list[str]:
        """A practices file that serves any practice from the sandbox, whatever its path:
        a copy of the demo file would otherwise put patients on simulated GP systems."""
        try:
            simulated = simulated_practices(self.practices_file)
        except (OSError, ValueError) as unreadable:
            reason = getattr(unreadable, "strerror", None) or str(unreadable)
            return [f"PRACTICES_FILE {self.practices_file} cannot be read: {reason}"]
        if not simulated:
            return []
        return [
            f"PRACTICES_FILE serves {', '.join(simulated)} from the sandbox adapter "
            "(simulated GP systems)"
        ]

    def check_safe(self) -> None:
        """Refuse to start in production with any development default left in place:
        every reason at once, a line each."""
        if self.app_env is not AppEnv.PROD:
            return
        problems = self.unsafe_for_production()
        if problems:
            raise UnsafeSettings(
                "Refusing to start with APP_ENV=prod:\n"
                + "\n".join(f"  {problem}" for problem in problems)
            )
