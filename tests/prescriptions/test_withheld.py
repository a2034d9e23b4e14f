"""A medicine the practice hid from the online record is named nowhere online.

Every seeded adult has Acamprosate as a repeat course the practice hid (C7), in one
past request beside Amlodipine (R5) and in one pending request of its own (R6). The
API names courses and requests by shown ids (app.patients.ids), so neither the GP
system's id of the hidden course nor the id it would be shown by appears anywhere.
"""

from __future__ import annotations

import httpx

from tests.prescriptions.conftest import EMIS, MakeOrderer, Orderer

HIDDEN = "Acamprosate"


def hidden_course(patient: Orderer) -> str:
    """The id the hidden course would be shown by, were it shown."""
    return patient.shown_course(patient.gp_course(7))


def hidden_ids(patient: Orderer) -> tuple[str, str]:
    """Every id of the hidden course: the GP system's and the one it would be shown by."""
    return patient.gp_course(7), hidden_course(patient)


async def everything_shown(patient: Orderer) -> str:
    courses = await patient.get("/prescriptions/courses")
    requests = await patient.get("/prescriptions/requests", limit=100)
    assert courses.status_code == requests.status_code == 200
    return courses.text + requests.text


async def test_a_hidden_medicine_is_not_listed_or_named_in_requests(
    orderer: MakeOrderer, ods_code: str
) -> None:
    patient = await orderer("adult-full", ods_code)

    shown = await everything_shown(patient)

    assert HIDDEN not in shown and not [i for i in hidden_ids(patient) if i in shown]
    assert "Two tablets three times a day" not in shown
    requests = await patient.requests()
    # The request that held it beside Amlodipine shows Amlodipine alone; the one made of it
    # alone is not listed. No item is left unnamed.
    assert all(item["name"] for r in requests for item in r["items"])
    assert [r["request_id"] for r in requests if r["status"] == "issued"] == [
        patient.shown_request(patient.gp_request(4)),
        patient.shown_request(patient.gp_request(5)),
    ]
    assert patient.shown_request(patient.gp_request(6)) not in shown
    mixed = next(
        r for r in requests if r["request_id"] == patient.shown_request(patient.gp_request(5))
    )
    assert [i["name"].split()[0] for i in mixed["items"]] == ["Amlodipine"]


async def test_a_request_of_only_a_hidden_medicine_is_not_found(orderer: MakeOrderer) -> None:
    patient = await orderer("adult-full", EMIS)
    request_id = patient.shown_request(patient.gp_request(6))

    found = await patient.get(f"/prescriptions/requests/{request_id}")
    cancelled = await patient.cancel(request_id)
    unknown = await patient.cancel(patient.shown_request(patient.gp_request(99)))

    assert (found.status_code, found.json()["code"]) == (404, "not_found")

    def answer(response: httpx.Response) -> tuple[int, dict[str, object]]:
        body = response.json()
        body.pop("request_id")  # this HTTP request's own trace id
        return response.status_code, body

    assert answer(cancelled) == answer(unknown)
    assert HIDDEN not in found.text + cancelled.text


async def test_one_request_names_only_the_medicines_that_may_be_shown(
    orderer: MakeOrderer,
) -> None:
    patient = await orderer("adult-full", EMIS)
    request_id = patient.shown_request(patient.gp_request(5))
    response = await patient.get(f"/prescriptions/requests/{request_id}")
    assert response.status_code == 200
    assert response.json()["request_id"] == request_id
    assert [i["name"].split()[0] for i in response.json()["items"]] == ["Amlodipine"]
    assert HIDDEN not in response.text
    assert not [i for i in hidden_ids(patient) if i in response.text]


async def test_a_hidden_medicine_cannot_be_ordered_and_is_refused_as_unknown(
    orderer: MakeOrderer, ods_code: str
) -> None:
    patient = await orderer("adult-full", ods_code)
    amlodipine = (await patient.courses())["Amlodipine"]["course_id"]
    hidden = hidden_course(patient)
    made_up = patient.shown_course(patient.gp_course(99))
    before = await patient.requests()

    alone = await patient.order([hidden])
    mixed = await patient.order([amlodipine, hidden])
    unknown = await patient.order([amlodipine, made_up])

    for response, course_ids in ((alone, [hidden]), (mixed, [hidden]), (unknown, [made_up])):
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "unknown_course"
        assert response.json()["course_ids"] == course_ids
    # The same answer as for a medicine that does not exist, word for word.
    assert alone.json()["detail"] == unknown.json()["detail"]
    assert await patient.requests() == before


async def test_a_proxy_never_sees_or_orders_the_patients_hidden_medicine(
    orderer: MakeOrderer,
) -> None:
    relative = await orderer("relative-proxy", acts_for="proxied-adult")
    assert relative.patient_ref != relative.user.persona.patient_ref
    hidden = hidden_course(relative)

    shown = await everything_shown(relative)
    found = await relative.get(
        f"/prescriptions/requests/{relative.shown_request(relative.gp_request(6))}"
    )
    mixed = await relative.get(
        f"/prescriptions/requests/{relative.shown_request(relative.gp_request(5))}"
    )
    ordered = await relative.order([hidden])

    assert HIDDEN not in shown and not [i for i in hidden_ids(relative) if i in shown]
    assert (found.status_code, found.json()["code"]) == (404, "not_found")
    assert mixed.status_code == 200, mixed.text
    assert [i["name"].split()[0] for i in mixed.json()["items"]] == ["Amlodipine"]
    assert (ordered.status_code, ordered.json()["code"]) == (422, "unknown_course")
