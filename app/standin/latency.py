"""`--latency-ms`: the stand-in answers every HTTP request this much later.

A GP system behind the NHS API platform takes time to answer; the sandbox's
`faults.latency_ms` gives the in-process GP systems the same delay, and this gives it
to the stand-in, so that a benchmark can compare the two. The wait comes before the
request is handled (the token exchange included), as a network and a busy GP system
would add it; lifespan and other non-HTTP events pass straight through.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send


class AddedLatency:
    """ASGI middleware: wait `milliseconds` before handling each HTTP request."""

    def __init__(self, app: ASGIApp, milliseconds: int) -> None:
        if milliseconds < 0:
            raise ValueError("latency cannot be negative")
        self.app = app
        self.seconds = milliseconds / 1000

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.seconds:
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)


def with_latency(app: ASGIApp, milliseconds: int) -> ASGIApp:
    """`app` itself when there is no latency to add."""
    return AddedLatency(app, milliseconds) if milliseconds else app
