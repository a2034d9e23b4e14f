"""Opaque patient ids: stable, unguessable, and not the NHS number.

`patient_id` is an HMAC of the practice and the GP system's own reference for
the patient, keyed by PATIENT_ID_KEY (not SECRET_KEY: rotating the session
secret must not change every id and cut patients off from their access
history; see docs/decisions/0004). The id reveals nothing, cannot be forged for
a patient the user does not already hold a relationship with, and needs no
table: it is resolved by matching against the signed-in user's relationships.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

PATIENT_ID_LENGTH = 26


def patient_id(secret_key: str, ods_code: str, patient_ref: str) -> str:
    message = f"patient-id:v1:{ods_code}:{patient_ref}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return base64.b32encode(digest[:16]).decode().rstrip("=").lower()


def same_id(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
