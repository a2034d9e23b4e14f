"""The first and last day of a proxy relationship, each side of the boundary."""

from __future__ import annotations

from datetime import timedelta

from app.patients.rules import Unavailable, relationship_unavailable
from tests.patients.test_rules import REVIEW_AGE, TODAY, relationship


def test_access_starts_on_the_start_date_itself() -> None:
    assert relationship_unavailable(relationship(starts_on=TODAY), TODAY, REVIEW_AGE) is None
    the_day_before = TODAY - timedelta(days=1)
    assert relationship_unavailable(relationship(starts_on=TODAY), the_day_before, REVIEW_AGE) is (
        Unavailable.PROXY_ACCESS_NOT_STARTED
    )


def test_the_end_date_is_the_first_day_without_access() -> None:
    the_day_before = TODAY - timedelta(days=1)
    assert relationship_unavailable(relationship(ends_on=TODAY), the_day_before, REVIEW_AGE) is None
    assert relationship_unavailable(relationship(ends_on=TODAY), TODAY, REVIEW_AGE) is (
        Unavailable.PROXY_ACCESS_ENDED
    )
