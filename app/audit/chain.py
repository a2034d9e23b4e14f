"""The hash chain that makes the audit trail tamper-evident.

Each row's `hash` is SHA-256 over a canonical serialisation of its fields and
the previous row's hash, so changing, deleting or reordering any row breaks the
chain at that row. `verify_chain` walks the table in sequence order, in batches,
and reports the first broken link.

Canonical form: a JSON object with sorted keys and no whitespace, ASCII only,
with `occurred_at` as UTC ISO 8601 to the microsecond and enums as their values.
Changing it breaks every existing chain, so it is fixed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import String, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditRecord, as_utc

GENESIS_HASH = "0" * 64  # the "previous hash" of the first row
VERIFY_BATCH_SIZE = 1000


@dataclass(frozen=True, slots=True)
class ChainFields:
    """Every stored field of a row except its own hash, as plain values."""

    sequence: int
    occurred_at: datetime
    request_id: str | None
    action: str
    actor_id: str
    patient_id: str | None
    on_behalf: bool
    relationship_kind: str | None
    target: str | None
    outcome: str
    previous_hash: str


def canonical_bytes(fields: ChainFields) -> bytes:
    document = {
        "sequence": fields.sequence,
        "occurred_at": as_utc(fields.occurred_at).isoformat(timespec="microseconds"),
        "request_id": fields.request_id,
        "action": fields.action,
        "actor_id": fields.actor_id,
        "patient_id": fields.patient_id,
        "on_behalf": fields.on_behalf,
        "relationship_kind": fields.relationship_kind,
        "target": fields.target,
        "outcome": fields.outcome,
        "previous_hash": fields.previous_hash,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def chain_hash(fields: ChainFields) -> str:
    return hashlib.sha256(canonical_bytes(fields)).hexdigest()


class ChainProblem(StrEnum):
    SEQUENCE_GAP = "sequence_gap"  # a row is missing (deleted) or renumbered
    PREVIOUS_HASH_MISMATCH = "previous_hash_mismatch"  # rows removed, reordered or re-hashed
    HASH_MISMATCH = "hash_mismatch"  # the row was changed after it was written


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """The outcome of walking the chain: intact, or where it first breaks."""

    checked: int  # rows found intact before the first broken one (all of them when ok)
    tip_sequence: int | None = None  # the last intact row
    tip_hash: str | None = None
    broken_at: int | None = None  # the sequence number of the first broken row
    problem: ChainProblem | None = None
    expected: str | None = None  # what the row should have held, for `problem`

    @property
    def ok(self) -> bool:
        return self.problem is None

    def describe(self) -> str:
        """A plain-English summary for the people who look after the service."""
        if self.problem is None:
            if self.tip_sequence is None:
                return "The audit trail is empty: nothing to check."
            return (
                f"The audit trail is intact: {self.checked} entries checked, "
                f"the latest is number {self.tip_sequence} with hash {self.tip_hash}."
            )
        why = {
            ChainProblem.SEQUENCE_GAP: (
                f"the entry numbered {self.expected} is missing (deleted or renumbered)"
            ),
            ChainProblem.PREVIOUS_HASH_MISMATCH: (
                "it does not follow on from the entry before it "
                "(entries were deleted, reordered or rewritten)"
            ),
            ChainProblem.HASH_MISMATCH: (
                "its contents do not match its hash (it was changed after it was written)"
            ),
        }[self.problem]
        return (
            f"The audit trail is BROKEN at entry number {self.broken_at}: {why}. "
            f"{self.checked} entries before it are intact."
        )


# Read in `ChainFields` order, then the stored hash. Enum columns are read as the
# text actually stored, so that a tampered value that is no longer a member is
# reported as a broken link, not a crash.
_COLUMNS = (
    AuditRecord.sequence,
    AuditRecord.occurred_at,
    AuditRecord.request_id,
    type_coerce(AuditRecord.action, String()),
    AuditRecord.actor_id,
    AuditRecord.patient_id,
    AuditRecord.on_behalf,
    type_coerce(AuditRecord.relationship_kind, String()),
    AuditRecord.target,
    type_coerce(AuditRecord.outcome, String()),
    AuditRecord.previous_hash,
    AuditRecord.hash,
)


async def verify_chain(
    session: AsyncSession, *, batch_size: int = VERIFY_BATCH_SIZE
) -> VerificationResult:
    """Walk the whole chain in sequence order, a batch at a time, and report the first break.

    A chain that has lost only its newest rows still verifies: compare
    `tip_sequence` and `tip_hash` with a value kept elsewhere to detect that.
    """
    checked = 0
    previous_sequence = 0
    previous_hash = GENESIS_HASH
    while True:
        # Keyset batches: constant memory, and each batch is one indexed range scan.
        rows = (
            await session.execute(
                select(*_COLUMNS)
                .where(AuditRecord.sequence > previous_sequence)
                .order_by(AuditRecord.sequence)
                .limit(batch_size)
            )
        ).all()
        for row in rows:
            *values, stored_hash = row
            fields = ChainFields(*values)
            broken = _first_problem(fields, stored_hash, previous_sequence, previous_hash)
            if broken is not None:
                problem, expected = broken
                return VerificationResult(
                    checked=checked,
                    tip_sequence=previous_sequence or None,
                    tip_hash=previous_hash if previous_sequence else None,
                    broken_at=fields.sequence,
                    problem=problem,
                    expected=expected,
                )
            checked += 1
            previous_sequence = fields.sequence
            previous_hash = stored_hash
        if len(rows) < batch_size:
            break
    if checked == 0:
        return VerificationResult(checked=0)
    return VerificationResult(
        checked=checked, tip_sequence=previous_sequence, tip_hash=previous_hash
    )


def _first_problem(
    fields: ChainFields, stored_hash: str, previous_sequence: int, previous_hash: str
) -> tuple[ChainProblem, str] | None:
    if fields.sequence != previous_sequence + 1:
        return ChainProblem.SEQUENCE_GAP, str(previous_sequence + 1)
    if fields.previous_hash != previous_hash:
        return ChainProblem.PREVIOUS_HASH_MISMATCH, previous_hash
    expected_hash = chain_hash(fields)
    if stored_hash != expected_hash:
        return ChainProblem.HASH_MISMATCH, expected_hash
    return None
