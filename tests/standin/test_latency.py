"""`--latency-ms`: each HTTP request waits first; nothing else does."""

from __future__ import annotations

from typing import Any

import pytest

from app.standin import latency
from app.standin.latency import AddedLatency, with_latency


async def _app(scope: Any, receive: Any, send: Any) -> None:
    scope["handled"] = True


async def test_an_http_request_waits_the_added_latency_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(latency.asyncio, "sleep", sleep)
    app = with_latency(_app, 200)
    http: dict[str, Any] = {"type": "http"}
    lifespan: dict[str, Any] = {"type": "lifespan"}
    await app(http, None, None)  # type: ignore[arg-type]
    await app(lifespan, None, None)  # type: ignore[arg-type]
    assert waits == [0.2]  # the HTTP request only
    assert http["handled"] and lifespan["handled"]


def test_no_latency_is_the_app_itself_and_a_negative_one_is_refused() -> None:
    assert with_latency(_app, 0) is _app
    with pytest.raises(ValueError, match="negative"):
        AddedLatency(_app, -1)
