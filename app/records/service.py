"""The GP record: what this viewer may see of each section, documents, results over
time, and reporting an inaccuracy to the practice.

Every entry passes through `app.records.policy` before it leaves the service.
Where the GP system says it cannot provide a section, the section is reported
as not available, never as an empty list (which would read "nothing recorded").
Each section read and document opened is audited (which one, never its content)
before anything is returned: if the audit row cannot be written, nothing is shown.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from cryptography.fernet import MultiFernet
from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record as record_audit
from app.audit.service import record_completed
from app.audit.types import AuditAction
from app.auth.credentials import decrypt_text, encrypt_text
from app.clock import Clock
from app.cursors import ListCursors
from app.gp.errors import GPError, NotFoundInGPSystem, SectionUnavailable
from app.gp.port import require
from app.gp.types import (
    Capability,
    Document,
    MessageKind,
    PracticeMessage,
    RecordEntry,
    RecordGrants,
    RecordSection,
)
from app.patients.ids import IdKind, ShownIds
from app.patients.rules import EXPLANATIONS, Unavailable
from app.patients.service import ActingFor
from app.problems import InvalidCursor, Problem, ProblemKind
from app.records import policy
from app.records.models import CorrectionStatus, RecordCorrection

logger = logging.getLogger(__name__)

# Documents larger than this are not passed through the app: the practice can
# provide a copy.
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
# A document up to this size is read whole before its first byte is sent, so that it goes
# out with its length and a refusal is still a problem answer. A larger one is passed on
# as it arrives, and cut off if it grows past the limit. Either way one download holds at
# most this much (and a chunk) of a document in memory.
WHOLE_DOCUMENT_BYTES = 256 * 1024


class SectionNotShown(StrEnum):
    """Why a section has no list to show (never "nothing recorded")."""

    NOT_IN_YOUR_ACCESS = "not_in_your_access"
    NOT_OFFERED_AT_PRACTICE = "not_offered_at_practice"
    NOT_AVAILABLE_FROM_GP_SYSTEM = "not_available_from_gp_system"


SECTION_EXPLANATIONS = {
    SectionNotShown.NOT_IN_YOUR_ACCESS: (
        "Your online access does not include this part of the record. To see more, ask "
        "the GP practice: they decide what can be shown online."
    ),
    SectionNotShown.NOT_OFFERED_AT_PRACTICE: (
        "The practice's GP system does not provide this part of the record through this "
        "app. You can ask the practice for a copy."
    ),
    SectionNotShown.NOT_AVAILABLE_FROM_GP_SYSTEM: (
        "The practice's GP system could not provide this part of the record online just "
        "now. This does not mean nothing is recorded. Please try again later or ask the "
        "practice."
    ),
}

# How to ask the practice, for each reason the record is not available at all.
RECORD_EXPLANATIONS = {
    **EXPLANATIONS,
    Unavailable.NOT_GRANTED: (
        "You do not have online access to this record. You can ask the GP practice for "
        "it, online or at reception; they may need to talk to you first."
    ),
    Unavailable.NOT_OFFERED_BY_PRACTICE: (
        "This practice does not show the GP record online. You can ask the practice for a "
        "copy of the record (a subject access request)."
    ),
    Unavailable.ONLINE_ACCESS_DECLINED: (
        "Online access to this record has been turned off at the patient's request. "
        "To turn it on, contact the GP practice."
    ),
    Unavailable.ENHANCED_REVIEW: (
        "The practice needs to review this record before it can be shown online. Contact "
        "the GP practice to ask about access."
    ),
}


class InvalidRecordRequest(Problem):
    status = 422
    title = "Invalid request"

    def __init__(self, kind: ProblemKind) -> None:
        self.code = kind.code
        super().__init__(kind.detail)


def _invalid(code: str, detail: str) -> ProblemKind:
    return ProblemKind(InvalidRecordRequest.status, code, InvalidRecordRequest.title, detail)


# The codes `InvalidRecordRequest` is raised with, named for the OpenAPI document.
INVALID_RANGE = _invalid("invalid_range", "The `to` date must be on or after the `from` date.")
SECTION_REQUIRED = _invalid("section_required", "Say which section the entry is in (`section`).")
UNKNOWN_ENTRY = _invalid(
    "unknown_entry", "We could not find that entry in this section of the record."
)
# A correction naming an entry in a section the GP system cannot provide now (a record in
# transit, say): not the request's fault (so not 422), and not "unknown" (it may well be
# there). Raised as the GP error, with what the person can do instead.
ENTRY_NOT_CHECKED = ProblemKind(
    503,
    SectionUnavailable.code,
    "Not available from the GP system",
    "The practice's GP system cannot provide this part of the record just now, so we "
    "cannot check the entry you named. You can send your report without naming the entry "
    "(describe it in your own words), or try again later.",
)


class DocumentTooLarge(Problem):
    status = 422
    code = "document_too_large"
    title = "Document too large"
    default_detail = (
        "This document is too large to show online. Please ask the practice for a copy."
    )


# --- the overview --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordOverview:
    as_of: datetime
    grants: RecordGrants
    unavailable: Unavailable | None  # the whole record, when set
    sections: dict[RecordSection, bool]  # whether this viewer's access covers each

    @property
    def explanation(self) -> str | None:
        return RECORD_EXPLANATIONS[self.unavailable] if self.unavailable else None


def overview(acting: ActingFor, *, now: datetime) -> RecordOverview:
    """What this viewer may see, from the acting-for context alone (no GP call)."""
    access = acting.profile.access
    grants = access.record_grants if access.record.allowed else RecordGrants()
    return RecordOverview(
        as_of=now,
        grants=grants,
        unavailable=None if access.record.allowed else access.record.unavailable,
        sections={
            section: policy.section_offered(section, grants)
            and _offered_at_practice(acting, section)
            for section in RecordSection
        },
    )


def _offered_at_practice(acting: ActingFor, section: RecordSection) -> bool:
    """Documents are an optional capability of a GP system; the other sections are not."""
    return section is not RecordSection.DOCUMENTS or (
        Capability.DOCUMENTS in acting.system.capabilities
    )


# --- sections -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SectionPage:
    section: RecordSection
    as_of: datetime
    not_shown: SectionNotShown | None
    entries: list[RecordEntry] | None  # None when not shown: never an empty list
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class DocumentPage:
    as_of: datetime
    not_shown: SectionNotShown | None
    documents: list[Document] | None
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class DateRange:
    start: date | None
    end: date | None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.end < self.start:
            raise InvalidRecordRequest(INVALID_RANGE)

    def holds(self, day: date) -> bool:
        return policy.in_range(day, self.start, self.end)


def _after(cursors: ListCursors, cursor: str | None) -> policy.Position | None:
    """Where the page starts: after the position a cursor of this very list holds."""
    if cursor is None:
        return None
    position = cursors.read(cursor)
    if len(position) != 2:
        raise InvalidCursor()
    day, item_id = position
    try:
        return policy.Position(date.fromisoformat(day), item_id)
    except ValueError:
        raise InvalidCursor() from None


def _next_cursor(cursors: ListCursors, after: policy.Position | None) -> str | None:
    return None if after is None else cursors.issue(after.recorded_on.isoformat(), after.item_id)


def _section_cursors(acting: ActingFor, section: RecordSection, dates: DateRange) -> ListCursors:
    return acting.cursors(f"record:{section.value}", dates.start, dates.end)


def _grants(acting: ActingFor) -> RecordGrants:
    return acting.profile.access.record_grants


async def _audit_read(
    acting: ActingFor, session: AsyncSession, clock: Clock, action: AuditAction, target: str
) -> None:
    # Written and committed before the content is returned: no audit, no data.
    await record_audit(session, acting.audit_event(action, target), clock=clock)
    await session.commit()


async def _visible_section(acting: ActingFor, section: RecordSection) -> list[RecordEntry]:
    """What this viewer may see of a section, as the GP system identifies it."""
    entries = await acting.system.list_record_entries(acting.patient_ref, section)
    return policy.visible_entries(entries, _grants(acting))


def shown_entries(ids: ShownIds, entries: list[RecordEntry]) -> list[RecordEntry]:
    """Visible entries with the ids the API shows, newest first, then by that id: neither
    the GP system's ids nor their order (which would show where something was withheld)."""
    shown = [replace(e, entry_id=ids.of(IdKind.ENTRY, e.entry_id)) for e in entries]
    return policy.newest_first(shown)


