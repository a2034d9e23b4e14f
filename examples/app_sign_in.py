"""Sign in as an app would, get a bearer token, then book and cancel an appointment.

Runs against `make run` (the development NHS login stand-in), with only httpx:

    .venv/bin/python examples/app_sign_in.py                        # a browser, to pick a persona
    .venv/bin/python examples/app_sign_in.py --persona adult-full   # no browser: that persona

The steps are those an app makes against NHS login itself: discovery, an authorize
request with `state`, `nonce`, `vtr` and PKCE (S256) to a registered redirect URI, the
code handed to `POST /v1/auth/session`, then `Authorization: Bearer <token>`.
With `--persona` (a persona's `sub` or tag) the stand-in's persona form is posted
directly (NHS login itself needs a browser); `python -m app.adapters.sandbox personas`
lists them.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.server
import json
import secrets
import sys
import uuid
import webbrowser
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

CLIENT_ID = "gp-online-dev"  # NHS_LOGIN_CLIENT_ID
REDIRECT_URI = "http://127.0.0.1:8765/callback"  # registered for apps in dev by default
SCOPES = "openid profile email phone gp_registration_details gp_integration_credentials"
VTR = '["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]'  # GP services need P9


def pkce_pair() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def wait_for_redirect(authorize_url: str) -> str:
    """Open the browser at NHS login and catch its redirect on the loopback address."""
    caught: list[str] = []

    class Callback(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            caught.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"Signed in: you can close this tab.")

        def log_message(self, *args: Any) -> None:
            pass

    parts = urlsplit(REDIRECT_URI)
    try:
        server = http.server.HTTPServer((parts.hostname or "127.0.0.1", parts.port or 80), Callback)
    except OSError as error:
        sys.exit(f"Cannot wait for the sign-in at {REDIRECT_URI}: {error.strerror}.")
    with server:
        # Not on stdout, which carries only the result.
        print(f"Sign in at:\n  {authorize_url}", file=sys.stderr)
        webbrowser.open(authorize_url)
        while not caught:
            server.handle_request()
    return caught[0]


def pick_persona(http: httpx.Client, authorize_url: str, persona: str) -> str:
    """Post the stand-in's persona form, as its page would; returns the redirect."""
    endpoint, _, query = authorize_url.partition("?")
    form = {k: v[0] for k, v in parse_qs(query).items()} | {"persona": persona}
    # Plain text: a refusal comes back as one line, not as the page a browser shows.
    answer = http.post(endpoint, data=form, headers={"Accept": "text/plain"})
    if answer.status_code != 302:
        reason = answer.text.strip().splitlines()[0][:200] if answer.text.strip() else ""
        sys.exit(f"Sign-in refused ({answer.status_code}): {reason}")
    return answer.headers["Location"]


def sign_in(http: httpx.Client, persona: str | None) -> str:
    """The bearer token for a new app session."""
    issuer = f"{http.base_url}".rstrip("/") + "/dev/nhs-login"
    discovery = http.get(f"{issuer}/.well-known/openid-configuration").raise_for_status().json()
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair()
    authorize_url = discovery["authorization_endpoint"] + "?" + urlencode({
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": SCOPES,
        "state": state,
        "nonce": nonce,
        "vtr": VTR,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    })  # fmt: skip
    redirect = (
        pick_persona(http, authorize_url, persona) if persona else wait_for_redirect(authorize_url)
    )
    returned = {k: v[0] for k, v in parse_qs(urlsplit(redirect).query).items()}
    if not secrets.compare_digest(returned.get("state", ""), state):
        sys.exit("The state that came back is not ours: stop.")
    if "code" not in returned:
        sys.exit(f"No code: {returned.get('error', 'unknown error')}")
    session = http.post(
        "/v1/auth/session",
        json={
            "code": returned["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "nonce": nonce,
            # RFC 9207: NHS login's own name for itself, passed on as received.
            **({"iss": returned["iss"]} if "iss" in returned else {}),
        },
    )
    if session.status_code != 201:
        sys.exit(f"POST /v1/auth/session: {session.status_code} {session.text}")
    token: str = session.json()["access_token"]
    return token


def book_and_cancel(http: httpx.Client) -> dict[str, Any]:
    """Book the first free slot for the signed-in person, then cancel it."""
    me = http.get("/v1/me/patients").raise_for_status().json()
    patient = next(p for p in me["items"] if p["relationship"] == "self")
    base = f"/v1/patients/{patient['patient_id']}"
    practice = http.get(f"{base}/practice").raise_for_status().json()
    # A slot far enough ahead to cancel online (the practice's cut-off, plus a day).
    cutoff = timedelta(minutes=practice["cancellation_cutoff_minutes"])
    earliest = datetime.now(UTC) + cutoff + timedelta(days=1)
    slots = http.get(f"{base}/slots", params={"from": earliest.isoformat(), "limit": 1})
    slot = slots.raise_for_status().json()["items"][0]
    booking: dict[str, Any] = {"slot_id": slot["slot_id"]}
    if practice.get("booking_reason") == "mandatory":
        booking["reason"] = "Follow-up on blood pressure"
    # One key per intended booking: a retry of this same request reuses it.
    booked = http.post(
        f"{base}/appointments", json=booking, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    if booked.status_code != 201:
        sys.exit(f"Booking refused: {booked.status_code} {booked.text}")
    appointment = booked.json()
    reasons = http.get(f"{base}/appointments/cancellation-reasons").raise_for_status().json()
    cancel: dict[str, Any] = {}
    if reasons["required"]:
        cancel["reason_code"] = reasons["items"][0]["code"]
    cancelled = http.post(
        f"{base}/appointments/{appointment['appointment_id']}/cancel", json=cancel
    )
    if cancelled.status_code != 200:
        sys.exit(f"Cancelling refused: {cancelled.status_code} {cancelled.text}")
    result: dict[str, Any] = {"booked": appointment, "cancelled": cancelled.json()}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--persona",
        help="a persona's NHS login `sub` or tag (`python -m app.adapters.sandbox personas` "
        "lists them): no browser needed",
    )
    args = parser.parse_args()
    with httpx.Client(base_url=args.base_url, timeout=30) as http:
        token = sign_in(http, args.persona)
        http.headers["Authorization"] = f"Bearer {token}"
        print(json.dumps(book_and_cancel(http), indent=2))


if __name__ == "__main__":
    main()
