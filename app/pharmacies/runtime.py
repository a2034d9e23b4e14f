"""Build the pharmacy directory `PHARMACY_DIRECTORY` names, on the lifespan's exit stack."""

from __future__ import annotations

from contextlib import AsyncExitStack

import httpx

from app.config import PharmacyDirectoryKind, Settings
from app.pharmacies.port import PharmacyDirectory


def start_pharmacy_directory(settings: Settings, stack: AsyncExitStack) -> PharmacyDirectory:
    if settings.pharmacy_directory is PharmacyDirectoryKind.SANDBOX:
        from app.pharmacies.sandbox import SandboxPharmacyDirectory

        return SandboxPharmacyDirectory()

    from app.pharmacies.service_search import ServiceSearchDirectory

    # Settings refuse `service_search` without both; checked again for the type checker.
    if settings.service_search_base_url is None or settings.service_search_api_key is None:
        raise RuntimeError("SERVICE_SEARCH_BASE_URL and SERVICE_SEARCH_API_KEY are required")
    http = httpx.AsyncClient(
        headers={"User-Agent": "gp-online"},
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
        follow_redirects=False,
    )
    stack.push_async_callback(http.aclose)
    return ServiceSearchDirectory(
        http,
        base_url=settings.service_search_base_url,
        api_key=settings.service_search_api_key.get_secret_value(),
        timeout=httpx.Timeout(settings.service_search_timeout_seconds),
    )
