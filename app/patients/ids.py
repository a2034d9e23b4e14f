"""Opaque ids: of patients, and of everything the API shows that a GP system numbers.

`patient_id` is an HMAC of the practice and the GP system's own reference for
the patient, keyed by PATIENT_ID_KEY (not SECRET_KEY: rotating the session
secret must not change every id and cut patients off from their access
history; see docs/decisions/0004). The id reveals nothing, cannot be forged for
a patient the user does not already hold a relationship with, and needs no
table: it is resolved by matching against the signed-in user's relationships.

The ids the API shows for a patient's record entries, documents, courses and
prescription requests (`ShownIds`) are made the same way, from the practice, the
patient, the kind of thing and the GP system's own id. GP systems number these in
sequence, so passing their ids through would show a viewer the order of what they
see and the gaps where the practice withheld something. A shown id reveals no
order, count or gap, carries no GP-system reference, is stable for that patient
(across sessions and SECRET_KEY rotation) and differs between patients. It is
mapped back by hashing the candidates the service already holds for the patient
(`ShownIds.find`): an id of another patient, or a made-up one, matches nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

PATIENT_ID_LENGTH = 26
SHOWN_ID_LENGTH = 26

T = TypeVar("T")


def patient_id(secret_key: str, ods_code: str, patient_ref: str) -> str:
    message = f"patient-id:v1:{ods_code}:{patient_ref}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return base64.b32encode(digest[:16]).decode().rstrip("=").lower()


def same_id(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class IdKind(StrEnum):
    """What a shown id names: part of its hash, so no id names two kinds of thing."""

    ENTRY = "entry"
    DOCUMENT = "document"
    COURSE = "course"
    PRESCRIPTION_REQUEST = "prescription-request"


def _part(value: str) -> str:
    # Length-prefixed, so that no two different tuples of parts read the same.
    return f"{len(value)}:{value}"


def _patients_mac(secret_key: str, ods_code: str, patient_ref: str) -> hmac.HMAC:
    """The keyed hash with the patient's part of every shown id already fed in."""
    prefix = f"shown-id:v1:{_part(ods_code)}{_part(patient_ref)}".encode()
    return hmac.new(secret_key.encode(), prefix, hashlib.sha256)


def _finish(mac: hmac.HMAC, kind: IdKind, gp_id: str) -> str:
    mac.update(f"{_part(kind.value)}{_part(gp_id)}".encode())
    return base64.b32encode(mac.digest()[:16]).decode().rstrip("=").lower()


def shown_id(secret_key: str, ods_code: str, patient_ref: str, kind: IdKind, gp_id: str) -> str:
    """The id the API shows for the GP system's `gp_id` of one patient's `kind` of thing."""
    return _finish(_patients_mac(secret_key, ods_code, patient_ref), kind, gp_id)


@dataclass(frozen=True, slots=True)
class ShownIds:
    """Shown ids for one patient: `of` makes one, `find` maps one back.

    The patient's part of the hash is computed once and copied for each id: a section
    of a few hundred entries is hashed on every read."""

    secret_key: str
    ods_code: str
    patient_ref: str
    _mac: hmac.HMAC = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        mac = _patients_mac(self.secret_key, self.ods_code, self.patient_ref)
        object.__setattr__(self, "_mac", mac)

    def of(self, kind: IdKind, gp_id: str) -> str:
        return _finish(self._mac.copy(), kind, gp_id)

    def find(
        self, kind: IdKind, shown: str, candidates: Iterable[T], gp_id: Callable[[T], str]
    ) -> T | None:
        """The candidate whose shown id is `shown`, or None: unknown, withheld and another
        patient's ids all look alike."""
        for candidate in candidates:
            if same_id(self.of(kind, gp_id(candidate)), shown):
                return candidate
        return None
