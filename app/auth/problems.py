"""The problems signing in can raise, each with a code an app can act on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from app.problems import Problem
from app.public_address import keeps_sign_in_cookie


class LoginCancelled(Problem):
    status = 401
    code = "login_cancelled"
    title = "Sign-in cancelled"
    default_detail = "You cancelled signing in with NHS login. You can try again at any time."


class LoginFailed(Problem):
    status = 401
    code = "login_failed"
    title = "Sign-in failed"
    default_detail = "We could not sign you in with NHS login. Please try again."


_EXAMPLE_BASE_URL = "https://gp-online.example"  # in the API document


def sign_in_cookie_advice(base: str) -> str:
    """What to do when the sign-in cookie did not come back to `base`."""
    if keeps_sign_in_cookie(base):
        return (
            "Your browser did not send back the cookie this sign-in started with. Open the "
            f"site at {base} (not another name for it) and sign in again."
        )
    return (
        f"Your browser cannot keep the sign-in cookie at {base}: browsers keep it over plain "
        "http only at a loopback address such as 127.0.0.1. Open the site over https, or "
        "through a port forwarded to http://127.0.0.1 with PUBLIC_BASE_URL set to that "
        "address, and sign in again."
    )


class LoginCookieMissing(Problem):
    """The browser came back from NHS login without the cookie the sign-in started with:
    the sign-in started at another address than PUBLIC_BASE_URL (localhost instead of
    127.0.0.1), or browsers cannot keep `Secure` cookies there (plain http at an address
    other than loopback). The advice names what to do about the one that applies."""

    status = 401
    code = "login_cookie_missing"
    title = "Sign-in could not be completed"
    default_detail = sign_in_cookie_advice(_EXAMPLE_BASE_URL)
    example_extra: ClassVar[Mapping[str, object]] = {"public_base_url": _EXAMPLE_BASE_URL}

    def __init__(self, public_base_url: str) -> None:
        super().__init__(
            sign_in_cookie_advice(public_base_url.rstrip("/")),
            extra={"public_base_url": public_base_url},
        )


class NHSLoginUnavailable(Problem):
    status = 503
    code = "nhs_login_unavailable"
    title = "NHS login unavailable"
    default_detail = "NHS login is not available at the moment. Please try again in a few minutes."
    example_extra: ClassVar[Mapping[str, object]] = {"retry_after": 30}

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": "30"}, extra={"retry_after": 30})


class NotSignedIn(Problem):
    status = 401
    code = "not_signed_in"
    title = "Not signed in"
    default_detail = "Please sign in with NHS login."


class SessionExpired(Problem):
    status = 401
    code = "session_expired"
    title = "Session expired"
    default_detail = "For your security you have been signed out. Please sign in again."


class CSRFTokenInvalid(Problem):
    status = 403
    code = "csrf_token_invalid"
    title = "Missing or wrong CSRF token"
    default_detail = (
        "This request needs the X-CSRF-Token header from GET /v1/auth/session. "
        "Reload the page and try again."
    )


class OriginNotAllowed(Problem):
    status = 403
    code = "origin_not_allowed"
    title = "Request from another site"
    default_detail = (
        "This request came from a site that may not act on your account. "
        "Use GP Online from its own pages or an app allowed to call it."
    )


class IdentityVerificationRequired(Problem):
    status = 403
    code = "identity_verification_required"
    title = "Identity verification required"
    default_detail = (
        "To use this you need to prove who you are with NHS login. "
        "Sign in again and follow the steps to verify your identity."
    )

    example_extra: ClassVar[Mapping[str, object]] = {
        "step_up_url": "/v1/auth/login?vtr=%5B%22P9.Cp.Cd%22%5D&return_to=%2Fv1%2Fme%2Fpatients"
    }

    def __init__(self, step_up_url: str) -> None:
        super().__init__(extra={"step_up_url": step_up_url})


class InvalidReturnTo(Problem):
    status = 400
    code = "invalid_return_to"
    title = "Invalid return address"
    default_detail = "return_to must be a path on this site, such as /appointments."


class InvalidVectorsOfTrust(Problem):
    status = 400
    code = "invalid_vtr"
    title = "Invalid vectors of trust"
    default_detail = "vtr must be a JSON array of vectors this service requests from NHS login."


class RedirectURINotAllowed(Problem):
    status = 400
    code = "redirect_uri_not_allowed"
    title = "Redirect URI not allowed"
    default_detail = "This redirect_uri is not registered for apps using this service."


# What a route behind `P9Session` may answer beyond the session checks every signed-in
# operation documents (app.api_document).
P9_PROBLEMS = (IdentityVerificationRequired,)
