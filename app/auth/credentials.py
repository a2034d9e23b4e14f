"""What the app keeps at rest that must never sit in the database in the clear:
Fernet-encrypted with GP_CREDENTIALS_KEY.

NHS login's `gp_integration_credentials` (notably `gp_linkage_key`) let anyone
holding them act as the patient in their GP system; an NHS login ID token is a
bearer credential; a report of an inaccuracy is free text about someone's health.
`encrypt_text` and `decrypt_text` are the one way to store such text.
"""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.config import AppEnv, Settings
from app.gp.types import GPCredentials


class CredentialsUnreadable(RuntimeError):
    """Stored credentials do not decrypt with any configured key."""


def credentials_cipher(settings: Settings) -> MultiFernet:
    """One Fernet per configured key, newest first (rotation: add the new key in front)."""
    if settings.gp_credentials_key is not None:
        keys = [k.strip() for k in settings.gp_credentials_key.get_secret_value().split(",")]
        return MultiFernet([Fernet(key) for key in keys if key])
    if settings.app_env is AppEnv.PROD:  # check_safe refuses this first; belt and braces
        raise RuntimeError("GP_CREDENTIALS_KEY is required in prod")
    # Outside prod a key derived from SECRET_KEY keeps dev data readable across restarts.
    derived = hashlib.sha256(f"gp-credentials:{settings.secret_key}".encode()).digest()
    return MultiFernet([Fernet(base64.urlsafe_b64encode(derived))])


def encrypt_text(cipher: MultiFernet, text: str) -> str:
    return cipher.encrypt(text.encode()).decode()


def decrypt_text(cipher: MultiFernet, stored: str, *, what: str) -> str:
    """`stored` in the clear; `what` names it in the error when no configured key fits."""
    try:
        return cipher.decrypt(stored.encode()).decode()
    except InvalidToken:
        raise CredentialsUnreadable(f"{what} does not decrypt with GP_CREDENTIALS_KEY") from None


def encrypt_credentials(cipher: MultiFernet, credentials: GPCredentials) -> str:
    payload = {
        "gp_user_id": credentials.gp_user_id,
        "gp_linkage_key": credentials.gp_linkage_key,
        "ods_code": credentials.ods_code,
    }
    return cipher.encrypt(json.dumps(payload).encode()).decode()


def decrypt_credentials(cipher: MultiFernet, token: str) -> GPCredentials:
    try:
        payload = json.loads(cipher.decrypt(token.encode()))
    except (InvalidToken, ValueError):
        raise CredentialsUnreadable(
            "GP credentials do not decrypt with GP_CREDENTIALS_KEY"
        ) from None
    return GPCredentials(payload["gp_user_id"], payload["gp_linkage_key"], payload["ods_code"])
