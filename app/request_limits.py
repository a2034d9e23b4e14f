"""Limits every request meets before the app parses it: body size, body read time, concurrency.

A body is refused from its `Content-Length` before a byte of it is read (413), or
as soon as a chunked body passes the limit. The limit is small by default and
larger only on routes that declare `x-max-body-bytes` in their `openapi_extra`
(see `larger_body_routes`). The whole body must arrive within the read timeout of
the request reaching the app, however it trickles in: past it, 408 and the
connection closed, so a client sending a byte every few seconds cannot hold a
request open. Each worker serves at most a configured number of requests at once,
and at most a small share of them for one client address; past either, 503 with
`Retry-After`, at once, rather than a queue that grows until the worker runs out
of memory, or one client holding every slot.

Header size and the time to send headers are guarded by the HTTP server itself
(`app.serving`), as they must be checked before a request reaches any app.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import anyio
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.problems import ProblemParts

# The OpenAPI extension a route uses to accept larger bodies than the default.
MAX_BODY_EXTENSION = "x-max-body-bytes"

# Liveness must answer even when the worker is saturated, or the orchestrator
# restarts a worker that is only busy.
UNLIMITED_PATHS = frozenset({"/healthz"})
CONCURRENCY_RETRY_AFTER = 1


@dataclass(frozen=True, slots=True)
class LargerBody:
    """A route allowed a larger body than the default."""

    methods: frozenset[str]
    path: re.Pattern[str]
    max_bytes: int


def larger_body_routes(routes: Sequence[BaseRoute]) -> list[LargerBody]:
    """The routes (those of included routers too) whose `openapi_extra` raise the body limit."""
    larger = []
    for route in iter_route_contexts(routes):
        extra = getattr(route, "openapi_extra", None) or {}
        if route.path and MAX_BODY_EXTENSION in extra:
            path_regex, _, _ = compile_path(route.path)
            methods = frozenset(route.methods or ())
            larger.append(LargerBody(methods, path_regex, int(extra[MAX_BODY_EXTENSION])))
    return larger


def request_too_large(max_bytes: int) -> ProblemParts:
    return ProblemParts(
        413,
        "request_too_large",
        "Request too large",
        f"The request body is larger than this address accepts ({max_bytes} bytes).",
        {"Connection": "close"},
    )


def request_timeout() -> ProblemParts:
    return ProblemParts(
        408,
        "request_timeout",
        "Request timeout",
        "The request was not received in time. Please try again.",
        {"Connection": "close"},
    )


def too_busy() -> ProblemParts:
    return ProblemParts(
        503,
        "server_busy",
        "Server busy",
        "We are handling a lot of requests at the moment. Please try again in a moment.",
        # Closed, or a client refused mid-body could keep its connection by trickling on.
        {"Retry-After": str(CONCURRENCY_RETRY_AFTER), "Connection": "close"},
        {"retry_after": CONCURRENCY_RETRY_AFTER},
    )


async def send_problem(send: Send, problem: ProblemParts) -> None:
    """A problem+json response, written straight to the ASGI server."""
    body = json.dumps(problem.body()).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in problem.headers.items()),
    ]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


NOT_AN_ADDRESS = "not-an-address"


def client_address(scope: Scope) -> str | None:
    """Whose share of the worker a request takes: the client's address, as uvicorn resolved it.

    Behind a proxy this is the address from `X-Forwarded-For`, trusted only from
    `FORWARDED_ALLOW_IPS`. An IPv6 client is its /64, the block one subscriber is
    given, so that rotating addresses within it does not add shares. Whatever is not an
    address (a forwarded header holding any other text) counts as one and the same
    client, so that inventing names adds no shares either. None when the server knows
    no address (a Unix socket with no proxy headers).
    """
    client = scope.get("client")
    if not client:
        return None
    host: str = client[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return NOT_AN_ADDRESS
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address), 64), strict=False))
    return str(address)


class InFlight:
    """The requests a worker is serving, in all and by client address."""

    def __init__(self, *, max_total: int, max_per_address: int) -> None:
        self.max_total = max_total
        self.max_per_address = max_per_address
        self.total = 0
        self.by_address: Counter[str] = Counter()

    def try_take(self, address: str | None) -> bool:
        """Take a slot for a request from `address`, unless the worker or its share is full."""
        if self.total >= self.max_total:
            return False
        if address is not None and self.by_address[address] >= self.max_per_address:
            return False
        self.total += 1
        if address is not None:
            self.by_address[address] += 1
        return True

    def give_back(self, address: str | None) -> None:
        self.total -= 1
        if address is not None:
            self.by_address[address] -= 1
            if not self.by_address[address]:
                del self.by_address[address]  # holds only addresses with requests in flight


class RequestLimits:
    """The ASGI middleware: concurrency, body size and body read time, per worker."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        read_timeout: float,
        max_concurrent: int,
        max_concurrent_per_address: int,
        larger_bodies: Sequence[LargerBody] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.read_timeout = read_timeout
        self.in_flight = InFlight(
            max_total=max_concurrent, max_per_address=max_concurrent_per_address
        )
        self.larger_bodies = tuple(larger_bodies)

    def body_limit(self, method: str, path: str) -> int:
        for route in self.larger_bodies:
            if method in route.methods and route.path.match(path):
                return route.max_bytes
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        if not self.in_flight.try_take(address):
            await send_problem(send, too_busy())
            return
        try:
            await self._limited(scope, receive, send)
        finally:
            self.in_flight.give_back(address)

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.body_limit(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await send_problem(send, request_too_large(limit))
            return

        # One deadline for the whole body, counted from now: a chunk arriving does not
        # extend it, or a byte every few seconds would hold the request open for ever.
        body_deadline = anyio.current_time() + self.read_timeout
        received = 0
        body_done = False
        response_started = False
        refused = False

        async def refuse(problem: ProblemParts) -> Message:
            # Answer now, then tell the app the client has gone: it stops reading.
            nonlocal refused
            refused = True
            if not response_started:
                await send_problem(send, problem)
            return {"type": "http.disconnect"}

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if refused:
                return {"type": "http.disconnect"}
            if body_done:
                # Waiting for the client to go away (streaming responses): no deadline.
                return await receive()
            with anyio.CancelScope(deadline=body_deadline) as timer:
                message = await receive()
            if timer.cancelled_caught:
                return await refuse(request_timeout())
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    return await refuse(request_too_large(limit))
                body_done = not message.get("more_body", False)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if refused:
                return  # the refusal has been sent; the app's own answer is dropped
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
