"""A strict stand-in for NHS CIS2 (Care Identity Service 2), for development only.

Mounted like the NHS login stand-in (`app.devtools.nhs_login`), and sharing its OpenID
provider flow (`app.devtools.oidc_provider`): with `APP_ENV=dev`, no
`CIS2_ISSUER` and `DEV_LOGIN_ENABLED`. It checks what CIS2 checks of a relying party
(client_id, redirect_uri, response_type=code, `openid` scope, state, nonce, the
`acr_values` asked for, PKCE S256, a `private_key_jwt` client assertion with
iss = sub = client_id, aud = token endpoint, a short exp and a fresh jti) and answers as
CIS2 does: an ID token with `acr`, and userinfo with the `nationalrbacaccess` claims
(`nhsid_useruid`, `nhsid_nrbac_roles` with `org_code`, `person_roleid`, `role_code`,
`role_name`). Signing in means picking a staff persona of a sandbox practice.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
from fastapi import FastAPI
from joserfc.jwk import RSAKey

from app.auth.runtime import NHSLoginEndpoint
from app.clock import Clock
from app.config import PROJECT_ROOT, AppEnv, Settings
from app.devtools.oidc_provider import (
    AuthorizeRejected,
    AuthorizeRequest,
    OIDCStandIn,
    Release,
    build_router,
)
from app.devtools.standin_store import StandInStore, state_file_beside
from app.staff.service import IssuedStaffSession
from app.staff.types import StaffVia

STANDIN_PATH = "/dev/cis2"
DEV_CIS2_KEY_FILE = PROJECT_ROOT / "var" / "dev-cis2-key.pem"
# CIS2's acr values: AAL3 (smartcards and the like) or AAL2 and above. Every persona here
# signs in with a smartcard, so meets any of them.
ACR_VALUES = ("AAL3_ANY", "AAL2_OR_AAL3_ANY", "AAL2_ANY")
# The national RBAC job roles the personas hold (CIS2 sends the code path and the names).
_ROLE_PATHS = {
    "R8000": ("S8000:G8000:R8000", '"Clinical":"Clinical Provision":"Clinical Practitioner '
              'Access Role"'),
    "R8008": ("S8000:G8001:R8008", '"Admin & Clinical Support":"Admin & Clinical Support":'
              '"Admin/Clinical Support Access Role"'),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class StaffPersona:
    """A made-up member of practice staff, with national RBAC roles at sandbox practices."""

    tag: str
    uid: str  # the CIS2 user id (sub and nhsid_useruid)
    given_name: str
    family_name: str
    roles: tuple[tuple[str, str], ...]  # (org_code, role code) each

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def label(self) -> str:
        held = ", ".join(f"{role} at {org}" for org, role in self.roles)
        return f"{self.name} — {held}"

    def userinfo(self, scopes: frozenset[str]) -> dict[str, Any]:
        """Userinfo as CIS2 gives it for these scopes."""
        claims: dict[str, Any] = {"sub": self.uid}
        if "profile" in scopes:
            claims.update(
                name=self.name,
                given_name=self.given_name,
                family_name=self.family_name,
                uid=self.uid,
            )
        if "nationalrbacaccess" in scopes:
            claims["nhsid_useruid"] = self.uid
            claims["nhsid_nrbac_roles"] = [
                {
                    "person_orgid": f"{self.uid[-6:]}{index:02d}",
                    "person_roleid": f"{self.uid}{index:02d}",
                    "org_code": org,
                    "role_code": _ROLE_PATHS[role][0],
                    "role_name": _ROLE_PATHS[role][1],
                }
                for index, (org, role) in enumerate(self.roles, start=1)
            ]
        return claims


# A GP (R8000, a clinician here) and a receptionist (R8008, an administrator here) at each
# sandbox practice, and a locum GP who works at two of them.
STAFF_PERSONAS = (
    StaffPersona("gp-a81001", "555000000101", "Asha", "Patel", (("A81001", "R8000"),)),
    StaffPersona("reception-a81001", "555000000102", "Robin", "Hughes", (("A81001", "R8008"),)),
    StaffPersona("gp-b82002", "555000000201", "Ben", "Okafor", (("B82002", "R8000"),)),
    StaffPersona("reception-b82002", "555000000202", "Sam", "Reid", (("B82002", "R8008"),)),
    StaffPersona("gp-c83003", "555000000301", "Carys", "Evans", (("C83003", "R8000"),)),
    StaffPersona("reception-c83003", "555000000302", "Jo", "Brennan", (("C83003", "R8008"),)),
    StaffPersona(
        "locum-a81001-b82002",
        "555000000901",
        "Morgan",
        "Lee",
        (("A81001", "R8000"), ("B82002", "R8000")),
    ),
)


def find_staff_persona(choice: str) -> StaffPersona | None:
    """The persona by its CIS2 user id (what the page sends) or its tag."""
    return next((p for p in STAFF_PERSONAS if choice in (p.uid, p.tag)), None)


@dataclass(slots=True, kw_only=True)
class CIS2StandIn(OIDCStandIn):
    """CIS2 for the staff personas; `client_key` is the public half of
    CIS2_PRIVATE_KEY_FILE."""

    TITLE: ClassVar[str] = "Sign in to NHS CIS2 (development)"
    NOTE: ClassVar[str] = (
        "This is the development stand-in for NHS CIS2. Choose a member of "
        "practice staff to sign in as (R8000: clinician; R8008: administration)."
    )
    REDIRECT_URIS_SETTING: ClassVar[str] = "CIS2_APP_REDIRECT_URIS"
    NAMES_ISSUER_IN_REDIRECT: ClassVar[bool] = True

    def discovery_extra(self) -> dict[str, Any]:
        return {
            "acr_values_supported": list(ACR_VALUES),
            "scopes_supported": ["openid", "profile", "email", "nationalrbacaccess"],
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "nonce", "acr", "name", "given_name",
                "family_name", "uid", "nhsid_useruid", "nhsid_nrbac_roles",
            ],
        }  # fmt: skip

    def parse_levels(self, params: dict[str, str]) -> tuple[str, ...]:
        acr_values = tuple(params.get("acr_values", "").split())
        if not acr_values or not set(acr_values) <= set(ACR_VALUES):
            raise AuthorizeRejected("acr_values must name supported assurance levels.")
        return acr_values

    def levels_param(self, levels: tuple[str, ...]) -> tuple[str, str]:
        return "acr_values", " ".join(levels)

    def grant_for(self, request: AuthorizeRequest, choice: str) -> dict[str, Any]:
        persona = find_staff_persona(choice)
        if persona is None:
            raise AuthorizeRejected("There is no such staff persona: pick one from the page.")
        return {
            # A smartcard meets every level: CIS2 states the first one asked for.
            "acr": request.levels[0],
            "userinfo": persona.userinfo(request.scopes),
        }

    def release(self, granted: dict[str, Any]) -> Release:
        return Release(
            userinfo=granted["userinfo"],
            # CIS2's authentication method: smartcard.
            id_token_claims={"acr": granted["acr"], "amr": ["SCAL"]},
        )

    def persona_buttons(self, request: AuthorizeRequest) -> str:
        return "".join(
            f'<button type="submit" name="persona" value="{html.escape(p.uid)}">'
            f"{html.escape(p.label)}</button>"
            for p in STAFF_PERSONAS
        )


def dev_cis2_wanted(settings: Settings) -> bool:
    return (
        settings.app_env is AppEnv.DEV and not settings.cis2_issuer and settings.dev_login_enabled
    )


def mount_dev_cis2(app: FastAPI, settings: Settings, clock: Clock) -> NHSLoginEndpoint | None:
    """Mount the CIS2 stand-in when wanted; returns where the staff relying party finds it."""
    if not dev_cis2_wanted(settings):
        return None
    from app.devtools.keys import ensure_dev_key

    key_file = ensure_dev_key(settings.cis2_private_key_file or DEV_CIS2_KEY_FILE)
    client_key = RSAKey.import_key(key_file.read_bytes())
    issuer = settings.public_base_url.rstrip("/") + STANDIN_PATH
    provider = CIS2StandIn(
        issuer=issuer,
        client_id=settings.cis2_client_id,
        client_key=RSAKey.import_key(client_key.as_dict(private=False)),
        redirect_uris=frozenset({settings.staff_redirect_uri, *settings.staff_app_redirect_uris}),
        clock=clock,
        store=StandInStore(state_file_beside(key_file)),
        signing_alg=settings.cis2_signing_alg,
    )
    app.state.dev_cis2 = provider
    app.include_router(build_router(provider, STANDIN_PATH))
    # The back channel stays in-process, as for the NHS login stand-in.
    return NHSLoginEndpoint(issuer, key_file, transport=httpx.ASGITransport(app=app))


async def sign_in_staff_persona(
    app: FastAPI, persona: StaffPersona, *, clock: Clock | None = None, via: StaffVia = "bearer"
) -> IssuedStaffSession:
    """A staff session for `persona` without the browser round trip: the persona's CIS2
    claims go through the same claims reading and session code as a real sign-in. For
    tests and load runs that begin after sign-in; the exchange itself is tested apart."""
    from app.staff import service
    from app.staff.roles import staff_identity

    userinfo = persona.userinfo(frozenset({"openid", "profile", "nationalrbacaccess"}))
    runtime = app.state.staff_auth
    async with app.state.sessionmaker() as db:
        return await service.sign_in(
            db,
            staff_identity({"sub": persona.uid, "acr": ACR_VALUES[0]}, userinfo),
            clock=clock or app.state.clock,
            policy=runtime.policy,
            via=via,
        )