def shown_documents(
    ids: ShownIds, documents: list[Document], grants: RecordGrants
) -> list[Document]:
    """The documents these grants show, with the ids the API shows, in the same order."""
    shown = [replace(d, document_id=ids.of(IdKind.DOCUMENT, d.document_id)) for d in documents]
    return policy.visible_documents(shown, grants)


async def read_section(
    acting: ActingFor,
    session: AsyncSession,
    clock: Clock,
    section: RecordSection,
    *,
    dates: DateRange,
    limit: int,
    cursor: str | None,
) -> SectionPage:
    """One page of a section, newest first, as this viewer may see it."""
    cursors = _section_cursors(acting, section, dates)
    after = _after(cursors, cursor)
    as_of = clock.now()
    if not policy.section_offered(section, _grants(acting)):
        return SectionPage(section, as_of, SectionNotShown.NOT_IN_YOUR_ACCESS, None)
    try:
        visible = shown_entries(acting.ids, await _visible_section(acting, section))
    except SectionUnavailable:
        return SectionPage(section, as_of, SectionNotShown.NOT_AVAILABLE_FROM_GP_SYSTEM, None)
    chosen = [entry for entry in visible if dates.holds(entry.recorded_on)]
    page = policy.page_of(
        chosen, dated=[(e.recorded_on, e.entry_id) for e in chosen], limit=limit, after=after
    )
    await _audit_read(acting, session, clock, AuditAction.RECORD_SECTION_VIEWED, section.value)
    return SectionPage(section, as_of, None, page.items, _next_cursor(cursors, page.next_after))


