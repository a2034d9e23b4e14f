"""`GET /v1/pharmacies` and `/v1/pharmacies/{ods_code}` on the sandbox directory, through HTTP."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from app.adapters.sandbox.seed import PHARMACIES
from app.problems import PROBLEM_MEDIA_TYPE
from tests.conftest import FakeClock, SignIn


async def _codes(client: httpx.AsyncClient, headers: dict[str, str], **params: object) -> list[str]:
    response = await client.get("/v1/pharmacies", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["ods_code"] for item in response.json()["items"]]


async def test_signed_out_callers_are_refused(client: httpx.AsyncClient) -> None:
    for path in ("/v1/pharmacies?q=oakfield", "/v1/pharmacies/FAA01"):
        response = await client.get(path)
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert response.json()["code"] == "not_signed_in"


async def test_an_expired_session_is_refused(
    client: httpx.AsyncClient, sign_in: SignIn, clock: FakeClock
) -> None:
    user = await sign_in("adult-full")
    clock.advance(timedelta(hours=13))
    response = await client.get("/v1/pharmacies?q=oakfield", headers=user.headers)
    assert response.status_code == 401
    assert response.json()["code"] == "session_expired"


async def test_a_p5_user_may_search(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    # No patient data here, so NHS login's P9 is not needed.
    user = await sign_in("p5-identity")
    assert await _codes(client, user.headers, q="harbour") == ["FCC03"]
    response = await client.get("/v1/pharmacies/FCC03", headers=user.headers)
    assert response.status_code == 200


async def test_search_by_words_matches_every_word_as_a_prefix(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full")
    # Sorted by name: Meadow View Pharmacy, Oakfield Chemist.
    assert await _codes(client, user.headers, q="oakfield") == ["FDD04", "FBB02"]
    assert await _codes(client, user.headers, q="PHARM") == ["FCC03", "FAA01", "FDD04"]
    assert await _codes(client, user.headers, q="meadow oak") == ["FDD04"]
    assert await _codes(client, user.headers, q="fee05") == ["FEE05"]
    assert await _codes(client, user.headers, q="meadow leeds") == []


async def test_search_by_postcode_finds_the_district(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full")
    # A patient's own full postcode finds the pharmacies in their district.
    assert await _codes(client, user.headers, postcode="ok4 1zz") == ["FDD04", "FBB02"]
    assert await _codes(client, user.headers, postcode="OK4") == ["FDD04", "FBB02"]
    assert await _codes(client, user.headers, postcode="LS115PR") == ["FEE05"]
    # LS1 is another district than LS11.
    assert await _codes(client, user.headers, postcode="LS1 4AP") == []


async def test_words_and_postcode_must_both_match(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full")
    assert await _codes(client, user.headers, q="chemist", postcode="OK4 3MP") == ["FBB02"]
    assert await _codes(client, user.headers, q="harbour", postcode="OK4") == []


async def test_a_result_carries_what_a_patient_needs_to_choose(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in("adult-full")
    response = await client.get("/v1/pharmacies?q=high street", headers=user.headers)
    assert response.json() == {
        "items": [
            {
                "ods_code": "FAA01",
                "name": "High Street Pharmacy",
                "address": "12 High Street, Riverside",
                "postcode": "RV1 2HS",
                "phone": "01632 960101",
            }
        ]
    }


async def test_the_result_count_is_bounded(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    user = await sign_in("adult-full")
    assert len(await _codes(client, user.headers, q="pharmacy")) == 3
    assert await _codes(client, user.headers, q="pharmacy", limit=1) == ["FCC03"]
    for limit in (0, 51):
        response = await client.get(
            "/v1/pharmacies", params={"q": "pharmacy", "limit": limit}, headers=user.headers
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "query.limit"


@pytest.mark.parametrize("params", [{}, {"q": "--"}, {"q": "''"}])
async def test_a_search_needs_words_or_a_postcode(
    client: httpx.AsyncClient, sign_in: SignIn, params: dict[str, str]
) -> None:
    user = await sign_in("adult-full")
    response = await client.get("/v1/pharmacies", params=params, headers=user.headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["code"] == "search_terms_required"
    assert "name, a postcode" in body["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"postcode": "NOT A POSTCODE"}, "query.postcode"),
        ({"postcode": "12345"}, "query.postcode"),
        ({"postcode": "X"}, "query.postcode"),
        ({"postcode": "SW1A 1AA 1AA"}, "query.postcode"),
        ({"q": "x"}, "query.q"),
        ({"q": "a" * 101}, "query.q"),
    ],
)
async def test_bad_search_values_are_named_but_not_echoed(
    client: httpx.AsyncClient, sign_in: SignIn, params: dict[str, str], field: str
) -> None:
    user = await sign_in("adult-full")
    response = await client.get("/v1/pharmacies", params=params, headers=user.headers)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_failed"
    assert [error["field"] for error in body["errors"]] == [field]
    assert next(iter(params.values())) not in response.text


async def test_one_pharmacy_by_its_code(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    user = await sign_in("adult-full")
    response = await client.get("/v1/pharmacies/fdd04", headers=user.headers)
    assert response.status_code == 200
    assert response.json()["ods_code"] == "FDD04"
    assert response.json()["postcode"] == "OK4 7MV"

    missing = await client.get("/v1/pharmacies/FZZ99", headers=user.headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "pharmacy_not_found"

    bad = await client.get("/v1/pharmacies/F'1", headers=user.headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "path.ods_code"


async def test_every_listed_pharmacy_can_be_nominated_in_the_sandbox(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    """The directory lists what the sandbox GP systems accept as a nomination."""
    user = await sign_in("adult-full")
    listed: set[str] = set()
    for postcode in {row["postcode"] for row in PHARMACIES}:
        listed.update(await _codes(client, user.headers, postcode=postcode))
    assert listed == {row["ods_code"] for row in PHARMACIES}

    persona = user.persona
    system = app.state.gp_registry.for_practice(persona.ods_code)
    for code in sorted(listed):
        nominated = await system.set_nominated_pharmacy(
            persona.patient_ref, code, actor_ref=persona.patient_ref
        )
        assert nominated.ods_code == code
        assert (await system.get_nominated_pharmacy(persona.patient_ref)).ods_code == code


async def test_what_was_searched_for_is_never_logged(
    client: httpx.AsyncClient, sign_in: SignIn, caplog: pytest.LogCaptureFixture
) -> None:
    # As deployed (app/logs.py): the app's loggers at any level, httpx at WARNING.
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="app")
    caplog.set_level(logging.WARNING, logger="httpx")
    user = await sign_in("adult-full")
    await client.get("/v1/pharmacies?q=meadowview&postcode=OK4 7QZ", headers=user.headers)
    await client.get("/v1/pharmacies?postcode=QQ99 9QQQ", headers=user.headers)
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    for value in ("meadowview", "OK4 7QZ", "OK47QZ", "QQ99"):
        assert value not in logged
