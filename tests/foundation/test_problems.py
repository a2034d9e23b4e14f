"""Every error is RFC 9457 problem+json with a stable code and the request id."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pydantic import Field

from app.schemas import RequestBody


class _Body(RequestBody):
    name: str = Field(max_length=10)
    count: int


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    @app.post("/_test/echo")
    async def echo(body: _Body) -> _Body:
        return body

    @app.get("/_test/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: /srv/app/db.py password=hunter2")

    return app


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    for member in ("type", "title", "detail", "request_id"):
        assert body[member], member
    assert body["request_id"] == response.headers["x-request-id"]
    return dict(body)


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/nowhere"), 404, "not_found")


async def test_wrong_method_is_a_405_problem_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/healthz")
    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]


async def test_unexpected_error_is_a_500_problem_without_internals(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/_test/boom")
    assert_problem(response, 500, "internal_error")
    text = response.text
    for leak in ("secret", "hunter2", "Traceback", "RuntimeError", "db.py"):
        assert leak not in text


async def test_validation_lists_each_bad_field_without_echoing_input(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/_test/echo", json={"name": "x" * 11, "count": "many"})
    body = assert_problem(response, 422, "validation_failed")
    fields = {error["field"] for error in body["errors"]}  # type: ignore[attr-defined]
    assert fields == {"body.name", "body.count"}
    assert "xxxxxxxxxxx" not in response.text


async def test_unknown_body_fields_are_rejected(client: httpx.AsyncClient) -> None:
    response = await client.post("/_test/echo", json={"name": "a", "count": 1, "admin": True})
    body = assert_problem(response, 422, "validation_failed")
    assert [error["field"] for error in body["errors"]] == ["body.admin"]  # type: ignore[attr-defined]


async def test_valid_body_passes(client: httpx.AsyncClient) -> None:
    response = await client.post("/_test/echo", json={"name": "a", "count": 1})
    assert response.status_code == 200
    assert response.json() == {"name": "a", "count": 1}


async def test_request_id_is_echoed_when_valid(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nowhere", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert response.json()["request_id"] == "abc-123"


@pytest.mark.parametrize("bad", ["x" * 129, "has space", "<script>", "a\u00e9"])
async def test_invalid_request_id_is_replaced(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": bad.encode()})
    generated = response.headers["x-request-id"]
    assert generated != bad
    assert len(generated) == 32


async def test_request_id_is_generated_when_absent(client: httpx.AsyncClient) -> None:
    first = (await client.get("/healthz")).headers["x-request-id"]
    second = (await client.get("/healthz")).headers["x-request-id"]
    assert first != second


async def test_personal_responses_are_not_stored_by_caches(client: httpx.AsyncClient) -> None:
    for path in ("/v1/me", "/v1/nowhere"):
        response = await client.get(path)
        assert response.headers["cache-control"] == "no-store", path
        assert response.headers["x-content-type-options"] == "nosniff"
    health = await client.get("/healthz")
    assert "cache-control" not in health.headers
    assert health.headers["x-content-type-options"] == "nosniff"


async def test_405_allows_every_method_of_the_path_whatever_route_serves_it(
    client: httpx.AsyncClient,
) -> None:
    # GET and POST /v1/auth/session are two routes; the answer names both.
    response = await client.put("/v1/auth/session")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET, POST"
