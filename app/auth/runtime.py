"""Everything sign-in needs at run time, built once in the lifespan: NHS login for
patients, and NHS CIS2 for practice staff (the same relying party, configured apart)."""

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
    CIS2_ASSURANCE,
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
    """Where the relying party finds NHS login or NHS CIS2 (or a development stand-in)."""

    issuer: str
    private_key_file: Path
    # The dev stand-in is served in-process; NHS login itself is reached over the network.
    transport: httpx.AsyncBaseTransport | None = None


def configured_endpoint(settings: Settings) -> NHSLoginEndpoint | None:
    if settings.nhs_login_issuer and settings.nhs_login_private_key_file:
        return NHSLoginEndpoint(settings.nhs_login_issuer, settings.nhs_login_private_key_file)
    return None


def configured_cis2_endpoint(settings: Settings) -> NHSLoginEndpoint | None:
    if settings.cis2_issuer and settings.cis2_private_key_file:
        return NHSLoginEndpoint(settings.cis2_issuer, settings.cis2_private_key_file)
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


async def relying_party_for(
    settings: Settings, clock: Clock, stack: AsyncExitStack, endpoint: NHSLoginEndpoint
) -> RelyingParty:
    """The relying party for `endpoint`, over an httpx client closed with `stack`."""
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
    return RelyingParty(config, await _provider_client(endpoint, config, stack), clock)


async def cis2_relying_party(
    settings: Settings, clock: Clock, stack: AsyncExitStack, endpoint: NHSLoginEndpoint
) -> RelyingParty:
    """The relying party for NHS CIS2: the same code as NHS login's, its own client."""
    config = RelyingPartyConfig(
        issuer=endpoint.issuer,
        client_id=settings.cis2_client_id,
        private_key=RSAKey.import_key(endpoint.private_key_file.read_bytes()),
        redirect_uri=settings.staff_redirect_uri,
        scopes=settings.cis2_scopes,
        vectors=settings.cis2_acr,
        pkce=settings.cis2_pkce,
        app_redirect_uris=settings.staff_app_redirect_uris,
        timeout_seconds=settings.cis2_timeout_seconds,
        assurance=CIS2_ASSURANCE,
        signing_alg=settings.cis2_signing_alg,
        provider_name="NHS CIS2",
    )
    return RelyingParty(config, await _provider_client(endpoint, config, stack), clock)


async def _provider_client(
    endpoint: NHSLoginEndpoint, config: RelyingPartyConfig, stack: AsyncExitStack
) -> httpx.AsyncClient:
    http = httpx.AsyncClient(
        transport=endpoint.transport,
        timeout=config.timeout_seconds,
        follow_redirects=False,
        headers={"User-Agent": "gp-online"},
    )
    await stack.enter_async_context(http)
    return http


async def nhs_login_refresher(
    settings: Settings, clock: Clock, stack: AsyncExitStack
) -> RelyingParty | None:
    """NHS login's refresh grant for `SessionIdTokens` (fresh ID tokens for the patient-
    facing APIs), or None when NHS login is not configured (then none are refreshed)."""
    endpoint = configured_endpoint(settings)
    return None if endpoint is None else await relying_party_for(settings, clock, stack, endpoint)


async def start_auth(
    settings: Settings,
    clock: Clock,
    stack: AsyncExitStack,
    endpoint: NHSLoginEndpoint | None,
) -> AuthRuntime:
    relying_party: RelyingParty | None = None
    if endpoint is not None:
        relying_party = await relying_party_for(settings, clock, stack, endpoint)
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


@dataclass(frozen=True, slots=True)
class StaffAuthRuntime:
    """What practice staff sign-in needs: NHS CIS2's relying party (None when CIS2 is not
    configured), the session limits and the sealed sign-in cookie."""

    relying_party: RelyingParty | None
    policy: SessionPolicy
    login_cookie: SealedValue


async def start_staff_auth(
    settings: Settings,
    clock: Clock,
    stack: AsyncExitStack,
    endpoint: NHSLoginEndpoint | None,
) -> StaffAuthRuntime:
    relying_party: RelyingParty | None = None
    if endpoint is not None:
        relying_party = await cis2_relying_party(settings, clock, stack, endpoint)
    else:
        logger.info("NHS CIS2 is not configured: practice staff cannot sign in")
    return StaffAuthRuntime(
        relying_party=relying_party,
        # The same limits as patients': 30 minutes idle, 12 hours in all.
        policy=SessionPolicy.from_settings(settings),
        # Its own purpose: a patient's sign-in cookie never opens as a staff one.
        login_cookie=SealedValue(settings.secret_key, "staff-login", timedelta(minutes=10)),
    )
