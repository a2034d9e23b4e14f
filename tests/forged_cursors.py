"""Cursors a client might send that no list issued: the old unsealed forms, a sealed
cursor altered, and a position written out in the clear."""

from __future__ import annotations

import base64
import binascii
import json
import re


def b64(text: str) -> str:
    """Text as unpadded URL-safe base64: how the old, unsealed cursors were written."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _bytes(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


def _text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def altered(cursor: str, *position: str) -> list[str]:
    """`cursor` with one bit changed at its start, middle and end (nonce, sealed position,
    tag), cut short, lengthened, and `position` in the clear instead."""
    raw = _bytes(cursor)
    flipped = [
        _text(raw[:at] + bytes([raw[at] ^ 1]) + raw[at + 1 :])
        for at in (0, len(raw) // 2, len(raw) - 1)
    ]
    return [*flipped, _text(raw[:-1]), _text(raw + b"\0"), b64(json.dumps(list(position)))]


def decodings(cursor: str) -> list[str]:
    """Every text that the cursor, or a part of it, reads as in base64."""
    texts = []
    for part in {cursor, *re.split(r"[^A-Za-z0-9_+/=-]", cursor)}:
        for decode in (base64.urlsafe_b64decode, base64.b64decode):
            try:
                texts.append(decode(part + "=" * (-len(part) % 4)).decode(errors="replace"))
            except (binascii.Error, ValueError):
                continue
    return texts
