"""The workflow's table and the proxy rules, as pure functions; the visibility property
that a new proxy never sees more than the patient."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.access_requests.service import (
    Application,
    Details,
    Person,
    ProxyServices,
    proxy_grant,
)
from app.access_requests.workflow import (
    ALLOWED,
    FINAL,
    ApplicationKind,
    Basis,
    Ineligible,
    ProxyRecordLevel,
    Status,
    initial_status,
    may_change,
    needs_competence_assessment,
    proxy_ineligible,
)
from app.gp.types import (
    RECORD_LEVEL_ORDER,
    Patient,
    Permissions,
    RecordAccess,
    RecordEntry,
    RecordGrants,
    Relationship,
    RelationshipKind,
)
from app.patients.rules import effective_access
from app.records.policy import visible_entries
from tests.patients.test_rules import PRACTICE, REVIEW_AGE, TODAY
from tests.records.test_policy import entries, grants_st


def born(years: int, days: int = 0) -> date:
    return TODAY.replace(year=TODAY.year - years) - timedelta(days=days)


def test_every_status_has_a_row_and_final_statuses_lead_nowhere() -> None:
    assert set(ALLOWED) == set(Status)
    for status in FINAL:
        assert ALLOWED[status] == frozenset()
    # Nothing is approved without passing review, nor applied without approval.
    assert [s for s in Status if may_change(s, Status.APPROVED)] == [Status.UNDER_CLINICAL_REVIEW]
    assert [s for s in Status if may_change(s, Status.APPLIED)] == [Status.APPROVED]
    # The patient's consent comes first: nothing but it, a rejection or a withdrawal.
    assert ALLOWED[Status.AWAITING_PATIENT_CONSENT] == {
        Status.SUBMITTED,
        Status.REJECTED,
        Status.WITHDRAWN,
    }
    assert not may_change(Status.APPROVED, Status.WITHDRAWN)


@pytest.mark.parametrize(
    ("kind", "basis", "age", "expected"),
    [
        (ApplicationKind.PROXY, Basis.PATIENT_CONSENT, 16, Status.AWAITING_PATIENT_CONSENT),
        (ApplicationKind.PROXY, Basis.PATIENT_CONSENT, 80, Status.AWAITING_PATIENT_CONSENT),
        (ApplicationKind.PROXY, Basis.LASTING_POWER_OF_ATTORNEY, 80, Status.SUBMITTED),
        (ApplicationKind.PROXY, Basis.PARENTAL_RESPONSIBILITY, 9, Status.SUBMITTED),
        (ApplicationKind.HISTORIC_RECORD, None, 40, Status.SUBMITTED),
    ],
)
def test_consent_is_asked_of_a_patient_of_16_or_over(
    kind: ApplicationKind, basis: Basis | None, age: int, expected: Status
) -> None:
    assert initial_status(kind, basis, age) is expected


@pytest.mark.parametrize(
    ("basis", "birth", "reference", "expected"),
    [
        (Basis.PARENTAL_RESPONSIBILITY, born(15, 300), None, None),
        (Basis.PARENTAL_RESPONSIBILITY, born(16), None,
         Ineligible.PARENTAL_RESPONSIBILITY_UNDER_16),
        (Basis.PATIENT_CONSENT, born(16), None, None),
        (Basis.PATIENT_CONSENT, born(15, 364), None, Ineligible.CONSENT_NEEDS_16),
        (Basis.LASTING_POWER_OF_ATTORNEY, born(17), "LPA", Ineligible.ATTORNEY_NEEDS_ADULT),
        (Basis.LASTING_POWER_OF_ATTORNEY, born(18), "LPA", None),
        (Basis.COURT_APPOINTED_DEPUTY, born(15), "CoP", Ineligible.DEPUTY_NEEDS_16),
        (Basis.COURT_APPOINTED_DEPUTY, born(30), None, Ineligible.DOCUMENT_REFERENCE_REQUIRED),
        (Basis.PATIENT_CONSENT, born(30), "x", Ineligible.DOCUMENT_REFERENCE_NOT_EXPECTED),
    ],
)  # fmt: skip
def test_each_basis_has_its_age_and_its_document(
    basis: Basis, birth: date, reference: str | None, expected: Ineligible | None
) -> None:
    refused = proxy_ineligible(
        basis=basis,
        birth_date=birth,
        today=TODAY,
        document_reference=reference,
        ends_on=None,
        any_service=True,
    )
    assert refused is expected


def test_a_child_of_11_to_15_is_for_a_competence_assessment() -> None:
    parental = Basis.PARENTAL_RESPONSIBILITY
    assert not needs_competence_assessment(parental, born(10, 364), TODAY)
    assert needs_competence_assessment(parental, born(11), TODAY)
    assert needs_competence_assessment(parental, born(15, 364), TODAY)
    assert not needs_competence_assessment(Basis.PATIENT_CONSENT, born(16), TODAY)


# --- the visibility property after approval ------------------------------------------------

PATIENT = Patient("p1", "9990000018", "Ada", "Lovelace", born(40), "A81001")
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


def approved_proxy(
    record: ProxyRecordLevel, kind: RelationshipKind, birth: date, competence: bool
) -> Application:
    patient = Person(PATIENT.given_name, PATIENT.family_name, PATIENT.patient_ref)
    return Application(
        request_id="r1",
        ods_code="A81001",
        kind=ApplicationKind.PROXY,
        status=Status.APPROVED,
        basis=Basis.PATIENT_CONSENT,
        ends_on=None,
        competence_assessment_needed=competence,
        details=Details(
            applicant=Person("Bo", "Proxy", "u1"),
            patient=patient,
            relationship=kind,
            services=ProxyServices(True, True, record),
        ),
        identity_method=None,
        identity_checked_by=None,
        identity_checked_at=None,
        review_outcome=None,
        reviewed_by=None,
        reviewed_at=None,
        review_note=None,
        decided_by=None,
        decided_at=None,
        rejected_by=None,
        rejection_reason=None,
        to_apply_in_clinical_system=False,
        created_at=NOW,
        updated_at=NOW,
    )


@settings(max_examples=300)
@given(
    record=st.lists(entries, max_size=40),
    own=grants_st,
    asked=st.sampled_from(list(ProxyRecordLevel)),
    kind=st.sampled_from([k for k in RelationshipKind if k is not RelationshipKind.SELF]),
    age=st.integers(min_value=0, max_value=90),
    competence=st.booleans(),
    declined=st.booleans(),
)
def test_property_a_new_proxy_never_sees_more_than_the_patient(
    record: list[RecordEntry],
    own: RecordGrants,
    asked: ProxyRecordLevel,
    kind: RelationshipKind,
    age: int,
    competence: bool,
    declined: bool,
) -> None:
    patient = Patient("p1", "9990000018", "Ada", "Lovelace", born(age), "A81001")
    grant = proxy_grant(
        approved_proxy(asked, kind, patient.birth_date, competence), actor_ref="s1", day=TODAY
    )
    assert grant.permissions.record_level is asked.level
    settings_ = RecordAccess(own, declined=declined)
    proxy = effective_access(
        Relationship(
            patient,
            grant.kind,
            grant.permissions,
            starts_on=grant.starts_on,
            ends_on=grant.ends_on,
            review_recorded=grant.review_recorded,
        ),
        today=TODAY,
        review_age=REVIEW_AGE,
        practice=PRACTICE,
        patient_record_access=settings_,
    )
    patient_self = effective_access(
        Relationship(patient, RelationshipKind.SELF, Permissions(True, True, own.level)),
        today=TODAY,
        review_age=REVIEW_AGE,
        practice=PRACTICE,
        patient_record_access=settings_,
    )
    seen_by_proxy = {e.entry_id: e for e in visible_entries(record, proxy.record_grants)}
    seen_by_patient = {e.entry_id: e for e in visible_entries(record, patient_self.record_grants)}
    assert set(seen_by_proxy) <= set(seen_by_patient)
    for entry_id, entry in seen_by_proxy.items():
        # No free text the patient is not shown either.
        assert entry.detail is None or seen_by_patient[entry_id].detail == entry.detail
    levels = RECORD_LEVEL_ORDER
    assert levels.index(proxy.record_level) <= levels.index(asked.level)
    assert levels.index(proxy.record_level) <= levels.index(patient_self.record_level)
