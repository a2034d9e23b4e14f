"""GP Connect consumer identity: read from `GPCONNECT_*` environment variables.

Every GP Connect call goes to NHS England's patient-facing APIs (appointments, access
record, user permissions, prescriptions), not Spine: the NHS API platform knows this app
by an API key and a signing key, and exchanges the patient's NHS login ID token for an
access token (`GPCONNECT_PFS_*`). Without a token URL, outside prod, the sandbox's open
access is assumed (`SandboxPatientTokens`). A booking names this app as the booking
organisation (ODS code, name, telephone).

There is no Spine identity (ASIDs) or practitioner JWT: nothing goes over Spine.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.config import PROJECT_ROOT, AppEnv

# Development defaults (`GPConnectSettings.with_dev_defaults`), never used in prod: a
# booking organisation that names itself as a development one, and the token exchange
# of the GP Connect stand-in that `make run` starts (app/standin, loopback port 8010)
# with a client key made under var/ on first use.
DEV_CONSUMER_ODS_CODE: Final = "DEV00"
DEV_CONSUMER_NAME: Final = "GP Online (development)"
DEV_CONSUMER_TELEPHONE: Final = "01632 960000"  # Ofcom's drama range: rings no one
DEV_PFS_TOKEN_URL: Final = "http://127.0.0.1:8010/oauth2/token"  # noqa: S105
DEV_PFS_CLIENT_ID: Final = "gp-online-dev"
DEV_PFS_KEY_FILE: Final = PROJECT_ROOT / "var" / "dev-gpconnect-client-key.pem"
DEV_PFS_KEY_ID: Final = "dev"


class GPConnectSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GPCONNECT_", env_file=".env", extra="ignore", frozen=True
    )

    app_env: AppEnv = Field(
        default=AppEnv.DEV,
        validation_alias="APP_ENV",
        description="The service's APP_ENV, read as `app.config.Settings` reads it.",
    )
    consumer_ods_code: str = Field(default="", description="Our organisation's ODS code.")
    consumer_name: str = "GP Online"
    consumer_telephone: str = Field(
        default="", description="Booking organisation telephone (the spec requires one)."
    )
    pfs_token_url: str = Field(
        default="", description="The NHS API platform's OAuth 2.0 token endpoint."
    )
    pfs_client_id: str = Field(default="", description="Our API key on the NHS API platform.")
    pfs_private_key_file: str = Field(
        default="", description="PEM (RSA) signing our client assertions to the platform."
    )
    pfs_key_id: str = Field(default="", description="The `kid` of that key in our JWKS.")

    def missing_for(self, ods_code: str) -> list[str]:
        """The settings a practice served over GP Connect still needs: the booking
        organisation that a booking names (its ODS code and telephone are required)."""
        return [
            f"GPCONNECT_{name.upper()}"
            for name in ("consumer_ods_code", "consumer_telephone")
            if not getattr(self, name)
        ]

    def missing_for_patient_facing(self, *, sandbox_allowed: bool) -> list[str]:
        """The settings the token exchange for the patient-facing APIs still needs."""
        names = ("pfs_token_url", "pfs_client_id", "pfs_private_key_file", "pfs_key_id")
        if not self.pfs_token_url and sandbox_allowed:
            return []
        return [f"GPCONNECT_{name.upper()}" for name in names if not getattr(self, name)]

    @model_validator(mode="before")
    @classmethod
    def _dev_booking_organisation(cls, data: Any) -> Any:
        """Outside prod, an unset booking organisation is the development one."""
        if not isinstance(data, dict):
            return data
        env = str(data.get("APP_ENV", data.get("app_env", AppEnv.DEV)))
        if env == AppEnv.PROD:
            return data
        return {**data, **_dev_booking_organisation(data)}

    def with_dev_defaults(self, app_env: AppEnv) -> GPConnectSettings:
        """These settings with development defaults for what is unset: outside prod, the
        booking organisation (`DEV_CONSUMER_*`); in dev, with no token URL, the GP Connect
        stand-in's token exchange and a dev client key (made on first use). Prod gets
        none, so it still refuses to start without the real ones."""
        if app_env is AppEnv.PROD:
            return self
        current = {name: getattr(self, name) for name in _BOOKING_ORGANISATION}
        changes = _dev_booking_organisation(current)
        if app_env is AppEnv.DEV and not self.pfs_token_url:
            from app.devtools.keys import ensure_dev_key

            key_file = self.pfs_private_key_file or str(ensure_dev_key(DEV_PFS_KEY_FILE))
            changes |= {
                "pfs_token_url": DEV_PFS_TOKEN_URL,
                "pfs_client_id": self.pfs_client_id or DEV_PFS_CLIENT_ID,
                "pfs_private_key_file": key_file,
                "pfs_key_id": self.pfs_key_id or DEV_PFS_KEY_ID,
            }
        return self.model_copy(update=changes) if changes else self


_BOOKING_ORGANISATION = ("consumer_ods_code", "consumer_name", "consumer_telephone")


def _dev_booking_organisation(values: dict[str, Any]) -> dict[str, str]:
    """The development booking organisation for what `values` leaves unset."""
    changes: dict[str, str] = {}
    if not values.get("consumer_ods_code"):
        changes["consumer_ods_code"] = DEV_CONSUMER_ODS_CODE
        if values.get("consumer_name") in (None, "GP Online"):
            changes["consumer_name"] = DEV_CONSUMER_NAME
    if not values.get("consumer_telephone"):
        changes["consumer_telephone"] = DEV_CONSUMER_TELEPHONE
    return changes
