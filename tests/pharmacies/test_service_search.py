"""The Directory of Healthcare Services (Service Search) adapter, with respx at the boundary.

Through HTTP on the app configured with `PHARMACY_DIRECTORY=service_search`, on both
databases; the directory's answers are shaped like its specification's examples.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import ValidationError

from app.config import PharmacyDirectoryKind, Settings
from app.problems import PROBLEM_MEDIA_TYPE
from tests.conftest import SignIn

BASE_URL = "https://directory.test/service-search-api"
SEARCH_URL = BASE_URL + "/"
API_KEY = "test-directory-key"
PAYLOADS = Path(__file__).parent / "payloads"
# Pharmacies that take electronic prescriptions, so can be nominated (the specification's
# `$filter` examples); and the fields the mapping reads.
NOMINATABLE = "OrganisationTypeId eq 'PHA' and IsEpsEnabled eq 'true'"
SELECT = "ODSCode,OrganisationName,Address1,Address2,Address3,City,County,Postcode,Contacts"


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


@pytest.fixture
def settings(make_settings: Any, sandbox_database_url: str) -> Settings:
    settings: Settings = make_settings(
        sandbox_database_url=sandbox_database_url,
        pharmacy_directory="service_search",
        service_search_base_url=BASE_URL,
        service_search_api_key=API_KEY,
        service_search_timeout_seconds=2.5,
    )
    return settings


@pytest.fixture
def directory() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


def _only_request(route: respx.Route) -> httpx.Request:
    assert route.call_count == 1
    request: httpx.Request = route.calls.last.request
    return request


async def test_a_postcode_search_sends_only_the_district(
    client: httpx.AsyncClient, sign_in: SignIn, directory: respx.MockRouter
) -> None:
    route = directory.get(SEARCH_URL).respond(200, json=payload("search_by_postcode.json"))
    user = await sign_in("adult-full")

    response = await client.get("/v1/pharmacies?postcode=b11 3xy&limit=10", headers=user.headers)

    assert response.status_code == 200, response.text
    request = _only_request(route)
    assert request.headers["apikey"] == API_KEY
    assert dict(request.url.params) == {
        "api-version": "3",
        "$select": SELECT,
        "$filter": f"{NOMINATABLE} and search.ismatch('B11', 'Postcode')",
        "$top": "10",
    }
    assert "3XY" not in str(request.url).upper()
    assert request.extensions["timeout"] == httpx.Timeout(2.5).as_dict()


async def test_answers_are_mapped_to_what_a_patient_needs(
    client: httpx.AsyncClient, sign_in: SignIn, directory: respx.MockRouter
) -> None:
    directory.get(SEARCH_URL).respond(200, json=payload("search_by_postcode.json"))
    user = await sign_in("adult-full")

    response = await client.get("/v1/pharmacies?postcode=B11", headers=user.headers)

    assert response.json()["items"] == [
        {
            "ods_code": "FQ101",
            "name": "Sunrise Pharmacy",
            "address": "UNIT 2, ORCHARD HOUSE, 41 STATION ROAD, SPARKHILL, BIRMINGHAM",
            "postcode": "B11 3XY",
            "phone": "0121 496 0101",
        },
        {
            # Blank and missing lines left out; the primary telephone, not the email.
            "ods_code": "FQ202",
            "name": "Willow Chemist",
            "address": "9 Church Lane, Sparkbrook",
            "postcode": "B11 1QQ",
            "phone": "0121 496 0202",
        },
        {
            "ods_code": "FQ303",
            "name": "Green Lane Pharmacy",
            "address": "212 Green Lane, Small Heath, Birmingham",
            "postcode": "B11 4ZZ",
            "phone": None,
        },
    ]


async def test_a_word_search_asks_for_every_word_as_a_prefix(
    client: httpx.AsyncClient, sign_in: SignIn, directory: respx.MockRouter
) -> None:
    route = directory.get(SEARCH_URL).respond(200, json=payload("search_by_name.json"))
    user = await sign_in("p5-identity")

    response = await client.get(
        "/v1/pharmacies",
        params={"q": "Sunrise pharm", "postcode": "LS14 9ZZ"},
        headers=user.headers,
    )

    assert [item["ods_code"] for item in response.json()["items"]] == ["FQ404"]
    params = _only_request(route).url.params
    assert params["search"] == "sunrise* pharm*"
    assert params["searchMode"] == "all"
    assert params["searchFields"] == "OrganisationName,ODSCode,Address1,Address2,Address3,City"
    assert params["$filter"] == f"{NOMINATABLE} and search.ismatch('LS14', 'Postcode')"
    assert params["$top"] == "20"


async def test_what_a_patient_types_cannot_change_the_query(
    client: httpx.AsyncClient, sign_in: SignIn, directory: respx.MockRouter
) -> None:
    route = directory.get(SEARCH_URL).respond(200, json=payload("search_not_found.json"))
    user = await sign_in("adult-full")

    response = await client.get(
        "/v1/pharmacies", params={"q": "x' or ODSCode eq 'A\" | -(*)"}, headers=user.headers
    )

    assert response.status_code == 200
    assert response.json() == {"items": []}
    params = _only_request(route).url.params
    assert params["search"] == "x* or* odscode* eq* a*"
    assert params["$filter"] == NOMINATABLE


async def test_only_the_first_eight_words_are_sent(
    client: httpx.AsyncClient, sign_in: SignIn, directory: respx.MockRouter
) -> None:
    route = directory.get(SEARCH_URL).respond(200, json=payload("search_not_found.json"))
    user = await sign_in("adult-full")
    typed = "a b c d e f g h i j k l"
    assert (await client.get(f"/v1/pharmacies?q={typed}", headers=user.headers)).status_code == 200
    assert _only_request(route).url.params["search"] == "a* b* c* d* e* f* g* h*"


async def test_more_answers_than_asked_for_are_cut_to_the_limit(
    client: httpx.AsyncClient, sign_in: SignIn, directory: respx.MockRouter
) -> None:
    directory.get(SEARCH_URL).respond(200, json=payload("search_by_postcode.json"))
    user = await sign_in("adult-full")
    response = await client.get("/v1/pharmacies?postcode=B11&limit=2", headers=user.headers)
    assert [item["ods_code"] for item in response.json()["items"]] == ["FQ101", "FQ202"]


async def test_one_pharmacy_by_its_code(
    client: httpx.AsyncClient, sign_in: SignIn, directory: respx.MockRouter
) -> None:
    route = directory.get(SEARCH_URL).respond(200, json=payload("search_by_name.json"))
    user = await sign_in("adult-full")

    response = await client.get("/v1/pharmacies/fq404", headers=user.headers)

    assert response.status_code == 200
    assert response.json()["name"] == "SUNRISE PHARMACY ONLINE"
    params = _only_request(route).url.params
    assert params["$filter"] == f"ODSCode eq 'FQ404' and {NOMINATABLE}"
    assert params["$top"] == "1"
    assert "search" not in params


async def test_a_code_the_directory_does_not_list_is_not_found(
    client: httpx.AsyncClient, sign_in: SignIn, directory: respx.MockRouter
) -> None:
    directory.get(SEARCH_URL).respond(200, json=payload("search_not_found.json"))
    user = await sign_in("adult-full")
    response = await client.get("/v1/pharmacies/FQ999", headers=user.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "pharmacy_not_found"


async def test_no_directory_call_without_a_session_or_a_search(
    client: httpx.AsyncClient, sign_in: SignIn, directory: respx.MockRouter
) -> None:
    route = directory.get(SEARCH_URL).respond(200, json=payload("search_by_postcode.json"))
    assert (await client.get("/v1/pharmacies?postcode=B11")).status_code == 401
    user = await sign_in("adult-full")
    assert (await client.get("/v1/pharmacies?q=--", headers=user.headers)).status_code == 422
    assert (await client.get("/v1/pharmacies?postcode=B", headers=user.headers)).status_code == 422
    assert route.call_count == 0


def _answer(status: int, body: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, text=body, headers=headers or {})


FAILURES: dict[str, tuple[Any, int]] = {
    # name: (what the directory does, the Retry-After we expect)
    "server error": (_answer(500, "{}"), 30),
    "gateway timeout": (_answer(504, ""), 30),
    "rate limited": (_answer(429, "{}", {"Retry-After": "120"}), 120),
    "rate limited, absurd wait": (_answer(429, "{}", {"Retry-After": "86400"}), 30),
    "rate limited, date": (
        _answer(429, "{}", {"Retry-After": "Fri, 27 Nov 2026 12:00:00 GMT"}),
        30,
    ),
    "key refused": (_answer(401, "{}"), 30),
    "key forbidden": (_answer(403, "{}"), 30),
    "wrong path or version": (
        _answer(404, (PAYLOADS / "resource_not_found.json").read_text()),
        30,
    ),
    "bad request": (_answer(400, (PAYLOADS / "bad_request.json").read_text()), 30),
    "not json": (_answer(200, "<html>maintenance</html>"), 30),
    "another shape": (_answer(200, json.dumps({"results": []})), 30),
    "an organisation without a code": (
        _answer(200, json.dumps({"value": [{"OrganisationName": "No Code Pharmacy"}]})),
        30,
    ),
    "connect timeout": (httpx.ConnectTimeout("timed out"), 30),
    "read timeout": (httpx.ReadTimeout("timed out"), 30),
    "refused": (httpx.ConnectError("connection refused"), 30),
}


@pytest.mark.parametrize("failure", list(FAILURES), ids=list(FAILURES))
async def test_every_directory_failure_is_a_503_to_retry(
    client: httpx.AsyncClient,
    sign_in: SignIn,
    directory: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    effect, retry_after = FAILURES[failure]
    route = directory.get(SEARCH_URL)
    if isinstance(effect, Exception):
        route.side_effect = effect
    else:
        route.return_value = effect
    caplog.set_level(logging.DEBUG, logger="app")
    caplog.set_level(logging.WARNING, logger="httpx")
    user = await sign_in("adult-full")

    for path in ("/v1/pharmacies?q=willow&postcode=B11 1QQ", "/v1/pharmacies/FQ202"):
        response = await client.get(path, headers=user.headers)
        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert response.headers["Retry-After"] == str(retry_after)
        body = response.json()
        assert body["code"] == "pharmacy_directory_unavailable"
        assert body["retry_after"] == retry_after

    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert "pharmacy directory" in logged
    for searched in ("willow", "B11", "1QQ", API_KEY):
        assert searched not in logged


async def test_a_refused_key_is_logged_as_an_error(
    client: httpx.AsyncClient,
    sign_in: SignIn,
    directory: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    directory.get(SEARCH_URL).respond(401, json={})
    user = await sign_in("adult-full")
    await client.get("/v1/pharmacies?postcode=B11", headers=user.headers)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.name.startswith("app")]
    assert [record.getMessage() for record in errors] == ["pharmacy directory refused the API key"]


# --- settings ---------------------------------------------------------------------------


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, app_env="test", **values)  # type: ignore[call-arg]


def test_the_sandbox_directory_is_the_default() -> None:
    assert _settings().pharmacy_directory is PharmacyDirectoryKind.SANDBOX


@pytest.mark.parametrize(
    "missing",
    [
        {"service_search_api_key": API_KEY},
        {"service_search_base_url": BASE_URL},
        {"service_search_base_url": "", "service_search_api_key": API_KEY},
    ],
)
def test_service_search_needs_its_address_and_key(missing: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="SERVICE_SEARCH_BASE_URL and SERVICE_SEARCH_API_KEY"):
        _settings(pharmacy_directory="service_search", **missing)


def test_service_search_is_https_except_on_loopback() -> None:
    with pytest.raises(ValidationError, match="must be https"):
        _settings(
            pharmacy_directory="service_search",
            service_search_base_url="http://directory.test/service-search-api",
            service_search_api_key=API_KEY,
        )
    local = _settings(
        pharmacy_directory="service_search",
        service_search_base_url="http://127.0.0.1:9001/service-search-api",
        service_search_api_key=API_KEY,
    )
    assert local.service_search_base_url == "http://127.0.0.1:9001/service-search-api"
