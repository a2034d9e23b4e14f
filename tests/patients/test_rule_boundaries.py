"""Boundaries of the access rules: the first and last day of a proxy relationship, and
the two caps on a patient's own record."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from app.gp.types import (
    AUTOMATIC_ACCESS_START,
    Permissions,
    RecordAccess,
    RecordAccessLevel,
    RecordGrants,
    RelationshipKind,
)
from app.patients.rules import (
    ServiceAccess,
    Unavailable,
    effective_access,
    relationship_unavailable,
)
from tests.patients.test_rules import PRACTICE, REVIEW_AGE, TODAY, relationship


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


@pytest.mark.parametrize(
    ("relationship_level", "own_level", "shown"),
    [
        # The practice's own settings for the patient cap what their relationship allows…
        (RecordAccessLevel.FULL, RecordAccessLevel.SUMMARY, RecordAccessLevel.SUMMARY),
        (RecordAccessLevel.FULL, RecordAccessLevel.DETAILED, RecordAccessLevel.DETAILED),
        # …and the relationship's level caps the settings.
        (RecordAccessLevel.SUMMARY, RecordAccessLevel.FULL, RecordAccessLevel.SUMMARY),
    ],
)
def test_a_patients_own_record_is_the_narrower_of_both(
    relationship_level: RecordAccessLevel,
    own_level: RecordAccessLevel,
    shown: RecordAccessLevel,
) -> None:
    me = relationship(
        RelationshipKind.SELF,
        born=TODAY.replace(year=TODAY.year - 40),
        permissions=Permissions(True, True, relationship_level),
    )
    access = effective_access(
        me,
        today=TODAY,
        review_age=REVIEW_AGE,
        practice=PRACTICE,
        patient_record_access=RecordAccess(
            RecordGrants.at_level(own_level, full_from=AUTOMATIC_ACCESS_START)
        ),
    )
    assert access.record_level is shown


def test_a_refusal_is_allowed_false_not_merely_falsy() -> None:
    # `allowed` is shown to apps as a JSON boolean (`GET /v1/me/patients`).
    refused = ServiceAccess.denied(Unavailable.NOT_GRANTED)
    assert refused.allowed is False
    assert refused.unavailable is Unavailable.NOT_GRANTED


def test_a_suspended_relationship_refuses_every_service_with_its_reason() -> None:
    ended = relationship(ends_on=TODAY)
    access = effective_access(ended, today=TODAY, review_age=REVIEW_AGE, practice=PRACTICE)
    assert access.unavailable is Unavailable.PROXY_ACCESS_ENDED
    refused = ServiceAccess(False, Unavailable.PROXY_ACCESS_ENDED)
    services = (access.appointments, access.prescriptions, access.record)
    assert services == (refused, refused, refused)
    assert (access.change_pharmacy, access.patient_only) == (refused, refused)
    assert access.record_level is RecordAccessLevel.NONE
    assert access.record_grants == RecordGrants()


def test_a_proxy_sees_the_full_record_from_the_date_and_history_the_practice_granted() -> None:
    start = TODAY - timedelta(days=400)
    granted = Permissions(
        True, True, RecordAccessLevel.FULL, record_from=start, record_historic=True
    )
    # The patient themself sees everything: the proxy's own grant is what limits them.
    everything = RecordAccess(
        RecordGrants(summary=True, detailed_coded=True, full_from=start, historic=True)
    )
    access = effective_access(
        relationship(permissions=granted),
        today=TODAY,
        review_age=REVIEW_AGE,
        practice=PRACTICE,
        patient_record_access=everything,
    )
    # The full record does not include the detailed coded record: the grants are apart.
    assert access.record_grants == RecordGrants(summary=True, full_from=start, historic=True)
    without_history = replace(granted, record_historic=False)
    access = effective_access(
        relationship(permissions=without_history),
        today=TODAY,
        review_age=REVIEW_AGE,
        practice=PRACTICE,
        patient_record_access=everything,
    )
    assert access.record_grants.full_from == start
    assert access.record_grants.historic is False
