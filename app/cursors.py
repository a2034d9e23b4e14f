"""Page cursors: one mechanism for every paged list, sealed and bound to its list.

A cursor says where the previous page ended, as a position in the list's own
order (the record, prescription requests and the access log each have theirs).
It is sealed with AES-GCM: the position is encrypted, so a cursor shows nothing
(not even the access log's place in the service-wide audit chain), and
authenticated together with the list it was issued for: which list (and
section), which patient, which viewer's account, and every filter that changes
the list (`from`/`to`). A cursor that was altered, or that another list issued,
is refused with `InvalidCursor` (400 `invalid_cursor`) rather than silently
skipping entries.

The key is `Settings.cursor_secret`, derived from SECRET_KEY under a label of its
own. Cursors live as long as someone is paging, like the sign-in cookie and CSRF
tokens that SECRET_KEY already protects, so rotating it (after a suspected leak)
should end them too; the cost is "start again from the first page". PATIENT_ID_KEY
is kept for ids that must outlive a rotation, and the label keeps a cursor from
ever verifying as any other value sealed or signed with SECRET_KEY.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.problems import InvalidCursor

_VERSION = b"page-cursor:v2"
_NONCE_BYTES = 12
_TAG_BYTES = 16


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _parts(values: Sequence[str]) -> bytes:
    # Length-prefixed, so that no two different lists of values read the same.
    return b"".join(f"{len(value.encode())}:".encode() + value.encode() for value in values)


@dataclass(frozen=True, slots=True)
class ListCursors:
    """Issues and reads the cursors of one list, as one viewer sees it for one patient."""

    secret_key: str
    binding: tuple[str, ...]  # list name, patient, viewer, filters

    def _sealer(self) -> AESGCM:
        return AESGCM(hashlib.sha256(_VERSION + self.secret_key.encode()).digest())

    def _bound_to(self) -> bytes:
        return _VERSION + _parts(self.binding)

    def issue(self, *position: str) -> str:
        """A cursor for the page that starts after `position`."""
        payload = json.dumps(list(position), separators=(",", ":")).encode()
        nonce = os.urandom(_NONCE_BYTES)
        return _b64(nonce + self._sealer().encrypt(nonce, payload, self._bound_to()))

    def read(self, cursor: str) -> tuple[str, ...]:
        """The position this list put in `cursor`; `InvalidCursor` for any other cursor."""
        try:
            raw = _unb64(cursor)
        except (binascii.Error, ValueError):
            raise InvalidCursor() from None
        if len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise InvalidCursor()
        try:
            payload = self._sealer().decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], self._bound_to()
            )
        except InvalidTag:
            raise InvalidCursor() from None
        position = json.loads(payload)
        if not isinstance(position, list) or not all(isinstance(p, str) for p in position):
            raise InvalidCursor()  # sealed by us, so never: checked for the types' sake
        return tuple(position)


def filter_value(value: object | None) -> str:
    """A list filter as the binding holds it: absent and present never read the same."""
    return "" if value is None else f"={value}"


@dataclass(frozen=True, slots=True)
class CursorKey:
    """The service's cursor key (`Settings.cursor_secret`)."""

    secret_key: str

    def bind(
        self, name: str, *, patient_id: str, viewer_id: str, filters: Sequence[object | None] = ()
    ) -> ListCursors:
        """The cursors of the list `name`, for this patient and viewer, with these filters."""
        binding = (name, patient_id, viewer_id, *(filter_value(f) for f in filters))
        return ListCursors(self.secret_key, binding)
