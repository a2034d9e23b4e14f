"""GP Connect adapter: practices whose clinical system is reached over GP Connect.

`create_gpconnect_factory` opens one shared httpx client for every GP Connect practice
(closed with the lifespan) and returns the factory the registry calls per practice.
See `adapter.py` for what is and is not covered.
"""

from __future__ import annotations

import contextlib

import httpx

from app.adapters.gpconnect.adapter import GPConnectAdapter, GPConnectClients
from app.adapters.gpconnect.client import Endpoint, GPConnectClient
from app.adapters.gpconnect.fhir import BookingOrganisation
from app.adapters.gpconnect.settings import GPConnectSettings
from app.clock import Clock
from app.config import Settings
from app.gp.port import GPSystem
from app.gp.registry import AdapterFactory, PracticeConfig, PracticesFileInvalid, Service

__all__ = ["GPConnectAdapter", "GPConnectSettings", "create_gpconnect_factory"]


async def create_gpconnect_factory(
    settings: Settings,
    clock: Clock,
    stack: contextlib.AsyncExitStack,
    *,
    gpconnect: GPConnectSettings | None = None,
) -> AdapterFactory:
    """One shared httpx client; the factory binds an adapter to one practice."""
    options = gpconnect or GPConnectSettings()
    client = httpx.AsyncClient(
        headers={"User-Agent": "gp-online"},
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        follow_redirects=False,
    )
    stack.push_async_callback(client.aclose)
    organisation = BookingOrganisation(
        ods_code=options.consumer_ods_code,
        name=options.consumer_name,
        telephone=options.consumer_telephone,
    )

    def factory(config: PracticeConfig) -> GPSystem:
        services: tuple[Service, ...] = ("appointments", "prescriptions", "record")
        unset = [service for service in services if not config.endpoint(service)]
        if unset:
            raise PracticesFileInvalid(
                f"{config.ods_code}: a gpconnect practice needs base_url, or endpoints for "
                + ", ".join(unset)
            )
        missing = options.missing_for(config.ods_code)
        if missing:
            raise PracticesFileInvalid(
                f"{config.ods_code}: GP Connect needs {', '.join(missing)} to be set"
            )

        def client_for(service: Service) -> GPConnectClient:
            endpoint = Endpoint(
                base_url=config.endpoint(service) or "",
                ods_code=config.ods_code,
                provider_asid=options.provider_asids[config.ods_code],
                timeout=httpx.Timeout(config.timeouts.read, connect=config.timeouts.connect),
            )
            return GPConnectClient(
                client, endpoint, options, clock, system_url=settings.public_base_url
            )

        return GPConnectAdapter(
            GPConnectClients(
                appointments=client_for("appointments"),
                prescriptions=client_for("prescriptions"),
                record=client_for("record"),
            ),
            ods_code=config.ods_code,
            practice_name=config.name,
            booking_organisation=organisation,
            clock=clock,
        )

    return factory
