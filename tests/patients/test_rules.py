"""The proxy access rules, as pure functions."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.gp.types import (
    BookingReasonPolicy,
    Patient,
    Permissions,
    PracticeSettings,
    RecordAccess,
    RecordAccessLevel,
    RecordGrants,
    Relationship,
    RelationshipKind,
)
from app.patients.rules import (
    AgeBand,
    Unavailable,
    age_band,
    age_on,
    effective_access,
    relationship_unavailable,
)

TODAY = date(2026, 11, 25)
REVIEW_AGE = 13

PRACTICE = PracticeSettings(
    ods_code="A81001",
    name="Riverside",
    appointments_enabled=True,
    prescriptions_enabled=True,
    record_enabled=True,
    booking_reason=BookingReasonPolicy.OPTIONAL,
    booking_reason_max_length=150,
    max_future_appointments=2,
    booking_window=timedelta(days=28),
    default_search_window=timedelta(days=14),
    cancellation_cutoff=timedelta(0),
    has_cancellation_reasons=True,
    max_prescription_items=6,
    prescription_note_max_length=500,
    minimum_reorder_interval=timedelta(days=14),
)
FULL = Permissions(appointments=True, prescriptions=True, record_level=RecordAccessLevel.FULL)


def years_ago(years: int, days: int = 0) -> date:
    return TODAY.replace(year=TODAY.year - years) - timedelta(days=days)


def relationship(
    kind: RelationshipKind = RelationshipKind.PARENT,
    born: date | None = None,
    permissions: Permissions = FULL,
    **changes: object,
) -> Relationship:
    patient = Patient("p1", "9990000018", "Ada", "Lovelace", born or years_ago(8), "A81001")
    return replace(Relationship(patient, kind, permissions), **changes)  # type: ignore[arg-type]


def test_age_counts_whole_years_to_the_birthday() -> None:
    assert age_on(date(2010, 11, 25), TODAY) == 16
    assert age_on(date(2010, 11, 26), TODAY) == 15
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17


@pytest.mark.parametrize(
    ("born", "band"),
    [
        (years_ago(10, 364), AgeBand.UNDER_11),
        (years_ago(11), AgeBand.AGE_11_TO_15),
        (years_ago(16), AgeBand.AGE_16_TO_17),
        (years_ago(18), AgeBand.ADULT),
    ],
)
def test_age_bands(born: date, band: AgeBand) -> None:
    assert age_band(born, TODAY) is band


def test_parent_access_is_suspended_on_the_16th_birthday_even_after_a_review() -> None:
    turned_16 = relationship(born=years_ago(16), review_recorded=True)
    day_before = relationship(born=years_ago(16) + timedelta(days=1), review_recorded=True)
    assert (
        relationship_unavailable(turned_16, TODAY, REVIEW_AGE) is Unavailable.PROXY_SUSPENDED_AT_16
    )
    assert relationship_unavailable(day_before, TODAY, REVIEW_AGE) is None


def test_parent_access_pauses_at_the_review_age_unless_the_practice_reviewed_it() -> None:
    at_review_age = relationship(born=years_ago(13))
    assert relationship_unavailable(at_review_age, TODAY, 13) is Unavailable.PROXY_REVIEW_NEEDED
    reviewed = replace(at_review_age, review_recorded=True)
    assert relationship_unavailable(reviewed, TODAY, 13) is None
    assert relationship_unavailable(at_review_age, TODAY, 14) is None


def test_review_age_applies_to_parents_not_carers_of_adults() -> None:
    carer = relationship(RelationshipKind.CARER, born=years_ago(80))
    assert relationship_unavailable(carer, TODAY, REVIEW_AGE) is None


def test_access_ends_on_the_end_date_and_starts_on_the_start_date() -> None:
    assert relationship_unavailable(relationship(ends_on=TODAY), TODAY, 13) is (
        Unavailable.PROXY_ACCESS_ENDED
    )
    assert (
        relationship_unavailable(relationship(ends_on=TODAY + timedelta(days=1)), TODAY, 13) is None
    )
    assert relationship_unavailable(
        relationship(starts_on=TODAY + timedelta(days=1)), TODAY, 13
    ) is (Unavailable.PROXY_ACCESS_NOT_STARTED)


def test_self_is_never_suspended() -> None:
    me = relationship(RelationshipKind.SELF, born=years_ago(16), ends_on=TODAY)
    assert relationship_unavailable(me, TODAY, REVIEW_AGE) is None


def test_suspended_relationship_allows_nothing() -> None:
    access = effective_access(
        relationship(born=years_ago(16)), today=TODAY, review_age=13, practice=PRACTICE
    )
    assert access.unavailable is Unavailable.PROXY_SUSPENDED_AT_16
    assert not access.appointments.allowed and not access.prescriptions.allowed
    assert not access.record.allowed and access.record_level is RecordAccessLevel.NONE


def test_proxy_gets_only_what_the_practice_granted() -> None:
    prescriptions_only = Permissions(False, True, RecordAccessLevel.NONE)
    access = effective_access(
        relationship(RelationshipKind.CARER, born=years_ago(85), permissions=prescriptions_only),
        today=TODAY,
        review_age=13,
        practice=PRACTICE,
    )
    assert access.appointments.unavailable is Unavailable.NOT_GRANTED
    assert access.prescriptions.allowed
    assert access.record.unavailable is Unavailable.NOT_GRANTED


def test_proxies_cannot_change_the_pharmacy_or_see_the_access_log() -> None:
    access = effective_access(relationship(), today=TODAY, review_age=13, practice=PRACTICE)
    assert access.change_pharmacy.unavailable is Unavailable.PROXY_CANNOT_CHANGE_PHARMACY
    assert access.patient_only.unavailable is Unavailable.PATIENT_ONLY
    own = effective_access(
        relationship(RelationshipKind.SELF, born=years_ago(40)),
        today=TODAY,
        review_age=13,
        practice=PRACTICE,
    )
    assert own.change_pharmacy.allowed and own.patient_only.allowed


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        ({"declined": True}, Unavailable.ONLINE_ACCESS_DECLINED),
        ({"enhanced_review": True}, Unavailable.ENHANCED_REVIEW),
    ],
)
def test_declined_and_enhanced_review_get_no_record_access(
    flags: dict[str, bool], reason: Unavailable
) -> None:
    own = RecordAccess(RecordGrants(summary=True, full_from=date(2023, 11, 1)))
    access = effective_access(
        relationship(RelationshipKind.SELF, born=years_ago(40)),
        today=TODAY,
        review_age=13,
        practice=PRACTICE,
        patient_record_access=replace(own, **flags),  # type: ignore[arg-type]
    )
    assert access.record_level is RecordAccessLevel.NONE
    assert access.record.unavailable is reason
    assert access.appointments.allowed


def test_services_the_practice_does_not_offer_are_unavailable_to_everyone() -> None:
    closed = replace(PRACTICE, appointments_enabled=False, record_enabled=False)
    access = effective_access(
        relationship(RelationshipKind.SELF, born=years_ago(40)),
        today=TODAY,
        review_age=13,
        practice=closed,
    )
    assert access.appointments.unavailable is Unavailable.NOT_OFFERED_BY_PRACTICE
    assert access.record.unavailable is Unavailable.NOT_OFFERED_BY_PRACTICE


def test_without_prescriptions_online_not_even_the_patient_changes_the_pharmacy() -> None:
    access = effective_access(
        relationship(RelationshipKind.SELF, born=years_ago(40)),
        today=TODAY,
        review_age=13,
        practice=replace(PRACTICE, prescriptions_enabled=False),
    )
    assert access.prescriptions.unavailable is Unavailable.NOT_OFFERED_BY_PRACTICE
    assert access.change_pharmacy.unavailable is Unavailable.NOT_OFFERED_BY_PRACTICE


levels = st.sampled_from(list(RecordAccessLevel))


@given(
    age_days=st.integers(min_value=0, max_value=40 * 366),
    granted=levels,
    own=levels,
    review_age=st.integers(min_value=11, max_value=15),
    reviewed=st.booleans(),
    kind=st.sampled_from(list(RelationshipKind)),
)
def test_property_proxies_never_exceed_their_grant_and_parents_stop_at_16(
    age_days: int,
    granted: RecordAccessLevel,
    own: RecordAccessLevel,
    review_age: int,
    reviewed: bool,
    kind: RelationshipKind,
) -> None:
    born = TODAY - timedelta(days=age_days)
    rel = relationship(
        kind,
        born=born,
        permissions=Permissions(True, True, granted),
        review_recorded=reviewed,
    )
    access = effective_access(
        rel,
        today=TODAY,
        review_age=review_age,
        practice=PRACTICE,
        patient_record_access=RecordAccess(RecordGrants.at_level(own, historic=True)),
    )
    order = list(RecordAccessLevel)
    assert order.index(access.record_level) <= order.index(granted)
    if kind is RelationshipKind.PARENT and age_on(born, TODAY) >= 16:
        assert access.unavailable is Unavailable.PROXY_SUSPENDED_AT_16
        assert not (
            access.appointments.allowed or access.prescriptions.allowed or access.record.allowed
        )
    if kind is not RelationshipKind.SELF:
        assert not access.change_pharmacy.allowed
