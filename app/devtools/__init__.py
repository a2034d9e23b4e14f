"""Development tools, never mounted outside APP_ENV=dev.

`mount_dev_login` adds the NHS login stand-in when the app runs with
`APP_ENV=dev`, no `NHS_LOGIN_ISSUER` and `DEV_LOGIN_ENABLED`; the relying
party then signs in against it, in-process.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from joserfc.jwk import RSAKey

from app.auth.runtime import NHSLoginEndpoint
from app.clock import Clock
from app.config import PROJECT_ROOT, AppEnv, Settings

DEV_KEY_FILE = PROJECT_ROOT / "var" / "dev-nhs-login-key.pem"


def dev_login_wanted(settings: Settings) -> bool:
    return (
        settings.app_env is AppEnv.DEV
        and not settings.nhs_login_issuer
        and settings.dev_login_enabled
    )


def mount_dev_login(app: FastAPI, settings: Settings, clock: Clock) -> NHSLoginEndpoint | None:
    """Mount the stand-in when wanted; returns where the relying party finds it."""
    if not dev_login_wanted(settings):
        return None
    from app.adapters.sandbox.personas import persona_catalogue
    from app.devtools.keys import ensure_dev_key
    from app.devtools.nhs_login import STANDIN_PATH, NHSLoginStandIn
    from app.devtools.oidc_provider import build_router
    from app.devtools.standin_store import StandInStore, state_file_beside

    key_file = ensure_dev_key(settings.nhs_login_private_key_file or DEV_KEY_FILE)
    client_key = RSAKey.import_key(key_file.read_bytes())
    issuer = settings.public_base_url.rstrip("/") + STANDIN_PATH
    provider = NHSLoginStandIn(
        issuer=issuer,
        client_id=settings.nhs_login_client_id,
        client_key=RSAKey.import_key(client_key.as_dict(private=False)),
        redirect_uris=frozenset({settings.redirect_uri, *settings.app_redirect_uris}),
        clock=clock,
        personas=persona_catalogue,
        store=StandInStore(state_file_beside(key_file)),
    )
    app.state.dev_nhs_login = provider
    app.include_router(build_router(provider, STANDIN_PATH))
    # The back channel (token, keys, userinfo) stays in-process: the same relying-party
    # code as with NHS login, without the server calling itself over the network.
    return NHSLoginEndpoint(issuer, key_file, transport=httpx.ASGITransport(app=app))
