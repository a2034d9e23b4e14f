"""What of the GP record a viewer may see: one pure policy, applied to every entry.

Pure functions over an entry, the viewer's grants (`RecordGrants`, already
narrowed to what a proxy was given) and the entry's date, so that every route
and adapter shows the same thing and the rules are tested to exhaustion.
Sources: RCGP GP Online Services Toolkit; NHS England "Accelerating patient
access to their record" (prospective access from 1 November 2023).

- summary: allergies and medications (with their dosage), any date; other free
  text only where the full record covers the entry;
- detailed coded: coded problems, immunisations, results (values and ranges)
  and coded consultation items, any date, without free text;
- prospective full: everything (free text, consultations, documents) dated on
  or after `full_from`;
- historic: everything, any date.

Never, under any grant: entries or documents the practice hid, third-party or
potentially harmful ones, and test results a clinician has not yet filed.
Withheld entries are simply absent: nothing counts or marks them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Generic, Protocol, TypeVar

from app.gp.types import Document, RecordEntry, RecordGrants, RecordSection

SUMMARY_SECTIONS = frozenset({RecordSection.ALLERGIES, RecordSection.MEDICATIONS})
CODED_SECTIONS = frozenset(
    {
        RecordSection.PROBLEMS,
        RecordSection.IMMUNISATIONS,
        RecordSection.TEST_RESULTS,
        RecordSection.CONSULTATIONS,
    }
)
ENTRY_SECTIONS = SUMMARY_SECTIONS | CODED_SECTIONS

T = TypeVar("T")


class PracticeFlags(Protocol):
    """What the practice can mark on an entry, a document or a medicine."""

    @property
    def hidden(self) -> bool: ...
    @property
    def third_party(self) -> bool: ...
    @property
    def harmful(self) -> bool: ...


def withheld_by_practice(item: PracticeFlags) -> bool:
    """Marked hidden, third-party or potentially harmful: never shown or named online,
    in the record or anywhere else (a medicine in the prescriptions routes too)."""
    return item.hidden or item.third_party or item.harmful


def never_shown(entry: RecordEntry) -> bool:
    """Withheld at every level, for patient and proxy alike."""
    unfiled_result = entry.section is RecordSection.TEST_RESULTS and not entry.filed
    return withheld_by_practice(entry) or unfiled_result


def full_record_covers(grants: RecordGrants, recorded_on: date) -> bool:
    """The full record (free text, documents) of this date is granted."""
    if grants.historic:
        return True
    return grants.full_from is not None and recorded_on >= grants.full_from


def visible_entry(entry: RecordEntry, grants: RecordGrants) -> RecordEntry | None:
    """The entry as this viewer may see it (free text removed where only coded
    entries are granted), or None when they may not see it at all."""
    if never_shown(entry) or entry.section not in ENTRY_SECTIONS:
        return None
    if full_record_covers(grants, entry.recorded_on):
        return entry
    if entry.section in SUMMARY_SECTIONS and grants.shows_summary:
        # Dosage instructions are part of a medicine; an allergy's free-text notes are
        # not part of the summary.
        return entry if entry.section is RecordSection.MEDICATIONS else replace(entry, detail=None)
    if entry.section in CODED_SECTIONS and grants.detailed_coded and entry.code:
        # The detailed coded record carries no free text.
        return replace(entry, detail=None)
    return None


def visible_document(document: Document, grants: RecordGrants) -> bool:
    """Documents are part of the full record only; a document holding anything the
    practice withheld is withheld whole."""
    if withheld_by_practice(document):
        return False
    return full_record_covers(grants, document.recorded_on)


def section_offered(section: RecordSection, grants: RecordGrants) -> bool:
    """Whether these grants can show anything of the section (independent of its entries)."""
    if section in SUMMARY_SECTIONS:
        return grants.shows_summary
    if section in CODED_SECTIONS:
        return grants.detailed_coded or grants.has_full
    return grants.has_full


def visible_entries(entries: Iterable[RecordEntry], grants: RecordGrants) -> list[RecordEntry]:
    """Every entry this viewer may see, newest first (ties by id, so pages are stable)."""
    shown = [view for entry in entries if (view := visible_entry(entry, grants)) is not None]
    return newest_first(shown)


def newest_first(entries: Sequence[RecordEntry]) -> list[RecordEntry]:
    return sorted(entries, key=lambda e: (-e.recorded_on.toordinal(), e.entry_id))


def visible_documents(documents: Iterable[Document], grants: RecordGrants) -> list[Document]:
    shown = [d for d in documents if visible_document(d, grants)]
    return sorted(shown, key=lambda d: (-d.recorded_on.toordinal(), d.document_id))


# --- date filters and pages ---------------------------------------------------------


def in_range(recorded_on: date, start: date | None, end: date | None) -> bool:
    """`from` and `to` are inclusive calendar dates."""
    return (start is None or recorded_on >= start) and (end is None or recorded_on <= end)


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the last item's date and (shown) id, in the list's order
    (newest first, then id). A cursor carries it, signed (`app.cursors`)."""

    recorded_on: date
    item_id: str

    def key(self) -> tuple[int, str]:
        return (-self.recorded_on.toordinal(), self.item_id)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_after: Position | None  # where the next page starts, if there is one


def page_of(
    items: Sequence[T],
    *,
    dated: Sequence[tuple[date, str]],
    limit: int,
    after: Position | None,
) -> Page[T]:
    """The `limit` items after `after` in newest-first order; `dated` gives each item's
    (date, id) and must be in that order. Keyed on position, not offset, so an entry
    added or removed between pages never shifts another out of view."""
    start = 0
    if after is not None:
        start = next(
            (i for i, (day, ref) in enumerate(dated) if (-day.toordinal(), ref) > after.key()),
            len(dated),
        )
    chosen = list(items[start : start + limit])
    more = start + limit < len(items)
    next_after = None
    if more and chosen:
        next_after = Position(*dated[start + limit - 1])
    return Page(chosen, next_after)
