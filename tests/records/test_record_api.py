"""The GP record through the HTTP API, for every record persona the sandbox seeds.

Expected entries are written out from the seed (app/adapters/sandbox/seed.py:
`_record_entries`, `_documents`), not computed with the policy under test.
"""

from __future__ import annotations

import json
import re
from datetime import date

import httpx
import pytest

from app.adapters.sandbox.seed import SeedRows
from app.clock import today
from app.gp.types import AUTOMATIC_ACCESS_START
from app.patients.ids import IdKind
from tests.conftest import FakeClock, SignIn
from tests.forged_cursors import altered, b64, decodings
from tests.records.conftest import (
    EMIS,
    ENTRY_SECTIONS,
    HBA1C,
    TPP,
    Viewer,
    days_ago,
    withheld_entry_ids,
    withheld_shown_ids,
)


async def own_record(client: httpx.AsyncClient, sign_in: SignIn, tag: str, **kw: str) -> Viewer:
    user = await sign_in(tag, **kw)
    return Viewer(client, user, user.patient_id())


async def proxy_record(
    client: httpx.AsyncClient, sign_in: SignIn, tag: str, patient_tag: str
) -> Viewer:
    user = await sign_in(tag)
    return Viewer(client, user, user.acts_for(patient_tag))


# --- prospective access (the automatic rollout), on every supplier profile ---------------


async def test_prospective_access_shows_summary_of_any_date_and_the_rest_from_the_start(
    client: httpx.AsyncClient, sign_in: SignIn, ods_code: str
) -> None:
    viewer = await own_record(client, sign_in, "adult-full", ods_code=ods_code)
    overview = (await viewer.get()).json()
    assert overview["available"] and overview["reason"] is None
    assert (overview["level"], overview["summary"], overview["detailed_coded"]) == (
        "full", True, False,
    )  # fmt: skip
    assert overview["prospective_from"] == AUTOMATIC_ACCESS_START.isoformat()
    assert overview["historic"] is False and overview["as_of"]
    assert all(state["available"] for state in overview["sections"])

    # Summary information whatever its date (2012 penicillin allergy, 2019 inhaler);
    # an old allergy's free-text note is for the full record only, a dosage is kept.
    allergies = (await viewer.section("allergies"))["items"]
    assert [(e["entry_id"], e["detail"]) for e in allergies] == [
        (viewer.entry_id(2), None), (viewer.entry_id(1), None),
    ]  # fmt: skip
    medicines = (await viewer.section("medications"))["items"]
    assert medicines[1]["detail"] == "Two puffs when required"
    assert await viewer.ids("medications") == viewer.entry_ids(7, 8)
    # Coded entries only from 1 November 2023: not the 2009 asthma or 2021 vaccination.
    assert await viewer.ids("problems") == viewer.entry_ids(4)
    assert await viewer.ids("immunisations") == viewer.entry_ids(6)
    # Results: not the 2022 cholesterol, the unfiled count, the hidden or harmful ones.
    assert await viewer.ids("test-results") == viewer.entry_ids(9, 18, 19, 20, 21)
    # Consultations from the start date itself on, with their free text.
    consultations = await viewer.section("consultations")
    assert [e["entry_id"] for e in consultations["items"]] == viewer.entry_ids(13, 17)
    assert consultations["items"][0]["detail"] == "BP 132/84. Continue amlodipine."
    assert await viewer.ids("documents") == viewer.document_ids(1)


