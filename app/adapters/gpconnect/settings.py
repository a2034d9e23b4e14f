"""GP Connect consumer identity: read from `GPCONNECT_*` environment variables.

Spine identifies a consumer by its ASID and each practice's system by its own ASID
(Ssp-From / Ssp-To). The practices file has no place for the provider ASID, so it is
configured here as a JSON map of ODS code → ASID (`GPCONNECT_PROVIDER_ASIDS`).

The patient-facing APIs (prescriptions) are not on Spine: the NHS API platform knows
this app by an API key and a signing key, and exchanges the patient's NHS login ID
token for an access token (`GPCONNECT_PFS_*`). Without a token URL, outside prod, the
sandbox's open access is assumed (`SandboxPatientTokens`).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GPConnectSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GPCONNECT_", env_file=".env", extra="ignore", frozen=True
    )

    consumer_asid: str = Field(default="", description="Our Spine ASID (Ssp-From).")
    consumer_ods_code: str = Field(default="", description="Our organisation's ODS code.")
    consumer_name: str = "GP Online"
    consumer_telephone: str = Field(
        default="", description="Booking organisation telephone (the spec requires one)."
    )
    provider_asids: dict[str, str] = Field(
        default_factory=dict, description="Practice ODS code → the practice system's ASID."
    )
    jwt_lifetime_seconds: int = Field(default=300, ge=1, le=300)
    pfs_token_url: str = Field(
        default="", description="The NHS API platform's OAuth 2.0 token endpoint."
    )
    pfs_client_id: str = Field(default="", description="Our API key on the NHS API platform.")
    pfs_private_key_file: str = Field(
        default="", description="PEM (RSA) signing our client assertions to the platform."
    )
    pfs_key_id: str = Field(default="", description="The `kid` of that key in our JWKS.")

    def missing_for(self, ods_code: str) -> list[str]:
        """The settings a practice served over GP Connect still needs."""
        missing = [
            f"GPCONNECT_{name.upper()}"
            for name in ("consumer_asid", "consumer_ods_code", "consumer_telephone")
            if not getattr(self, name)
        ]
        if ods_code not in self.provider_asids:
            missing.append(f"GPCONNECT_PROVIDER_ASIDS[{ods_code}]")
        return missing

    def missing_for_patient_facing(self, *, sandbox_allowed: bool) -> list[str]:
        """The settings the token exchange for the patient-facing APIs still needs."""
        names = ("pfs_token_url", "pfs_client_id", "pfs_private_key_file", "pfs_key_id")
        if not self.pfs_token_url and sandbox_allowed:
            return []
        return [f"GPCONNECT_{name.upper()}" for name in names if not getattr(self, name)]