async def read_documents(
    acting: ActingFor,
    session: AsyncSession,
    clock: Clock,
    *,
    dates: DateRange,
    limit: int,
    cursor: str | None,
) -> DocumentPage:
    cursors = _section_cursors(acting, RecordSection.DOCUMENTS, dates)
    after = _after(cursors, cursor)
    as_of = clock.now()
    if not policy.section_offered(RecordSection.DOCUMENTS, _grants(acting)):
        return DocumentPage(as_of, SectionNotShown.NOT_IN_YOUR_ACCESS, None)
    if not _offered_at_practice(acting, RecordSection.DOCUMENTS):
        return DocumentPage(as_of, SectionNotShown.NOT_OFFERED_AT_PRACTICE, None)
    try:
        documents = await acting.system.list_documents(acting.patient_ref)
    except SectionUnavailable:
        return DocumentPage(as_of, SectionNotShown.NOT_AVAILABLE_FROM_GP_SYSTEM, None)
    chosen = [
        d
        for d in shown_documents(acting.ids, documents, _grants(acting))
        if dates.holds(d.recorded_on)
    ]
    page = policy.page_of(
        chosen, dated=[(d.recorded_on, d.document_id) for d in chosen], limit=limit, after=after
    )
    await _audit_read(
        acting, session, clock, AuditAction.RECORD_SECTION_VIEWED, RecordSection.DOCUMENTS.value
    )
    return DocumentPage(as_of, None, page.items, _next_cursor(cursors, page.next_after))


# --- one test over time ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResultSeries:
    code: str
    as_of: datetime
    not_shown: SectionNotShown | None
    results: list[RecordEntry] | None  # oldest first, each with a value


async def result_series(
    acting: ActingFor, session: AsyncSession, clock: Clock, code: str, *, dates: DateRange
) -> ResultSeries:
    """Every visible result of one test (by its code) that has a value, oldest first."""
    as_of = clock.now()
    section = RecordSection.TEST_RESULTS
    if not policy.section_offered(section, _grants(acting)):
        return ResultSeries(code, as_of, SectionNotShown.NOT_IN_YOUR_ACCESS, None)
    try:
        visible = shown_entries(acting.ids, await _visible_section(acting, section))
    except SectionUnavailable:
        return ResultSeries(code, as_of, SectionNotShown.NOT_AVAILABLE_FROM_GP_SYSTEM, None)
    results = [
        entry
        for entry in reversed(visible)
        if entry.code == code and entry.result is not None and dates.holds(entry.recorded_on)
    ]
    await _audit_read(acting, session, clock, AuditAction.RECORD_SECTION_VIEWED, section.value)
    return ResultSeries(code, as_of, None, results)


# --- documents ----------------------------------------------------------------------------


class DocumentCutOff(Exception):
    """A document stopped after its first bytes were sent: the GP system sent more than
    the limit, or failed part way. The response is cut off, so that the client sees an
    incomplete download, never a shorter document that looks whole."""


@dataclass(frozen=True, slots=True)
class OpenedDocument:
    document: Document
    content_type: str
    size_bytes: int | None  # known when the whole document was read before sending
    chunks: AsyncGenerator[bytes, None]


