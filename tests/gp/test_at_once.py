"""GP calls made at once fail as one GP error, the one that tells the patient most."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from app.gp.at_once import both
from app.gp.errors import GPSystemUnavailable, NotFoundInGPSystem, SignInAgain


async def answer(value: str) -> str:
    await asyncio.sleep(0)
    return value


async def fail(error: Exception) -> str:
    raise error


async def test_both_results_in_order() -> None:
    assert await both(answer("courses"), answer("requests")) == ("courses", "requests")


async def test_two_outages_are_one_with_the_longest_wait() -> None:
    with pytest.raises(GPSystemUnavailable) as raised:
        await both(
            fail(GPSystemUnavailable(retry_after=5)), fail(GPSystemUnavailable(retry_after=30))
        )
    assert raised.value.retry_after == 30


@pytest.mark.parametrize("outage_first", [True, False])
async def test_a_refusal_tells_more_than_an_outage(outage_first: bool) -> None:
    calls = [fail(GPSystemUnavailable()), fail(SignInAgain())]
    first, second = calls if outage_first else calls[::-1]
    with pytest.raises(SignInAgain):
        await both(first, second)


async def test_one_failure_alone_is_itself() -> None:
    with pytest.raises(NotFoundInGPSystem):
        await both(answer("courses"), fail(NotFoundInGPSystem()))


async def test_anything_but_gp_errors_stays_a_group() -> None:
    """A bug is not dressed up as a GP system's answer: it stays visible, as a 500."""
    with pytest.raises(ExceptionGroup) as raised:
        await both(fail(GPSystemUnavailable()), fail(RuntimeError("a bug")))
    assert raised.group_contains(RuntimeError)


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    """Two routes reading at once with a bare `TaskGroup`, as a route written without
    `both` would."""

    async def at_once(*errors: Exception) -> None:
        async with asyncio.TaskGroup() as group:
            for error in errors:
                group.create_task(fail(error))

    @app.get("/_test/outage-at-once")
    async def outage_at_once() -> None:
        await at_once(GPSystemUnavailable(retry_after=5), GPSystemUnavailable(retry_after=20))

    @app.get("/_test/bug-at-once")
    async def bug_at_once() -> None:
        await at_once(GPSystemUnavailable(), RuntimeError("secret internals"))

    return app


async def test_a_concurrent_read_without_both_still_answers_503_not_500(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/_test/outage-at-once")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "gp_system_unavailable"
    assert response.headers["retry-after"] == "20"

    bug = await client.get("/_test/bug-at-once")
    assert (bug.status_code, bug.json()["code"]) == (500, "internal_error")
    assert "secret" not in bug.text
