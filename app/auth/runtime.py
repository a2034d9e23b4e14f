"""Everything sign-in needs at run time, built once in the lifespan."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from cryptography.fernet import MultiFernet
from joserfc.jwk import RSAKey

from app.auth.cookies import SealedValue, derive_key
from app.auth.credentials import credentials_cipher
from app.auth.oidc import (
    DISCOVERY_RETRY_SECONDS,
    RelyingParty,
    RelyingPartyConfig,
    vectors_from_json,
)
from app.auth.service import SessionPolicy
from app.clock import Clock
from app.config import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NHSLoginEndpoint:
    """Where the relying party finds NHS login (or the development stand-in)."""

    issuer: str
    private_key_file: Path
    # The dev stand-in is served in-process; NHS login itself is reached over the network.
    transport: httpx.AsyncBaseTransport | None = None


def configured_endpoint(settings: Settings) -> NHSLoginEndpoint | None:
    if settings.nhs_login_issuer and settings.nhs_login_private_key_file:
        return NHSLoginEndpoint(settings.nhs_login_issuer, settings.nhs_login_private_key_file)
    return None


@dataclass(frozen=True, slots=True)
class AuthRuntime:
    settings: Settings
    relying_party: RelyingParty | None
    policy: SessionPolicy
    cipher: MultiFernet
    login_cookie: SealedValue
    csrf_key: bytes

    def csrf_token(self, session_id: str) -> str:
        """Bound to the session, so a token planted by another site cannot match."""
        return hmac.new(self.csrf_key, session_id.encode(), hashlib.sha256).hexdigest()


async def start_auth(
    settings: Settings,
    clock: Clock,
    stack: AsyncExitStack,
    endpoint: NHSLoginEndpoint | None,
) -> AuthRuntime:
    relying_party: RelyingParty | None = None
    if endpoint is not None:
        config = RelyingPartyConfig(
            issuer=endpoint.issuer,
            client_id=settings.nhs_login_client_id,
            private_key=RSAKey.import_key(endpoint.private_key_file.read_bytes()),
            redirect_uri=settings.redirect_uri,
            scopes=settings.nhs_login_scopes,
            vectors=vectors_from_json(settings.nhs_login_vtr),
            pkce=settings.nhs_login_pkce,
            app_redirect_uris=settings.app_redirect_uris,
            timeout_seconds=settings.nhs_login_timeout_seconds,
        )
        http = httpx.AsyncClient(
            transport=endpoint.transport,
            timeout=settings.nhs_login_timeout_seconds,
            follow_redirects=False,
            headers={"User-Agent": "gp-online"},
        )
        await stack.enter_async_context(http)
        relying_party = RelyingParty(config, http, clock)
        # Read discovery in the background, again every minute until it has been read:
        # start-up never waits on NHS login, and /readyz reports what the provider does
        # not offer, or why it cannot be read.
        check = asyncio.create_task(
            relying_party.keep_checking_provider(every=DISCOVERY_RETRY_SECONDS)
        )
        stack.callback(check.cancel)
    else:
        logger.warning("NHS login is not configured: signing in is unavailable")
    return AuthRuntime(
        settings=settings,
        relying_party=relying_party,
        policy=SessionPolicy.from_settings(settings),
        cipher=credentials_cipher(settings),
        # A sign-in must finish within 10 minutes.
        login_cookie=SealedValue(settings.secret_key, "login", timedelta(minutes=10)),
        csrf_key=derive_key(settings.secret_key, "csrf"),
    )
