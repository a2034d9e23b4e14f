"""The HTTP server's own guards: header size and the time a client may take to send headers.

Both must hold before a request reaches any app, so they live in the server's
protocol, a small subclass of uvicorn's httptools protocol that `python -m app`
selects. Headers larger than `MAX_HEADER_BYTES` (request line included) are
answered 431; a connection that has not finished sending its headers within
`REQUEST_READ_TIMEOUT_SECONDS` of connecting (or of starting its next request)
is answered 408 and closed, so half-sent requests cannot hold connections open.
Both answers are problem+json, written by the server as the app is never called.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from functools import cache
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app.config import Settings
from app.problems import REQUEST_ID_HEADER, problem_type

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


@cache
def _settings() -> Settings:
    # uvicorn builds one protocol object per connection, with no way to pass ours in
    # (worker processes are spawned from its config), so each process reads them once.
    return Settings()


class _HeadersRefused(Exception):
    """Raised in a parser callback; httptools turns it into a parser error."""


def _problem_bytes(status: int, code: str, title: str, detail: str) -> bytes:
    request_id = uuid.uuid4().hex
    body = json.dumps(
        {
            "type": problem_type(code),
            "title": title,
            "status": status,
            "detail": detail,
            "code": code,
            "request_id": request_id,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS[status].decode()}\r\n"
        "content-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\n"
        f"{REQUEST_ID_HEADER.lower()}: {request_id}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


HEADERS_TOO_LARGE = (
    431,
    "request_headers_too_large",
    "Request headers too large",
    "The request's headers are larger than this service accepts.",
)
HEADERS_TIMEOUT = (
    408,
    "request_timeout",
    "Request timeout",
    "The request was not received in time. Please try again.",
)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header size limit and a header read deadline."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        settings = _settings()
        self.max_header_bytes = settings.max_header_bytes
        self.header_timeout = settings.request_read_timeout_seconds
        self.header_bytes = 0
        self.refusal: tuple[int, str, str, str] | None = None
        self.header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.header_bytes = 0
        self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if self.refusal is None:
            super().send_400_response(msg)
            return
        self._refuse(self.refusal)

    def _count(self, size: int) -> None:
        self.header_bytes += size
        if self.header_bytes > self.max_header_bytes:
            self.refusal = HEADERS_TOO_LARGE
            raise _HeadersRefused

    def _arm_header_timer(self) -> None:
        if self.header_timer is None:
            self.header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _cancel_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _headers_late(self) -> None:
        self.header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # an answer is being written: do not interleave another
            return
        self._refuse(HEADERS_TIMEOUT)

    def _refuse(self, problem: tuple[int, str, str, str]) -> None:
        self._cancel_header_timer()
        self.logger.info("refused a request: %s", problem[1])
        self.transport.write(_problem_bytes(*problem))
        self.transport.close()
