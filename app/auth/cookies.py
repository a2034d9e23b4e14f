"""Short-lived sealed cookies, and the cookie names.

The sign-in transaction (state, nonce, PKCE verifier, return_to) travels in a
cookie rather than server-side storage. It is sealed with Fernet (AES plus
HMAC-SHA256) under a key derived from SECRET_KEY: tamper-proof, and the PKCE
verifier and nonce are not readable even by the browser that carries them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

# `__Host-`: Secure, Path=/ and no Domain, so no sibling host can set or read them.
SESSION_COOKIE = "__Host-gp_session"
CSRF_COOKIE = "__Host-gp_csrf"
LOGIN_COOKIE = "__Host-gp_login"
CSRF_HEADER = "X-CSRF-Token"
# Practice staff (NHS CIS2) have cookies of their own: a patient's never stands for theirs.
STAFF_SESSION_COOKIE = "__Host-gp_staff_session"
STAFF_LOGIN_COOKIE = "__Host-gp_staff_login"


def derive_key(secret_key: str, purpose: str) -> bytes:
    """A separate key per purpose, so a value made for one use is useless for another."""
    return hmac.new(secret_key.encode(), f"gp-online:{purpose}".encode(), hashlib.sha256).digest()


class SealedValue:
    """Seals a JSON payload; it opens only within `max_age`, judged by the app's clock."""

    def __init__(self, secret_key: str, purpose: str, max_age: timedelta) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(derive_key(secret_key, purpose)))
        self.max_age = max_age

    def dumps(self, payload: dict[str, Any], *, now: datetime) -> str:
        data = json.dumps(payload, separators=(",", ":")).encode()
        return self._fernet.encrypt_at_time(data, int(now.timestamp())).decode()

    def loads(self, value: str, *, now: datetime) -> dict[str, Any] | None:
        """The payload, or None when the value is forged, malformed or expired."""
        ttl = int(self.max_age.total_seconds())
        try:
            payload = json.loads(self._fernet.decrypt_at_time(value, ttl, int(now.timestamp())))
        except (InvalidToken, ValueError):
            return None
        return payload if isinstance(payload, dict) else None
