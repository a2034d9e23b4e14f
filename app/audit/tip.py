"""The audit trail's signed tip, kept outside the database.

The hash chain shows any changed or removed entry, except the newest ones: a
chain cut short is still a valid chain. So `python -m app.audit verify
--print-tip` prints the newest entry's number and hash, signed with
`AUDIT_TIP_KEY` (HMAC-SHA256), for the operator to keep somewhere the database
cannot reach (a log store, a ticket, write-once storage). Later, `verify --tip`
checks that signature and that the trail still holds that entry, unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.chain import VerificationResult
from app.audit.models import AuditRecord

PREFIX = "gp-online-audit-tip.v1"
_TIP = re.compile(rf"{re.escape(PREFIX)}\.(\d{{1,18}})\.([0-9a-f]{{64}})\.([0-9a-f]{{64}})")


class InvalidTip(ValueError):
    """The tip is malformed or not signed with this key."""


@dataclass(frozen=True, slots=True)
class Tip:
    sequence: int
    hash: str


def _mac(key: str, sequence: int, entry_hash: str) -> str:
    message = f"{PREFIX}.{sequence}.{entry_hash}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def sign_tip(key: str, tip: Tip) -> str:
    return f"{PREFIX}.{tip.sequence}.{tip.hash}.{_mac(key, tip.sequence, tip.hash)}"


def read_tip(key: str, signed: str) -> Tip:
    match = _TIP.fullmatch(signed.strip())
    if match is None:
        raise InvalidTip("not an audit tip")
    sequence, entry_hash, mac = int(match[1]), match[2], match[3]
    if not hmac.compare_digest(mac, _mac(key, sequence, entry_hash)):
        raise InvalidTip("not signed with this AUDIT_TIP_KEY")
    return Tip(sequence, entry_hash)


async def tip_problem(session: AsyncSession, result: VerificationResult, tip: Tip) -> str | None:
    """Why the intact part of the trail does not hold `tip`, or None if it does."""
    newest = result.tip_sequence or 0
    if tip.sequence > newest:
        return (
            f"the kept tip is entry number {tip.sequence}, but the trail ends at {newest}: "
            "its newest entries were removed"
        )
    stored = await session.scalar(
        select(AuditRecord.hash).where(AuditRecord.sequence == tip.sequence)
    )
    if stored != tip.hash:
        return f"entry number {tip.sequence} is not the one the kept tip recorded"
    return None
