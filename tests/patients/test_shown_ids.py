"""Shown ids: opaque, stable for a patient, different between patients, mapped back."""

from __future__ import annotations

from app.patients.ids import SHOWN_ID_LENGTH, IdKind, ShownIds, shown_id

KEY = "k" * 40
GP_IDS = [f"P001-E{n:02d}" for n in range(1, 22)]


def test_a_shown_id_carries_no_gp_reference_and_keeps_no_order() -> None:
    ids = ShownIds(KEY, "B82002", "P001")
    shown = [ids.of(IdKind.ENTRY, gp_id) for gp_id in GP_IDS]
    assert len(set(shown)) == len(GP_IDS)
    assert all(len(s) == SHOWN_ID_LENGTH and "p001" not in s for s in shown)
    assert sorted(shown) != shown  # not sortable into the GP system's order


def test_a_shown_id_is_stable_and_differs_by_patient_and_kind() -> None:
    ids = ShownIds(KEY, "B82002", "P001")
    assert ids.of(IdKind.ENTRY, "X1") == shown_id(KEY, "B82002", "P001", IdKind.ENTRY, "X1")
    assert ids.of(IdKind.ENTRY, "X1") != ShownIds(KEY, "B82002", "P002").of(IdKind.ENTRY, "X1")
    assert ids.of(IdKind.ENTRY, "X1") != ids.of(IdKind.DOCUMENT, "X1")
    # Parts cannot run into each other: ("P0", "01:X1") is not ("P001", "X1").
    assert ids.of(IdKind.ENTRY, "X1") != ShownIds(KEY, "B82002", "P0").of(IdKind.ENTRY, "01X1")


def test_a_shown_id_maps_back_only_among_the_patients_own_candidates() -> None:
    ids = ShownIds(KEY, "B82002", "P001")
    other = ShownIds(KEY, "B82002", "P002")
    found = ids.find(IdKind.ENTRY, ids.of(IdKind.ENTRY, "P001-E07"), GP_IDS, lambda g: g)
    assert found == "P001-E07"
    for unknown in (other.of(IdKind.ENTRY, "P001-E07"), "P001-E07", "made-up"):
        assert ids.find(IdKind.ENTRY, unknown, GP_IDS, lambda g: g) is None