@dataclass(slots=True)
class _Head:
    """The start of a document, read before anything is sent."""

    pieces: list[bytes]
    size: int
    whole: bool  # the document ended within it


async def open_document(
    acting: ActingFor, session: AsyncSession, clock: Clock, document_id: str
) -> OpenedDocument:
    """A document's content, only if this viewer may see the document.

    Looked up among the documents the policy lets this viewer see: a withheld
    document and one that does not exist get the same 404.
    """
    require(acting.system, Capability.DOCUMENTS)
    not_found = NotFoundInGPSystem("We could not find this document.")
    if not policy.section_offered(RecordSection.DOCUMENTS, _grants(acting)):
        raise not_found
    try:
        documents = await acting.system.list_documents(acting.patient_ref)
    except SectionUnavailable:
        raise not_found from None
    document = acting.ids.find(
        IdKind.DOCUMENT,
        document_id,
        policy.visible_documents(documents, _grants(acting)),
        lambda d: d.document_id,
    )
    if document is None:
        raise not_found
    _refuse_if_declared_too_large(document.size_bytes)
    content = await acting.system.get_document_content(acting.patient_ref, document.document_id)
    try:
        _refuse_if_declared_too_large(content.size_bytes)
        head = await _read_head(content.chunks)
        # Audited once its content is in hand and before a byte of it is sent: "opened"
        # says the viewer was sent it, not that the download completed.
        await _audit_read(acting, session, clock, AuditAction.DOCUMENT_OPENED, document_id)
    except BaseException:
        await content.chunks.aclose()
        raise
    return OpenedDocument(
        replace(document, document_id=document_id),
        content.content_type,
        head.size if head.whole else None,
        _sent(head, content.chunks, ods_code=acting.system.ods_code),
    )


def _refuse_if_declared_too_large(size_bytes: int | None) -> None:
    # Refused on the size the GP system declares, before reading a byte of it. The size
    # may be missing or wrong: what arrives is counted too.
    if size_bytes is not None and size_bytes > MAX_DOCUMENT_BYTES:
        raise DocumentTooLarge()


async def _read_head(chunks: AsyncGenerator[bytes, None]) -> _Head:
    """Read until the document ends or `WHOLE_DOCUMENT_BYTES` are in hand."""
    head = _Head([], 0, whole=False)
    while head.size < WHOLE_DOCUMENT_BYTES:
        chunk = await anext(chunks, None)
        if chunk is None:
            head.whole = True
            break
        head.size += len(chunk)
        if head.size > MAX_DOCUMENT_BYTES:
            raise DocumentTooLarge()
        head.pieces.append(chunk)
    return head


async def _sent(
    head: _Head, chunks: AsyncGenerator[bytes, None], *, ods_code: str
) -> AsyncGenerator[bytes, None]:
    """The document's bytes as they are sent: the head, then the rest as it arrives, cut
    off past the limit or when the GP system fails part way."""
    try:
        while head.pieces:
            yield head.pieces.pop(0)
        if head.whole:
            return
        size = head.size
        async for chunk in chunks:
            size += len(chunk)
            if size > MAX_DOCUMENT_BYTES:
                raise _cut_off("it is larger than the limit", ods_code)
            yield chunk
    except GPError as exc:
        raise _cut_off(f"the GP system failed part way ({exc.code})", ods_code) from exc
    finally:
        await chunks.aclose()


def _cut_off(why: str, ods_code: str) -> DocumentCutOff:
    logger.warning("document download cut off: %s", why, extra={"ods_code": ods_code})
    return DocumentCutOff(why)


# --- corrections --------------------------------------------------------------------------

# Names a report's text in the error when it does not decrypt (`decrypt_text`).
CORRECTION_TEXT = "a report of an inaccuracy"


@dataclass(frozen=True, slots=True)
class Correction:
    correction_id: str
    created_at: datetime
    section: RecordSection | None
    entry_id: str | None
    description: str
    status: CorrectionStatus

    @classmethod
    def of(cls, row: RecordCorrection, cipher: MultiFernet) -> Correction:
        return cls(
            correction_id=row.id,
            created_at=row.created_at,
            section=RecordSection(row.section) if row.section else None,
            entry_id=row.entry_id,
            description=decrypt_text(cipher, row.description_encrypted, what=CORRECTION_TEXT),
            status=row.status,
        )


