"""Page cursors: signed, and refused by any list but the one that issued them."""

from __future__ import annotations

from datetime import date

import pytest

from app.cursors import CursorKey
from app.problems import InvalidCursor

KEY = CursorKey("c" * 64)


def bound(
    name: str = "record:allergies", patient: str = "p1", viewer: str = "a1", *filters: object
):
    return KEY.bind(name, patient_id=patient, viewer_id=viewer, filters=filters)


def test_a_cursor_reads_back_in_its_own_list() -> None:
    cursor = bound().issue("2024-01-02", "abc")
    assert bound().read(cursor) == ("2024-01-02", "abc")


@pytest.mark.parametrize(
    "other",
    [
        bound("record:problems"),  # another section
        bound(patient="p2"),  # another patient
        bound(viewer="a2"),  # another viewer (a proxy)
        bound("record:allergies", "p1", "a1", date(2024, 1, 1), None),  # other dates
        KEY.__class__("d" * 64).bind("record:allergies", patient_id="p1", viewer_id="a1"),
    ],
)
def test_another_lists_cursor_is_refused(other: object) -> None:
    cursor = bound().issue("2024-01-02", "abc")
    with pytest.raises(InvalidCursor):
        other.read(cursor)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "mangle", [lambda c: "x" + c, lambda c: c[:-2], lambda c: "no-dot", str.upper]
)
def test_a_tampered_cursor_is_refused(mangle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidCursor):
        bound().read(mangle(bound().issue("2024-01-02", "abc")))