async def test_results_carry_values_units_and_reference_ranges(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await own_record(client, sign_in, "adult-full", ods_code="C83003")
    [latest, *_] = (await viewer.section("test-results"))["items"]
    assert latest["code"] == HBA1C
    assert latest["result"] == {
        "value": "38",
        "numeric_value": 38.0,
        "unit": "mmol/mol",
        "range_low": 20.0,
        "range_high": 41.0,
        "range_text": "20 - 41",
    }


# --- the other grants ------------------------------------------------------------------------


async def test_summary_only_shows_allergies_and_medications_and_says_the_rest_is_not_in_access(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await own_record(client, sign_in, "summary-only")
    overview = (await viewer.get()).json()
    assert overview["level"] == "summary" and overview["prospective_from"] is None
    offered = {s["section"] for s in overview["sections"] if s["available"]}
    assert offered == {"allergies", "medications"}
    assert await viewer.ids("allergies") == viewer.entry_ids(2, 1)
    for name in ["problems", "immunisations", "test-results", "consultations", "documents"]:
        body = await viewer.section(name)
        assert body["available"] is False and body["items"] is None
        assert body["reason"] == "not_in_your_access" and "ask" in body["explanation"]


async def test_the_detailed_coded_record_shows_older_coded_entries_without_free_text(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await own_record(client, sign_in, "detailed-only")
    overview = (await viewer.get()).json()
    assert (overview["level"], overview["detailed_coded"]) == ("detailed", True)
    assert await viewer.ids("problems") == viewer.entry_ids(4, 3)
    # Coded consultation items of any date; the uncoded annual review is free text only.
    consultations = (await viewer.section("consultations"))["items"]
    assert [e["entry_id"] for e in consultations] == viewer.entry_ids(13, 12)
    assert all(e["detail"] is None for e in consultations)
    results = (await viewer.section("test-results"))["items"]
    assert [e["entry_id"] for e in results] == viewer.entry_ids(9, 18, 19, 20, 21, 10)
    assert all(e["detail"] is None and e["result"] for e in results)
    documents = await viewer.section("documents")
    assert documents["available"] is False and documents["reason"] == "not_in_your_access"


async def test_detailed_and_prospective_show_older_coded_entries_and_newer_free_text(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await own_record(client, sign_in, "detailed-and-prospective")
    consultations = (await viewer.section("consultations"))["items"]
    by_id = {e["entry_id"]: e for e in consultations}
    assert list(by_id) == viewer.entry_ids(13, 17, 12)
    assert by_id[viewer.entry_id(12)]["detail"] is None  # 2020: coded record only
    assert by_id[viewer.entry_id(13)]["detail"] == "BP 132/84. Continue amlodipine."


async def test_historic_access_shows_the_full_record_of_any_date(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await own_record(client, sign_in, "historic-access")
    assert (await viewer.get()).json()["historic"] is True
    consultations = {e["entry_id"]: e for e in (await viewer.section("consultations"))["items"]}
    assert consultations[viewer.entry_id(12)]["detail"].startswith("Productive cough")
    assert await viewer.ids("documents") == viewer.document_ids(1, 2)
    assert await viewer.ids("problems") == viewer.entry_ids(4, 3)
    allergies = (await viewer.section("allergies"))["items"]
    assert allergies[1]["detail"] == "Rash"  # 2012, with historic access


async def test_a_registration_after_the_rollout_starts_full_access_at_registration(
    client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    viewer = await own_record(client, sign_in, "registered-after-rollout")
    registered = days_ago(today(clock), 150)
    assert (await viewer.get()).json()["prospective_from"] == registered.isoformat()
    assert await viewer.ids("test-results") == viewer.entry_ids(9)  # not 240 days ago
    assert await viewer.ids("consultations") == viewer.entry_ids(13)
    assert await viewer.ids("allergies") == viewer.entry_ids(2, 1)  # summary: any date


# --- where the GP system cannot say ----------------------------------------------------------


async def test_a_section_the_gp_system_cannot_provide_is_not_available_never_empty(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await own_record(client, sign_in, "record-in-transit")
    for name in ["problems", "test-results", "documents"]:
        body = await viewer.section(name)
        assert body["available"] is False and body["items"] is None
        assert body["reason"] == "not_available_from_gp_system"
        assert "does not mean nothing is recorded" in body["explanation"]
    series = (await viewer.get(f"/test-results/{HBA1C}/series")).json()
    assert series["available"] is False and series["items"] is None
    assert await viewer.ids("allergies") == viewer.entry_ids(2, 1)


# --- no access at all ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "reason"),
    [("declined", "online_access_declined"), ("enhanced-review", "enhanced_review")],
)
async def test_no_automatic_access_explains_how_to_ask_the_practice(
    client: httpx.AsyncClient, sign_in: SignIn, tag: str, reason: str
) -> None:
    viewer = await own_record(client, sign_in, tag)
    overview = (await viewer.get()).json()
    assert overview["available"] is False and overview["reason"] == reason
    assert "practice" in overview["explanation"] and overview["level"] == "none"
    assert not any(state["available"] for state in overview["sections"])
    for path in ["/allergies", "/documents", f"/test-results/{HBA1C}/series", "/corrections"]:
        response = await viewer.get(path)
        assert response.status_code == 403, path
        assert response.json()["code"] == "service_not_permitted"
        assert response.json()["reason"] == reason


# --- proxies ----------------------------------------------------------------------------------


async def test_a_parent_with_summary_access_sees_the_childs_summary_only(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await proxy_record(client, sign_in, "proxy-parent", "child-under-11")
    child = next(o for o in viewer.user.persona.acts_for if "child-under-11" in o.tags)
    assert viewer.patient_ref == child.patient_ref
    overview = (await viewer.get()).json()
    assert overview["level"] == "summary"
    assert await viewer.ids("allergies") == viewer.entry_ids(3)
    assert await viewer.ids("consultations") is None
    assert await viewer.ids("documents") is None


async def test_a_full_record_proxy_sees_from_their_own_grant_not_the_patients(
    client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    viewer = await proxy_record(client, sign_in, "relative-proxy", "proxied-adult")
    rose = next(o for o in viewer.user.persona.acts_for if "proxied-adult" in o.tags)
    assert viewer.patient_ref == rose.patient_ref
    granted = days_ago(today(clock), 100)
    assert (await viewer.get()).json()["prospective_from"] == granted.isoformat()
    consultations = {e["entry_id"]: e for e in (await viewer.section("consultations"))["items"]}
    # Everything from the proxy's own start; nothing older, not even coded entries: full
    # access from a date does not include the detailed coded record (Rose's own settings
    # show her those, but the proxy was not granted them).
    assert consultations[viewer.entry_id(13)]["detail"] == "BP 132/84. Continue amlodipine."
    assert viewer.entry_id(12) not in consultations
    assert viewer.entry_id(17) not in consultations
    # The discharge letter (120 days ago) predates the proxy's access: not shown.
    documents = await viewer.section("documents")
    assert documents["available"] is True and documents["items"] == []


@pytest.mark.parametrize(
    ("patient_tag", "reason"),
    [("proxy-ended", "proxy_access_ended"), ("proxy-not-started", "proxy_access_not_started")],
)
async def test_a_proxy_outside_their_dates_sees_nothing(
    client: httpx.AsyncClient, sign_in: SignIn, patient_tag: str, reason: str
) -> None:
    viewer = await proxy_record(client, sign_in, "relative-proxy", patient_tag)
    for path in ["", "/allergies", "/documents", "/corrections"]:
        response = await viewer.get(path)
        assert response.status_code == 403, path
        assert (response.json()["code"], response.json()["reason"]) == (
            "access_unavailable", reason,
        )  # fmt: skip


async def test_a_proxy_without_record_access_is_told_so(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await proxy_record(client, sign_in, "carer", "care-home-resident")
    overview = (await viewer.get()).json()
    assert overview["available"] is False and overview["reason"] == "not_granted"
    assert "ask" in overview["explanation"]
    assert (await viewer.get("/allergies")).status_code == 403


# --- nothing withheld, ever -----------------------------------------------------------------


RECORD_VIEWERS = [
    ("adult-full", None, "A81001"),
    ("adult-full", None, "B82002"),
    ("adult-full", None, "C83003"),
    ("historic-access", None, None),
    ("summary-only", None, None),
    ("detailed-only", None, None),
    ("detailed-and-prospective", None, None),
    ("registered-after-rollout", None, None),
    ("record-in-transit", None, None),
    ("proxy-parent", "child-under-11", None),
    ("parent-of-14", "age-14", None),
    ("relative-proxy", "proxied-adult", None),
]


async def test_no_viewer_ever_sees_a_withheld_entry_or_a_hint_of_one(
    client: httpx.AsyncClient, sign_in: SignIn, sandbox_seed_rows: SeedRows
) -> None:
    withheld = withheld_entry_ids(sandbox_seed_rows)
    withheld_terms = {
        row["term"]
        for row in sandbox_seed_rows["sandbox_record_entries"]
        if row["entry_id"] in withheld
    } | {row["title"] for row in sandbox_seed_rows["sandbox_documents"]
         if row["document_id"] in withheld}  # fmt: skip
    # Terms that also name a visible entry (the hidden HbA1c) cannot be told apart by text.
    withheld_terms -= {
        row["term"]
        for row in sandbox_seed_rows["sandbox_record_entries"]
        if row["entry_id"] not in withheld
    }
    seen_any = 0
    for tag, patient_tag, ods in RECORD_VIEWERS:
        if patient_tag is None:
            viewer = await own_record(client, sign_in, tag, **({"ods_code": ods} if ods else {}))
        else:
            viewer = await proxy_record(client, sign_in, tag, patient_tag)
        # Neither the GP system's ids of what is withheld, nor the ids the API would show
        # for them.
        withheld_ids = withheld | withheld_shown_ids(viewer, sandbox_seed_rows)
        assert len(withheld_ids) > len(withheld)
        for name in [*ENTRY_SECTIONS, "documents"]:
            for limit in (2, 100):
                response = await viewer.get(f"/{name}", limit=limit)
                assert response.status_code == 200, (tag, name, response.text)
                body = response.json()
                text = json.dumps(body)
                assert not [i for i in withheld_ids if f'"{i}"' in text], (tag, name)
                assert not [t for t in withheld_terms if t in text], (tag, name)
                # No counts or markers: only these keys, whatever was withheld.
                assert set(body) <= {
                    "section", "as_of", "available", "reason", "explanation", "items",
                    "next_cursor",
                }, (tag, name)  # fmt: skip
                for word in ("hidden", "withheld", "redacted", "count", "total"):
                    assert word not in text.lower(), (tag, name, word)
                seen_any += len(body["items"] or [])
        series = (await viewer.get(f"/test-results/{HBA1C}/series")).json()
        assert "61" not in [p["result"]["value"] for p in series["items"] or []]
    assert seen_any > 100  # the check above looked at real content


# --- the ids the API shows ---------------------------------------------------------------

SHOWN_ID = re.compile(r"[a-z2-7]{26}")
# The GP system's own ids: practice, patient, entry or document (`B82002-P088-E12`).
GP_ID = re.compile(r"[A-Z]\d{5}-P\d{3}(-[ED]\d+)?")


async def test_shown_ids_are_opaque_and_name_exactly_what_the_viewer_may_see(
    client: httpx.AsyncClient, sign_in: SignIn, sandbox_seed_rows: SeedRows
) -> None:
    viewer = await own_record(client, sign_in, "historic-access")
    assert viewer.user.persona.ods_code == TPP
    ref = viewer.patient_ref
    rows = sandbox_seed_rows
    withheld = withheld_entry_ids(rows)
    entries = [r["entry_id"] for r in rows["sandbox_record_entries"] if r["patient_ref"] == ref]
    documents = [r["document_id"] for r in rows["sandbox_documents"] if r["patient_ref"] == ref]
    assert withheld & {*entries, *documents}, "the seed withholds some of her record"
    # Historic access: everything of any date the practice has not withheld.
    may_see = {viewer.shown(IdKind.ENTRY, e) for e in entries if e not in withheld} | {
        viewer.shown(IdKind.DOCUMENT, d) for d in documents if d not in withheld
    }
    listed: list[str] = []
    for name in [*ENTRY_SECTIONS, "documents"]:
        key = "document_id" if name == "documents" else "entry_id"
        cursor = None
        while True:
            body = await viewer.section(name, limit=2, **({"cursor": cursor} if cursor else {}))
            text = json.dumps(body)
            assert ref not in text and not GP_ID.search(text), (name, text)
            listed += [item[key] for item in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
            # Nor does a cursor carry one, or anything else readable.
            assert not any(GP_ID.search(text) for text in decodings(cursor)), (name, cursor)
            assert not any(shown in text for text in decodings(cursor) for shown in listed)
    for shown in listed:
        assert SHOWN_ID.fullmatch(shown), shown
        assert ref.lower() not in shown
    assert len(listed) == len(set(listed))
    # Exactly what she may see, no more: no id to count, order or guess the rest by.
    assert set(listed) == may_see
    series = (await viewer.get(f"/test-results/{HBA1C}/series")).json()["items"]
    assert series and {point["entry_id"] for point in series} <= may_see


async def test_an_entry_has_the_same_shown_id_at_every_sign_in_and_for_a_proxy(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    patient = await own_record(client, sign_in, "registered-after-rollout")
    again = await own_record(client, sign_in, "registered-after-rollout")
    assert again.user.token != patient.user.token
    proxy = await proxy_record(
        client, sign_in, "proxy-of-late-registered", "registered-after-rollout"
    )
    assert proxy.patient_id == patient.patient_id
    assert await patient.ids("allergies") == patient.entry_ids(2, 1)
    seen = 0
    for name in [*ENTRY_SECTIONS, "documents"]:
        ids = await patient.ids(name)
        assert ids is not None, name
        assert await again.ids(name) == ids, name
        # The id is the practice's, the patient's and the entry's: the same to a proxy.
        assert await proxy.ids(name) == ids, name
        seen += len(ids)
    assert seen >= 5
    # Other patients' entries of the same numbers (E02, E01), at the same practice: the
    # proxy's own, and someone else's, have ids of their own.
    proxys_own = Viewer(client, proxy.user, proxy.user.patient_id())
    someone_else = await own_record(client, sign_in, "adult-full", ods_code=EMIS)
    theirs = set(await patient.ids("allergies") or [])
    for other in (proxys_own, someone_else):
        assert other.patient_ref != patient.patient_ref
        other_ids = await other.ids("allergies")
        assert other_ids == other.entry_ids(2, 1)
        assert theirs.isdisjoint(other_ids)


# --- pages, dates and the series ----------------------------------------------------------


async def test_pages_follow_the_cursor_and_date_filters_are_inclusive(
    client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    viewer = await own_record(client, sign_in, "detailed-only")
    first = await viewer.section("test-results", limit=2)
    assert [e["entry_id"] for e in first["items"]] == viewer.entry_ids(9, 18)
    second = await viewer.section("test-results", limit=2, cursor=first["next_cursor"])
    assert [e["entry_id"] for e in second["items"]] == viewer.entry_ids(19, 20)
    assert await viewer.ids("test-results", limit=1) == viewer.entry_ids(9, 18, 19, 20, 21, 10)
    current = today(clock)
    dated = await viewer.ids(
        "test-results",
        **{"from": days_ago(current, 600).isoformat(), "to": days_ago(current, 240).isoformat()},
    )
    assert dated == viewer.entry_ids(18, 19, 20)
    backwards = await viewer.get("/test-results", **{"from": "2025-01-02", "to": "2025-01-01"})
    assert (backwards.status_code, backwards.json()["code"]) == (422, "invalid_range")
    bad = await viewer.get("/test-results", cursor="not-a-cursor")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_cursor")
    unknown = await viewer.get("/operations")
    assert unknown.status_code == 422


async def test_a_cursor_is_refused_by_every_list_but_the_one_that_issued_it(
    client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    viewer = await own_record(client, sign_in, "historic-access")
    current = today(clock)
    window = {"from": days_ago(current, 800).isoformat(), "to": days_ago(current, 50).isoformat()}
    first = await viewer.section("test-results", limit=2)
    dated = await viewer.section("test-results", limit=1, **window)
    documents = await viewer.section("documents", limit=1)
    cursor, dated_cursor = first["next_cursor"], dated["next_cursor"]
    assert cursor and dated_cursor and documents["next_cursor"]
    # In its own list, each carries on where its page ended.
    following = await viewer.section("test-results", limit=2, cursor=cursor)
    assert [e["entry_id"] for e in following["items"]] == viewer.entry_ids(19, 20)
    dated_following = await viewer.section("test-results", limit=1, cursor=dated_cursor, **window)
    assert [e["entry_id"] for e in dated_following["items"]] == viewer.entry_ids(18)

    moved = json.dumps([days_ago(current, 1000).isoformat(), viewer.entry_id(10)])
    last_day = first["items"][-1]["recorded_on"]
    refused = {
        "another section's": ("/problems", {"cursor": cursor}),
        "a section's, for documents": ("/documents", {"cursor": cursor}),
        "the documents', for a section": ("/test-results", {"cursor": documents["next_cursor"]}),
        "undated, with dates": ("/test-results", {"cursor": cursor, **window}),
        "dated, without its dates": ("/test-results", {"cursor": dated_cursor}),
        "dated, with other dates": (
            "/test-results", {"cursor": dated_cursor, **window, "to": current.isoformat()},
        ),
        "a position in the clear": ("/test-results", {"cursor": b64(moved)}),
        "made up": ("/test-results", {"cursor": b64(f"{last_day}|{viewer.entry_id(18)}")}),
        **{
            f"altered ({n})": ("/test-results", {"cursor": forged})
            for n, forged in enumerate(altered(cursor))
        },
    }  # fmt: skip
    for why, (path, params) in refused.items():
        response = await viewer.get(path, **params)
        assert (response.status_code, response.json()["code"]) == (400, "invalid_cursor"), why

    # Another viewer's cursor, even of the same patient's same list, and the same viewer's
    # cursor of another patient's record.
    patient = await own_record(client, sign_in, "registered-after-rollout")
    proxy = await proxy_record(
        client, sign_in, "proxy-of-late-registered", "registered-after-rollout"
    )
    proxys_own = Viewer(client, proxy.user, proxy.user.patient_id())
    patients_cursor = (await patient.section("allergies", limit=1))["next_cursor"]
    proxys_cursor = (await proxys_own.section("allergies", limit=1))["next_cursor"]
    assert patients_cursor and proxys_cursor
    for reader, other_cursor in [
        (proxy, patients_cursor),  # the patient's own, on the same list, by their proxy
        (patient, proxys_cursor),  # the proxy's, of their own record, by the patient
        (proxy, proxys_cursor),  # the proxy's, of their own record, on the patient's
        (viewer, patients_cursor),  # another patient's, at another practice
    ]:
        response = await reader.get("/allergies", limit=1, cursor=other_cursor)
        assert (response.status_code, response.json()["code"]) == (400, "invalid_cursor")
    for reader, own_cursor in [(patient, patients_cursor), (proxys_own, proxys_cursor)]:
        page = await reader.section("allergies", limit=1, cursor=own_cursor)
        assert [e["entry_id"] for e in page["items"]] == reader.entry_ids(1)


@pytest.mark.parametrize(("tag", "ods"), [("adult-full", "A81001"), ("detailed-only", TPP)])
async def test_one_tests_results_over_time_oldest_first_without_withheld_values(
    client: httpx.AsyncClient, sign_in: SignIn, tag: str, ods: str
) -> None:
    viewer = await own_record(client, sign_in, tag, ods_code=ods)
    response = await viewer.get(f"/test-results/{HBA1C}/series")
    assert response.status_code == 200
    series = response.json()
    assert series["available"] and series["code"] == HBA1C
    values = [point["result"]["value"] for point in series["items"]]
    assert values == ["52", "49", "47", "44", "38"]  # two years; never the hidden 61
    dates = [date.fromisoformat(point["recorded_on"]) for point in series["items"]]
    assert dates == sorted(dates) and (dates[-1] - dates[0]).days >= 365
    assert {p["result"]["unit"] for p in series["items"]} == {"mmol/mol"}
    assert {(p["result"]["range_low"], p["result"]["range_high"]) for p in series["items"]} == {
        (20.0, 41.0)
    }
    empty = (await viewer.get("/test-results/0000/series")).json()
    assert empty["available"] is True and empty["items"] == []


async def test_summary_access_has_no_series(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    viewer = await own_record(client, sign_in, "summary-only")
    series = (await viewer.get(f"/test-results/{HBA1C}/series")).json()
    assert series["available"] is False and series["reason"] == "not_in_your_access"


async def test_every_answer_says_when_the_data_was_read(
    client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    viewer = await own_record(client, sign_in, "adult-full", ods_code="B82002")
    for path in ["", "/allergies", "/documents", f"/test-results/{HBA1C}/series"]:
        body = (await viewer.get(path)).json()
        assert body["as_of"] == clock.now().isoformat().replace("+00:00", "Z"), path
