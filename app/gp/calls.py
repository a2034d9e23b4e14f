"""Counting calls to GP systems: a patient action should cost one.

Every attempt that reaches a GP system (retries included) is counted by the
resilience layer: in total on the registry (tests take the difference around a
request) and in the current request, which `GPCallsHeader` reports as
`X-GP-Calls` when `EXPOSE_GP_CALLS` is on (benchmarks read it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

GP_CALLS_HEADER = "X-GP-Calls"


@dataclass
class RequestCalls:
    count: int = 0


_current: ContextVar[RequestCalls | None] = ContextVar("gp_calls", default=None)


class GPCallCounter:
    """Calls made to GP systems by this process, and by the request being served."""

    def __init__(self) -> None:
        self.total = 0

    def add(self) -> None:
        self.total += 1
        current = _current.get()
        if current is not None:
            current.count += 1


@contextmanager
def counting_request() -> Iterator[RequestCalls]:
    """Count the GP calls made inside this block (and the tasks it starts)."""
    calls = RequestCalls()
    token = _current.set(calls)
    try:
        yield calls
    finally:
        _current.reset(token)


class GPCallsHeader:
    """Adds `X-GP-Calls`: how many GP system calls the request made (benchmarks, tests)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with counting_request() as calls:

            async def send_with_count(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers", []))
                    headers.append((GP_CALLS_HEADER.lower().encode(), str(calls.count).encode()))
                    message = {**message, "headers": headers}
                await send(message)

            await self.app(scope, receive, send_with_count)
