"""A strict stand-in for NHS login, for development only.

It checks what NHS login checks (client_id, redirect_uri, response_type=code,
`openid` scope, state, nonce, vtr, PKCE S256, an RS512 client assertion with
iss = sub = client_id, aud = token endpoint, exp within 5 minutes and a fresh
jti) and answers as NHS login does (RS512 ID token with `vot`, userinfo with
the persona's claims). Signing in means picking a sandbox persona. The OpenID
provider's flow is the one the CIS2 stand-in shares (`app.devtools.oidc_provider`);
this module holds what is NHS login's own: vectors of trust, personas and claims.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from app.adapters.sandbox.personas import Persona
from app.clock import today
from app.devtools.oidc_provider import AuthorizeRejected, AuthorizeRequest, OIDCStandIn, Release

STANDIN_PATH = "/dev/nhs-login"
LEVEL_RANK = {"P0": 0, "P5": 5, "P9": 9}
# NHS login's own names for how far a user's identity was checked.
LEVEL_WORDS = {"P0": "low", "P5": "medium", "P9": "high"}
VTR_VALUES = ("P0.Cp.Cd", "P0.Cp.Ck", "P0.Cm", "P5.Cp.Cd", "P5.Cp.Ck",
              "P5.Cm", "P9.Cp.Cd", "P9.Cp.Ck", "P9.Cm")  # fmt: skip
MAX_SHOWN_CHOICE = 60  # characters of an unknown persona quoted back

PersonaSource = Callable[[date], list[Persona]]


@dataclass(slots=True, kw_only=True)
class NHSLoginStandIn(OIDCStandIn):
    """NHS login for the sandbox personas; `client_key` is the public half of
    NHS_LOGIN_PRIVATE_KEY_FILE."""

    TITLE: ClassVar[str] = "Sign in (development)"
    NOTE: ClassVar[str] = (
        "This is the development stand-in for NHS login. Choose a sandbox persona to sign in as."
    )
    REDIRECT_URIS_SETTING: ClassVar[str] = "NHS_LOGIN_APP_REDIRECT_URIS"
    STATE_AND_NONCE_REQUIRED: ClassVar[str] = "state and nonce are both required by NHS login."
    CHECKS_RESPONSE_MODE: ClassVar[bool] = True

    personas: PersonaSource

    def discovery_extra(self) -> dict[str, Any]:
        return {
            "response_modes_supported": ["query"],
            "scopes_supported": [
                "openid", "profile", "email", "phone", "profile_extended",
                "gp_registration_details", "gp_integration_credentials",
            ],
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "nonce", "vot", "vtm", "nhs_number",
                "birthdate", "family_name", "given_name", "email", "phone_number",
                "identity_proofing_level", "gp_registration_details",
                "gp_integration_credentials",
            ],
            "vtr_values_supported": list(VTR_VALUES),
        }  # fmt: skip

    def parse_levels(self, params: dict[str, str]) -> tuple[str, ...]:
        try:
            vtr = json.loads(params.get("vtr", ""))
        except ValueError:
            raise AuthorizeRejected("vtr must be a JSON array of vectors of trust.") from None
        if (
            not isinstance(vtr, list)
            or not vtr
            or not all(isinstance(v, str) and v in VTR_VALUES for v in vtr)
        ):
            raise AuthorizeRejected("vtr must be a JSON array of supported vectors of trust.")
        return tuple(vtr)

    def levels_param(self, levels: tuple[str, ...]) -> tuple[str, str]:
        return "vtr", json.dumps(list(levels), separators=(",", ":"))

    def vot_for(self, persona: Persona, vtr: tuple[str, ...]) -> str | None:
        """The strongest requested vector this persona meets, as NHS login would assert."""
        level = LEVEL_RANK[persona.identity_proofing_level]
        usable = [v for v in vtr if LEVEL_RANK[v.split(".", 1)[0]] <= level]
        if not usable:
            return None
        return max(usable, key=lambda v: LEVEL_RANK[v.split(".", 1)[0]])

    def grant_for(self, request: AuthorizeRequest, choice: str) -> dict[str, Any]:
        chosen = chosen_persona(self.personas(today(self.clock)), choice)
        if chosen is None:
            raise AuthorizeRejected(_no_such_persona(choice))
        vot = self.vot_for(chosen, request.levels)
        if vot is None:
            raise AuthorizeRejected(_too_weak(chosen, request.levels))
        return {
            "vot": vot,
            "scopes": sorted(request.scopes),
            "claims": dict(chosen.nhs_login_claims),
        }

    def release(self, granted: dict[str, Any]) -> Release:
        claims = _scoped_claims(granted["claims"], granted["scopes"], granted["vot"])
        id_token_claims = {
            "vot": granted["vot"],
            "vtm": f"{self.issuer}/trustmark",
            "identity_proofing_level": claims["identity_proofing_level"],
        }
        if "nhs_number" in claims:  # the profile scope's, in the ID token too, as NHS login
            id_token_claims["nhs_number"] = claims["nhs_number"]
        return Release(
            userinfo=claims,
            id_token_claims=id_token_claims,
            token_response={"scope": " ".join(sorted(granted["scopes"]))},
        )

    def persona_buttons(self, request: AuthorizeRequest) -> str:
        buttons = []
        for persona in self.personas(today(self.clock)):
            vot = self.vot_for(persona, request.levels)
            label = html.escape(_persona_label(persona, request.levels, usable=vot is not None))
            disabled = "" if vot else " disabled"
            buttons.append(
                f'<button type="submit" name="persona" '
                f'value="{html.escape(persona.nhs_login_claims["sub"])}"{disabled}>'
                f"{label}</button>"
            )
        return "".join(buttons)


_SCOPE_CLAIMS = {
    "profile": ("nhs_number", "birthdate", "family_name", "given_name", "identity_proofing_level"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "gp_registration_details": ("gp_registration_details",),
    "gp_integration_credentials": ("gp_integration_credentials",),
}


def _scoped_claims(persona_claims: dict[str, Any], scopes: list[str], vot: str) -> dict[str, Any]:
    """Userinfo as NHS login gives it: only what the scopes allow, at the asserted level."""
    level = vot.split(".", 1)[0]
    claims: dict[str, Any] = {"sub": persona_claims["sub"]}
    for scope in scopes:
        for name in _SCOPE_CLAIMS.get(scope, ()):
            if name in persona_claims:
                claims[name] = persona_claims[name]
    claims["identity_proofing_level"] = level
    if level != "P9":
        # GP credentials are only released for P9 (identity verified) users.
        claims.pop("gp_integration_credentials", None)
    return claims


def chosen_persona(personas: list[Persona], choice: str) -> Persona | None:
    """The persona picked by its NHS login `sub` (what the page sends), or by a tag
    (the first persona listed with it), which is easier to type at a terminal."""
    by_sub = (p for p in personas if p.nhs_login_claims["sub"] == choice)
    by_tag = (p for p in personas if choice in p.tags)
    return next(by_sub, None) or next(by_tag, None)


def _no_such_persona(choice: str) -> str:
    shown = choice if len(choice) <= MAX_SHOWN_CHOICE else choice[:MAX_SHOWN_CHOICE] + "…"
    return (
        f"There is no sandbox persona {shown!r}: give a persona's sub or tag, as listed by "
        "`python -m app.adapters.sandbox personas`."
    )


def _lowest_level_asked(vtr: tuple[str, ...]) -> str:
    return min((v.split(".", 1)[0] for v in vtr), key=LEVEL_RANK.__getitem__)


def _in_words(level: str) -> str:
    """`P9 (high)`: the level's code, which developers look up, and the word for it."""
    return f"{level} ({LEVEL_WORDS[level]})"


def _too_weak(persona: Persona, vtr: tuple[str, ...]) -> str:
    needed = _lowest_level_asked(vtr)
    return (
        f"{persona.label} has proved their identity to {persona.identity_proofing_level}, "
        f"and this sign-in needs {needed} or above: pick another persona."
    )


def _persona_label(persona: Persona, vtr: tuple[str, ...], usable: bool) -> str:
    """What a persona's button says: how far their identity was checked and, when that is
    not enough, what this sign-in needs, in words rather than the `vtr` parameter's."""
    checked = f"{persona.label} — identity checked to {_in_words(persona.identity_proofing_level)}"
    if usable:
        return checked
    needed = _lowest_level_asked(vtr)
    more = "" if LEVEL_RANK[needed] == max(LEVEL_RANK.values()) else " or higher"
    return f"{checked} only: this sign-in needs {_in_words(needed)}{more}"
