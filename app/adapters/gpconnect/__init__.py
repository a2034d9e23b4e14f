"""GP Connect adapter: practices whose clinical system is reached over GP Connect.

`create_gpconnect_factory` opens one shared httpx client for every GP Connect practice
(closed with the lifespan) and returns the factory the registry calls per practice.
See `adapter.py` for what is and is not covered.

Every service goes to one of NHS England's patient-facing APIs (appointments, access
record, user permissions, prescriptions) with the patient's own access token: the token
exchange needs the patient's NHS login ID token from their sign-in (`id_tokens`). The
practices file gives each API's base URL (`endpoints`; the user permissions one may be
derived: `permissions.permissions_base_url`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx
from joserfc.jwk import RSAKey

from app.adapters.gpconnect.adapter import GPConnectAdapter, GPConnectClients
from app.adapters.gpconnect.fhir import BookingOrganisation
from app.adapters.gpconnect.patient_access import (
    NHSLoginIdTokens,
    NHSLoginTokenExchange,
    PatientTokenExchange,
    SandboxPatientTokens,
)
from app.adapters.gpconnect.patient_facing import PatientFacingClient, PatientFacingEndpoint
from app.adapters.gpconnect.permissions import permissions_base_url
from app.adapters.gpconnect.settings import GPConnectSettings
from app.clock import Clock
from app.config import AppEnv, Settings
from app.gp.port import GPSystem
from app.gp.registry import AdapterFactory, PracticeConfig, PracticesFileInvalid, Service

__all__ = [
    "GPConnectAdapter",
    "GPConnectSettings",
    "NHSLoginIdTokens",
    "PatientTokenExchange",
    "create_gpconnect_factory",
]


def patient_token_exchange(
    options: GPConnectSettings,
    http: httpx.AsyncClient,
    clock: Clock,
    *,
    id_tokens: NHSLoginIdTokens | None,
) -> PatientTokenExchange:
    """The real exchange when the platform is configured, else the sandbox's open access."""
    if not options.pfs_token_url:
        return SandboxPatientTokens()
    if id_tokens is None:
        raise RuntimeError(
            "GPCONNECT_PFS_TOKEN_URL is set but no source of NHS login ID tokens was given"
        )
    return NHSLoginTokenExchange(
        http,
        token_url=options.pfs_token_url,
        client_id=options.pfs_client_id,
        private_key=RSAKey.import_key(Path(options.pfs_private_key_file).read_bytes()),
        key_id=options.pfs_key_id,
        id_tokens=id_tokens,
        clock=clock,
    )


async def create_gpconnect_factory(
    settings: Settings,
    clock: Clock,
    stack: contextlib.AsyncExitStack,
    *,
    gpconnect: GPConnectSettings | None = None,
    id_tokens: NHSLoginIdTokens | None = None,
    patient_tokens: PatientTokenExchange | None = None,
) -> AdapterFactory:
    """One shared httpx client; the factory binds an adapter to one practice.

    `patient_tokens` overrides the token exchange built from the settings (tests)."""
    options = gpconnect or GPConnectSettings()
    client = httpx.AsyncClient(
        headers={"User-Agent": "gp-online"},
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        follow_redirects=False,
    )
    stack.push_async_callback(client.aclose)
    missing_platform = options.missing_for_patient_facing(
        sandbox_allowed=settings.app_env != AppEnv.PROD or patient_tokens is not None
    )
    tokens = patient_tokens
    if tokens is None and not missing_platform:
        tokens = patient_token_exchange(options, client, clock, id_tokens=id_tokens)
    organisation = BookingOrganisation(
        ods_code=options.consumer_ods_code,
        name=options.consumer_name,
        telephone=options.consumer_telephone,
    )

    def factory(config: PracticeConfig) -> GPSystem:
        services: tuple[Service, ...] = ("appointments", "prescriptions", "record")
        urls: dict[str, str | None] = {service: config.endpoint(service) for service in services}
        urls["permissions"] = permissions_base_url(config)
        unset = [name for name, url in urls.items() if not url]
        if unset:
            raise PracticesFileInvalid(
                f"{config.ods_code}: a gpconnect practice needs base_url, or endpoints for "
                + ", ".join(unset)
            )
        missing = options.missing_for(config.ods_code) + missing_platform
        if missing or tokens is None:
            raise PracticesFileInvalid(
                f"{config.ods_code}: GP Connect needs {', '.join(missing)} to be set"
            )
        patient_tokens = tokens
        timeout = httpx.Timeout(config.timeouts.read, connect=config.timeouts.connect)

        def client_for(name: str) -> PatientFacingClient:
            endpoint = PatientFacingEndpoint(
                base_url=urls[name] or "", ods_code=config.ods_code, timeout=timeout
            )
            return PatientFacingClient(client, endpoint, patient_tokens)

        return GPConnectAdapter(
            GPConnectClients(
                appointments=client_for("appointments"),
                prescriptions=client_for("prescriptions"),
                record=client_for("record"),
                permissions=client_for("permissions"),
            ),
            ods_code=config.ods_code,
            practice_name=config.name,
            booking_organisation=organisation,
            clock=clock,
        )

    return factory
