"""The record policy's date filter, document order, cursors and pages, at their edges.

The property tests in `test_policy.py` page through whole records; these name each
boundary on its own: the first and last day of a range, a page that ends exactly at
the end, a cursor past the last entry, and cursors of every length (padding).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.cursors import CursorKey
from app.gp.types import AUTOMATIC_ACCESS_START, Document, RecordGrants
from app.records.policy import (
    Position,
    in_range,
    page_of,
    visible_documents,
)

DAY = date(2030, 5, 10)


def test_a_range_includes_its_first_and_last_day() -> None:
    assert in_range(DAY, DAY, DAY)
    assert in_range(DAY, None, None)
    assert in_range(DAY, DAY - timedelta(days=1), None)
    assert in_range(DAY, None, DAY + timedelta(days=1))
    assert not in_range(DAY, DAY + timedelta(days=1), None)
    assert not in_range(DAY, None, DAY - timedelta(days=1))
    assert not in_range(DAY, DAY + timedelta(days=1), DAY + timedelta(days=2))
    assert not in_range(DAY, DAY - timedelta(days=2), DAY - timedelta(days=1))


def test_documents_shown_newest_first_then_by_id_withheld_ones_absent() -> None:
    full = RecordGrants(summary=True, full_from=AUTOMATIC_ACCESS_START)
    start = AUTOMATIC_ACCESS_START
    documents = [
        Document("D2", "Letter", start + timedelta(days=1), "application/pdf"),
        Document("D3", "Letter", start + timedelta(days=2), "application/pdf"),
        Document("D1", "Letter", start + timedelta(days=1), "application/pdf"),
        Document("D0", "Old letter", start - timedelta(days=1), "application/pdf"),
        Document("D4", "Hidden", start + timedelta(days=3), "application/pdf", hidden=True),
    ]
    assert [d.document_id for d in visible_documents(documents, full)] == ["D3", "D1", "D2"]


# Every length of cursor modulo four, and "W", whose encoding ends in "X".
@pytest.mark.parametrize("item_id", ["", "E", "E1", "E12", "E123", "E|1", "é", "E" * 15, "W"])
def test_a_cursor_is_unpadded_url_safe_text_that_reads_back(item_id: str) -> None:
    cursors = CursorKey("c" * 64).bind("record:problems", patient_id="p", viewer_id="a")
    cursor = cursors.issue(DAY.isoformat(), item_id)
    assert "=" not in cursor and "+" not in cursor and "/" not in cursor
    assert cursors.read(cursor) == (DAY.isoformat(), item_id)


def test_positions_order_newest_first_then_by_id() -> None:
    newer, older = Position(DAY, "B"), Position(DAY - timedelta(days=1), "A")
    assert newer.key() < older.key()
    assert Position(DAY, "A").key() < Position(DAY, "B").key()


ITEMS = ["a", "b", "c", "d"]
DATED = [(DAY, "a"), (DAY, "b"), (DAY - timedelta(days=1), "c"), (DAY - timedelta(days=2), "d")]


def test_the_first_page_and_its_cursor() -> None:
    page = page_of(ITEMS, dated=DATED, limit=3, after=None)
    assert page.items == ["a", "b", "c"]
    assert page.next_after == Position(DAY - timedelta(days=1), "c")


def test_a_page_that_ends_at_the_last_item_has_no_next_cursor() -> None:
    assert page_of(ITEMS, dated=DATED, limit=4, after=None).next_after is None
    page = page_of(ITEMS, dated=DATED, limit=2, after=Position(DAY, "b"))
    assert (page.items, page.next_after) == (["c", "d"], None)


def test_the_page_after_a_cursor_starts_after_its_position() -> None:
    page = page_of(ITEMS, dated=DATED, limit=1, after=Position(DAY, "a"))
    assert page.items == ["b"]
    assert page.next_after == Position(DAY, "b")
    # The item at the cursor went away in between: the page starts after where it was.
    page = page_of(ITEMS[1:], dated=DATED[1:], limit=5, after=Position(DAY, "a"))
    assert page.items == ["b", "c", "d"]


def test_a_cursor_past_the_last_item_is_an_empty_last_page() -> None:
    page = page_of(ITEMS, dated=DATED, limit=2, after=Position(DAY - timedelta(days=3), "z"))
    assert (page.items, page.next_after) == ([], None)