async def submit_correction(
    acting: ActingFor,
    session: AsyncSession,
    clock: Clock,
    cipher: MultiFernet,
    *,
    section: RecordSection | None,
    entry_id: str | None,
    description: str,
) -> Correction:
    """Send a reported inaccuracy to the practice and keep it with its status.

    Stored first (`sending`), so that a report the GP system could not take is
    still listed, as `not_sent`, rather than lost.
    """
    require(acting.system, Capability.PRACTICE_MESSAGES)
    gp_entry_id = None
    if entry_id is not None:
        if section is None or section is RecordSection.DOCUMENTS:
            raise InvalidRecordRequest(SECTION_REQUIRED)
        # Only an entry this viewer can see can be named: hidden and unknown look alike.
        try:
            visible = await _visible_section(acting, section)
        except SectionUnavailable:
            # The entry cannot be checked; the report can still be sent without naming it.
            raise SectionUnavailable(ENTRY_NOT_CHECKED.detail) from None
        entry = acting.ids.find(IdKind.ENTRY, entry_id, visible, lambda e: e.entry_id)
        if entry is None:
            raise InvalidRecordRequest(UNKNOWN_ENTRY)
        gp_entry_id = entry.entry_id
    row = RecordCorrection(
        id=str(uuid.uuid4()),
        patient_id=acting.patient_id,
        account_id=acting.actor.account_id,
        on_behalf=acting.on_behalf,
        section=section.value if section else None,
        entry_id=entry_id,
        description_encrypted=encrypt_text(cipher, description),
        status=CorrectionStatus.SENDING,
        created_at=clock.now(),
    )
    session.add(row)
    await session.commit()
    attributes = {
        "correction_id": row.id,
        "reported_by": "proxy" if acting.on_behalf else "patient",
    }
    if section is not None:
        attributes["section"] = section.value
    if gp_entry_id is not None:
        # The practice finds the entry by its GP system's id; the patient keeps the id
        # they were shown.
        attributes["entry_id"] = gp_entry_id
    message = PracticeMessage(
        kind=MessageKind.RECORD_CORRECTION,
        subject="Possible inaccuracy in the GP record, reported online",
        body=description,
        actor_ref=acting.actor_ref,
        attributes=attributes,
    )
    try:
        row.gp_message_id = await acting.system.send_message(acting.patient_ref, message)
    except GPError:
        row.status = CorrectionStatus.NOT_SENT
        await session.commit()
        raise
    row.status = CorrectionStatus.SENT
    await session.commit()
    # The practice has it now: a failing audit write must not make the person send it again.
    await record_completed(
        session, clock, acting.audit_event(AuditAction.CORRECTION_SUBMITTED, row.id)
    )
    return Correction.of(row, cipher)


def _made_by(acting: ActingFor) -> list[ColumnElement[bool]]:
    """Only this person's reports about this patient: no one else's are theirs to read."""
    return [
        RecordCorrection.patient_id == acting.patient_id,
        RecordCorrection.account_id == acting.actor.account_id,
    ]


async def list_corrections(
    acting: ActingFor, session: AsyncSession, cipher: MultiFernet
) -> list[Correction]:
    """The reports this person made about this patient's record, newest first."""
    rows = await session.scalars(
        select(RecordCorrection)
        .where(*_made_by(acting))
        .order_by(RecordCorrection.created_at.desc(), RecordCorrection.id)
    )
    return [Correction.of(row, cipher) for row in rows]


async def find_correction(
    acting: ActingFor, session: AsyncSession, cipher: MultiFernet, correction_id: str
) -> Correction:
    """One report this person made, to answer a retry of the request that made it.

    Kept for days (`RECORD_CORRECTION_RETENTION_DAYS`, at least a week) after a retry's
    Idempotency-Key has expired, so it is always there to read.
    """
    query = select(RecordCorrection).where(RecordCorrection.id == correction_id, *_made_by(acting))
    return Correction.of((await session.scalars(query)).one(), cipher)


async def prune_corrections(session: AsyncSession, *, now: datetime, keep_for: timedelta) -> int:
    """Delete the reports made more than `keep_for` ago.

    Each reached the practice in the request that made it (or the person was told it did
    not): the practice's copy is what counts from then on. Who reported what, and when,
    stays in the audit trail, which is never pruned.
    """
    result = await session.execute(
        delete(RecordCorrection).where(RecordCorrection.created_at < now - keep_for)
    )
    await session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
