"""The record visibility policy, as pure functions: the rule table, then properties."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.gp.types import (
    AUTOMATIC_ACCESS_START,
    Document,
    Permissions,
    PracticeSettings,
    RecordAccess,
    RecordAccessLevel,
    RecordEntry,
    RecordGrants,
    RecordSection,
    RelationshipKind,
)
from app.patients.ids import SHOWN_ID_LENGTH, ShownIds
from app.patients.rules import effective_access, record_grants
from app.records.policy import (
    CODED_SECTIONS,
    SUMMARY_SECTIONS,
    Position,
    never_shown,
    page_of,
    section_offered,
    visible_document,
    visible_entries,
    visible_entry,
)
from app.records.service import shown_entries
from tests.patients.test_rules import PRACTICE, REVIEW_AGE, TODAY, relationship

START = AUTOMATIC_ACCESS_START
BEFORE = START - timedelta(days=1)
S = RecordSection

SUMMARY = RecordGrants(summary=True)
DETAILED = RecordGrants(summary=True, detailed_coded=True)
PROSPECTIVE = RecordGrants(summary=True, full_from=START)
DETAILED_AND_PROSPECTIVE = RecordGrants(summary=True, detailed_coded=True, full_from=START)
HISTORIC = RecordGrants(summary=True, full_from=START, historic=True)


def entry(
    section: RecordSection, on: date, *, code: str | None = "123", detail: str | None = "notes",
    **flags: bool,
) -> RecordEntry:  # fmt: skip
    return RecordEntry(f"{section}-{on}", section, on, "Term", code, detail, **flags)


# --- the rule table ---------------------------------------------------------------------


@pytest.mark.parametrize("section", sorted(SUMMARY_SECTIONS))
@pytest.mark.parametrize("grants", [SUMMARY, DETAILED, PROSPECTIVE, HISTORIC])
def test_summary_information_is_shown_whatever_its_date(
    section: RecordSection, grants: RecordGrants
) -> None:
    old = entry(section, date(2005, 1, 1))
    shown = visible_entry(old, grants)
    assert shown is not None and (shown.entry_id, shown.code) == (old.entry_id, old.code)


def test_a_medicines_dosage_is_kept_but_an_old_allergys_notes_need_the_full_record() -> None:
    medicine = visible_entry(entry(S.MEDICATIONS, date(2005, 1, 1)), PROSPECTIVE)
    allergy = visible_entry(entry(S.ALLERGIES, date(2005, 1, 1)), PROSPECTIVE)
    assert medicine is not None and medicine.detail == "notes"
    assert allergy is not None and allergy.detail is None
    newer = visible_entry(entry(S.ALLERGIES, START), PROSPECTIVE)
    assert newer is not None and newer.detail == "notes"


def test_prospective_access_alone_shows_everything_from_the_start_and_no_older_coded_entry() -> (
    None
):
    for section in CODED_SECTIONS:
        assert visible_entry(entry(section, START), PROSPECTIVE) == entry(section, START)
        assert visible_entry(entry(section, BEFORE), PROSPECTIVE) is None
    uncoded = entry(S.CONSULTATIONS, START, code=None)
    assert visible_entry(uncoded, PROSPECTIVE) == uncoded  # free-text consultation, full record


def test_the_detailed_coded_record_shows_older_coded_entries_without_free_text() -> None:
    for section in CODED_SECTIONS:
        shown = visible_entry(entry(section, date(2010, 5, 5)), DETAILED)
        assert shown is not None and shown.detail is None and shown.code == "123"
    # An uncoded item is free text only: not part of the coded record.
    assert visible_entry(entry(S.CONSULTATIONS, date(2010, 5, 5), code=None), DETAILED) is None


def test_detailed_and_prospective_show_older_coded_entries_and_newer_free_text() -> None:
    older = visible_entry(entry(S.PROBLEMS, BEFORE), DETAILED_AND_PROSPECTIVE)
    newer = visible_entry(entry(S.PROBLEMS, START), DETAILED_AND_PROSPECTIVE)
    assert older is not None and older.detail is None
    assert newer is not None and newer.detail == "notes"


def test_historic_access_shows_the_full_record_of_any_date() -> None:
    old = entry(S.CONSULTATIONS, date(1999, 1, 1), code=None)
    assert visible_entry(old, HISTORIC) == old


def test_summary_access_shows_no_coded_entry_of_any_date() -> None:
    for section in CODED_SECTIONS:
        assert visible_entry(entry(section, date(2026, 1, 1)), SUMMARY) is None


def test_a_registration_after_the_rollout_starts_full_access_there() -> None:
    registered = date(2025, 6, 1)
    grants = RecordGrants(summary=True, full_from=registered)
    assert visible_entry(entry(S.PROBLEMS, registered - timedelta(days=1)), grants) is None
    assert visible_entry(entry(S.PROBLEMS, registered), grants) is not None


@pytest.mark.parametrize("flags", [{"hidden": True}, {"third_party": True}, {"harmful": True}])
@pytest.mark.parametrize("section", list(SUMMARY_SECTIONS | CODED_SECTIONS))
def test_withheld_entries_are_never_shown(section: RecordSection, flags: dict[str, bool]) -> None:
    everything = RecordGrants(summary=True, detailed_coded=True, full_from=START, historic=True)
    assert visible_entry(entry(section, START, **flags), everything) is None


def test_unfiled_results_are_never_shown() -> None:
    everything = RecordGrants(summary=True, detailed_coded=True, full_from=START, historic=True)
    assert visible_entry(entry(S.TEST_RESULTS, START, filed=False), everything) is None


def test_documents_are_full_record_only_and_withheld_whole() -> None:
    doc = Document("D1", "Letter", START, "application/pdf")
    assert visible_document(doc, PROSPECTIVE)
    assert not visible_document(replace(doc, recorded_on=BEFORE), PROSPECTIVE)
    assert visible_document(replace(doc, recorded_on=BEFORE), HISTORIC)
    assert not visible_document(doc, DETAILED)
    for flag in ("hidden", "third_party", "harmful"):
        assert not visible_document(replace(doc, **{flag: True}), HISTORIC)  # type: ignore[arg-type]


def test_sections_offered_follow_the_grants() -> None:
    assert {s for s in S if section_offered(s, SUMMARY)} == SUMMARY_SECTIONS
    assert {s for s in S if section_offered(s, DETAILED)} == SUMMARY_SECTIONS | CODED_SECTIONS
    assert {s for s in S if section_offered(s, PROSPECTIVE)} == set(S)
    assert not any(section_offered(s, RecordGrants()) for s in S)


def test_a_proxy_gets_the_level_granted_to_them_not_the_patients() -> None:
    full_proxy = relationship(
        RelationshipKind.RELATIVE,
        permissions=Permissions(True, True, RecordAccessLevel.FULL, date(2026, 1, 1)),
    )
    own = RecordAccess(RecordGrants(summary=True, detailed_coded=True, historic=True))
    # The grants are independent: full access from a date is the summary and everything
    # from that date, not the detailed coded record's older coded entries.
    assert record_grants(full_proxy, own) == RecordGrants(summary=True, full_from=date(2026, 1, 1))
    summary_proxy = relationship(
        RelationshipKind.PARENT, permissions=Permissions(True, True, RecordAccessLevel.SUMMARY)
    )
    assert record_grants(summary_proxy, own) == SUMMARY


def test_a_patient_sees_their_own_grants_capped_by_the_relationship_level() -> None:
    own = RecordAccess(HISTORIC)
    me = relationship(
        RelationshipKind.SELF, permissions=Permissions(True, True, RecordAccessLevel.SUMMARY)
    )
    assert record_grants(me, own) == SUMMARY
    me_full = replace(me, permissions=Permissions(True, True, RecordAccessLevel.FULL))
    assert record_grants(me_full, own) == HISTORIC


# --- properties ---------------------------------------------------------------------------

days = st.dates(min_value=date(1990, 1, 1), max_value=date(2027, 12, 31))
sections = st.sampled_from([s for s in S if s is not S.DOCUMENTS])
entries = st.builds(
    RecordEntry,
    entry_id=st.text("ABCDE0123456789-|", min_size=1, max_size=8),
    section=sections,
    recorded_on=days,
    term=st.just("Term"),
    code=st.one_of(st.none(), st.just("123")),
    detail=st.one_of(st.none(), st.just("free text")),
    hidden=st.booleans(),
    third_party=st.booleans(),
    harmful=st.booleans(),
    filed=st.booleans(),
)
grants_st = st.builds(
    RecordGrants,
    summary=st.booleans(),
    detailed_coded=st.booleans(),
    full_from=st.one_of(st.none(), days),
    historic=st.booleans(),
)
levels = st.sampled_from(list(RecordAccessLevel))
kinds = st.sampled_from(list(RelationshipKind))


def may_see(e: RecordEntry, g: RecordGrants) -> bool:
    """The rule table, written a second way: by what each grant adds."""
    if e.hidden or e.third_party or e.harmful:
        return False
    if e.section is S.TEST_RESULTS and not e.filed:
        return False
    by_full = g.historic or (g.full_from is not None and e.recorded_on >= g.full_from)
    by_summary = e.section in SUMMARY_SECTIONS and (
        g.summary or g.detailed_coded or g.full_from is not None or g.historic
    )
    by_coded = e.section in CODED_SECTIONS and g.detailed_coded and e.code is not None
    return by_full or by_summary or by_coded


@given(e=entries, g=grants_st)
def test_property_the_policy_matches_the_rule_table(e: RecordEntry, g: RecordGrants) -> None:
    shown = visible_entry(e, g)
    assert (shown is not None) == may_see(e, g)
    if shown is not None:
        assert (shown.entry_id, shown.recorded_on, shown.section) == (
            e.entry_id, e.recorded_on, e.section,
        )  # fmt: skip
        # Free text only where the full record covers the entry (or a medicine's dosage).
        full = g.historic or (g.full_from is not None and e.recorded_on >= g.full_from)
        if shown.detail is not None:
            assert full or e.section is S.MEDICATIONS


@settings(max_examples=300)
@given(
    record=st.lists(entries, max_size=40),
    own=grants_st,
    granted=levels,
    record_from=st.one_of(st.none(), days),
    historic=st.booleans(),
    kind=kinds,
)
def test_property_no_withheld_entry_is_ever_shown_to_patient_or_proxy(
    record: list[RecordEntry],
    own: RecordGrants,
    granted: RecordAccessLevel,
    record_from: date | None,
    historic: bool,
    kind: RelationshipKind,
) -> None:
    rel = relationship(kind, permissions=Permissions(True, True, granted, record_from, historic))
    grants = record_grants(rel, RecordAccess(own))
    shown = visible_entries(record, grants)
    assert not any(never_shown(e) for e in shown)
    # Never more than the level granted: a proxy's level, or the patient's own settings.
    order = [RecordAccessLevel.NONE, RecordAccessLevel.SUMMARY, RecordAccessLevel.DETAILED,
             RecordAccessLevel.FULL]  # fmt: skip
    assert order.index(grants.level) <= order.index(granted)
    for e in shown:
        if granted is RecordAccessLevel.SUMMARY:
            assert e.section in SUMMARY_SECTIONS
        if granted is not RecordAccessLevel.FULL:
            assert e.section in SUMMARY_SECTIONS or e.detail is None
    if kind is RelationshipKind.SELF:
        # A patient never sees more than their own settings allow.
        assert all(may_see(e, own) for e in shown)
    # Nothing hints at what was withheld: the visible list is exactly the visible entries.
    assert sorted(e.entry_id for e in shown) == sorted(
        e.entry_id for e in record if may_see(e, grants)
    )


@settings(max_examples=300)
@given(
    record=st.lists(entries, max_size=60),
    g=grants_st,
    limit=st.integers(min_value=1, max_value=7),
    start=st.one_of(st.none(), days),
    end=st.one_of(st.none(), days),
)
def test_property_paging_returns_every_visible_entry_exactly_once(
    record: list[RecordEntry], g: RecordGrants, limit: int, start: date | None, end: date | None
) -> None:
    # Entry ids are unique within a record (the GP system's own keys).
    unique = list({e.entry_id: e for e in record}.values())
    shown = [
        e
        for e in visible_entries(unique, g)
        if (start is None or e.recorded_on >= start) and (end is None or e.recorded_on <= end)
    ]
    seen: list[RecordEntry] = []
    after: Position | None = None
    for _ in range(len(shown) + 2):
        page = page_of(
            shown, dated=[(e.recorded_on, e.entry_id) for e in shown], limit=limit, after=after
        )
        assert len(page.items) <= limit
        seen += page.items
        if page.next_after is None:
            break
        assert page.items, "a page with a next cursor is never empty"
        after = page.next_after
    assert [e.entry_id for e in seen] == [e.entry_id for e in shown]
    assert [e.recorded_on for e in seen] == sorted((e.recorded_on for e in seen), reverse=True)


proxies = st.sampled_from([k for k in RelationshipKind if k is not RelationshipKind.SELF])
practices = st.builds(
    replace,
    st.just(PRACTICE),
    record_enabled=st.booleans(),
    appointments_enabled=st.booleans(),
    prescriptions_enabled=st.booleans(),
)


def access_of(
    kind: RelationshipKind,
    permissions: Permissions,
    settings_reported: RecordAccess | None,
    practice: PracticeSettings = PRACTICE,
) -> RecordGrants:
    """The grants `effective_access` gives, or none where it refuses the record."""
    access = effective_access(
        relationship(kind, born=date(1980, 1, 1), permissions=permissions),
        today=TODAY,
        review_age=REVIEW_AGE,
        practice=practice,
        patient_record_access=settings_reported,
    )
    assert access.record.allowed == (access.record_grants != RecordGrants())
    return access.record_grants


@settings(max_examples=400)
@given(
    record=st.lists(entries, max_size=40),
    own=grants_st,
    granted=levels,
    record_from=st.one_of(st.none(), days),
    historic=st.booleans(),
    kind=proxies,
)
def test_property_a_proxy_never_sees_what_the_patient_could_not_under_the_same_settings(
    record: list[RecordEntry],
    own: RecordGrants,
    granted: RecordAccessLevel,
    record_from: date | None,
    historic: bool,
    kind: RelationshipKind,
) -> None:
    permissions = Permissions(True, True, granted, record_from, historic)
    grants = access_of(kind, permissions, RecordAccess(own))
    record = list({e.entry_id: e for e in record}.values())  # ids are unique in a record
    patient_view = {e.entry_id: e for e in visible_entries(record, own)}
    for shown in visible_entries(record, grants):
        # Not an entry the patient could not see, nor free text they could not read.
        assert shown.entry_id in patient_view
        assert shown.detail is None or patient_view[shown.entry_id].detail is not None
    # Each grant within the patient's, and the full record never starting earlier.
    assert not grants.detailed_coded or own.detailed_coded
    assert not grants.historic or own.historic
    if grants.full_from is not None and not own.historic:
        assert own.full_from is not None and grants.full_from >= own.full_from
    if record_from is not None and grants.full_from is not None and not historic:
        # Without historic access of their own, nothing before the proxy's own start.
        assert grants.full_from >= record_from


@settings(max_examples=300)
@given(
    own=grants_st,
    declined=st.booleans(),
    enhanced=st.booleans(),
    granted=levels,
    record_from=st.one_of(st.none(), days),
    historic=st.booleans(),
    kind=kinds,
    practice=practices,
)
def test_property_the_patients_refusals_bind_everyone_acting_for_them(
    own: RecordGrants,
    declined: bool,
    enhanced: bool,
    granted: RecordAccessLevel,
    record_from: date | None,
    historic: bool,
    kind: RelationshipKind,
    practice: PracticeSettings,
) -> None:
    settings_reported = RecordAccess(own, declined=declined, enhanced_review=enhanced)
    permissions = Permissions(True, True, granted, record_from, historic)
    grants = access_of(kind, permissions, settings_reported, practice)
    if declined or enhanced:
        assert grants == RecordGrants()


@settings(max_examples=300)
@given(
    granted=levels,
    record_from=st.one_of(st.none(), days),
    historic=st.booleans(),
    kind=kinds,
    practice=practices,
)
def test_property_settings_the_gp_system_did_not_report_show_nothing(
    granted: RecordAccessLevel,
    record_from: date | None,
    historic: bool,
    kind: RelationshipKind,
    practice: PracticeSettings,
) -> None:
    permissions = Permissions(True, True, granted, record_from, historic)
    assert access_of(kind, permissions, None, practice) == RecordGrants()
    assert record_grants(relationship(kind, permissions=permissions), None) == RecordGrants()


SHOWN = ShownIds("k" * 40, "A81001", "P0001")


@settings(max_examples=300)
@given(
    record=st.lists(entries, max_size=40),
    order=st.randoms(use_true_random=False),
    g=grants_st,
    limit=st.integers(min_value=1, max_value=7),
)
def test_property_no_shown_id_lets_a_viewer_order_or_count_what_they_cannot_see(
    record: list[RecordEntry], order: random.Random, g: RecordGrants, limit: int
) -> None:
    # The GP system numbers entries in sequence, withheld ones among them.
    numbered = [replace(e, entry_id=f"P0001-E{n:03d}") for n, e in enumerate(record, 1)]
    order.shuffle(numbered)  # as the GP system happens to return them
    view = shown_entries(SHOWN, visible_entries(numbered, g))
    # What the viewer gets is the same whether or not anything was withheld: the same
    # ids, in the same order, paged the same way.
    without_withheld = [e for e in numbered if may_see(e, g)]
    assert view == shown_entries(SHOWN, visible_entries(without_withheld, g))
    # No shown id is, or holds, the GP system's id: no sequence to find gaps in.
    gp_ids = {e.entry_id for e in numbered}
    for shown in view:
        assert shown.entry_id not in gp_ids and len(shown.entry_id) == SHOWN_ID_LENGTH
        assert "p0001" not in shown.entry_id and "e0" not in shown.entry_id
    # Within a day the order is by shown id, never by the GP system's.
    for earlier, later in itertools.pairwise(view):
        assert (later.recorded_on, earlier.entry_id) <= (earlier.recorded_on, later.entry_id)
    pages, after = [], None
    while True:
        page = page_of(view, dated=[(e.recorded_on, e.entry_id) for e in view], limit=limit,
                       after=after)  # fmt: skip
        pages += page.items
        if page.next_after is None:
            break
        assert page.next_after.item_id in {e.entry_id for e in view}
        after = page.next_after
    assert pages == view
