"""Size, time and concurrency limits, proven against a real server process.

Raw sockets where a client must misbehave (half-sent requests, lying lengths),
which an HTTP client library will not do.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request

from app.request_limits import (
    MAX_BODY_EXTENSION,
    InFlight,
    RequestLimits,
    client_address,
    larger_body_routes,
)
from tests.live_server import LiveServer, live_server, read_response

READ_TIMEOUT = 2
MAX_BODY = 4096
MAX_HEADERS = 8192
MAX_CONCURRENT = 4
MAX_PER_ADDRESS = 2
# Client addresses on loopback: the server tells them apart as it would two patients.
ONE_ADDRESS, ANOTHER_ADDRESS, A_THIRD_ADDRESS = "127.0.0.1", "127.0.0.2", "127.0.0.3"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {
        "REQUEST_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
        "MAX_BODY_BYTES": str(MAX_BODY),
        "MAX_HEADER_BYTES": str(MAX_HEADERS),
        "MAX_CONCURRENT_REQUESTS": str(MAX_CONCURRENT),
        "MAX_CONCURRENT_REQUESTS_PER_ADDRESS": str(MAX_PER_ADDRESS),
    }
    sign_in = {"patient": ("adult-full", "bearer")}
    with live_server(tmp_path_factory.mktemp("limits"), env=env, sign_in=sign_in) as running:
        yield running


def problem(raw: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    assert headers["content-type"] == "application/problem+json"
    return status, headers, json.loads(body)


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(server: LiveServer) -> None:
    # Only the headers are sent: 100 MB are announced, none follow.
    with server.connect() as sock:
        sock.sendall(
            b"POST /v1/auth/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 104857600\r\n\r\n{"
        )
        status, headers, body = problem(read_response(sock))
    assert status == 413
    assert body["code"] == "request_too_large"
    assert headers["connection"] == "close"
    assert body["request_id"]


def test_a_chunked_body_is_cut_off_when_it_passes_the_limit(server: LiveServer) -> None:
    with server.connect() as sock:
        sock.sendall(
            b"POST /v1/auth/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 1024
        for _ in range(MAX_BODY // len(chunk) + 1):
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        status, _, body = problem(read_response(sock))
    assert status == 413
    assert body["code"] == "request_too_large"


def test_a_body_within_the_limit_reaches_the_route(server: LiveServer) -> None:
    with server.client() as client:
        response = client.post("/v1/auth/session", json={"code": "x" * 100})
    # Parsed and validated by the route: a validation problem, not a limit.
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"


def test_headers_over_the_limit_are_a_431_problem(server: LiveServer) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (MAX_HEADERS * 2))
        sock.sendall(b"\r\n\r\n")
        status, headers, body = problem(read_response(sock))
    assert status == 431
    assert body["code"] == "request_headers_too_large"
    assert headers["x-request-id"] == body["request_id"]


def test_an_8_mb_header_is_never_accepted(server: LiveServer) -> None:
    answer = b""
    with server.connect() as sock:
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8 * 1024 * 1024)
            sock.sendall(b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused and closed while the header was still being sent
        answer = read_response(sock)
    # Either the 431 was read before the reset, or the connection was cut: never a 200.
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 ")
    with server.client() as client:
        assert client.get("/healthz").status_code == 200


def test_a_client_that_never_finishes_its_headers_is_timed_out(server: LiveServer) -> None:
    with server.connect(timeout=READ_TIMEOUT * 5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and nothing more
        status, _, body = problem(read_response(sock))
    assert status == 408
    assert body["code"] == "request_timeout"


def test_a_connection_that_sends_nothing_is_closed(server: LiveServer) -> None:
    with server.connect(timeout=READ_TIMEOUT * 5) as sock:
        status, _, _ = problem(read_response(sock))
    assert status == 408


def test_a_client_that_stops_sending_its_body_is_timed_out(server: LiveServer) -> None:
    with server.connect(timeout=READ_TIMEOUT * 5) as sock:
        sock.sendall(
            b"POST /v1/auth/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"code":'
        )
        status, headers, body = problem(read_response(sock))
    assert status == 408
    assert body["code"] == "request_timeout"
    assert headers["connection"] == "close"


def test_a_body_trickling_in_is_cut_off_at_the_deadline(server: LiveServer) -> None:
    # A byte every quarter of a second: the body never stalls for the read timeout, yet it
    # must have arrived within it. The drip goes on for four times as long before giving up.
    interval = 0.25
    answered = False
    with server.connect(timeout=READ_TIMEOUT * 5) as sock:
        sock.sendall(
            b"POST /v1/auth/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"code":"'
        )
        for _ in range(int(4 * READ_TIMEOUT / interval)):
            readable, _, _ = select.select([sock], [], [], interval)
            if readable:
                answered = True
                break
            sock.sendall(b"x")
        assert answered, "the server was still reading a body that kept trickling in"
        status, headers, body = problem(read_response(sock))
        assert sock.recv(1) == b""  # and the connection is closed
    assert status == 408
    assert body["code"] == "request_timeout"
    assert headers["connection"] == "close"


def _hold_a_request(server: LiveServer, source: str = ONE_ADDRESS) -> socket.socket:
    sock = server.connect(timeout=READ_TIMEOUT * 5, source=source)
    sock.sendall(
        b"POST /v1/auth/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{"
    )
    return sock


def _wait_until_busy(client: httpx.Client) -> httpx.Response:
    # The held requests are in the app once their headers are parsed.
    deadline = time.monotonic() + READ_TIMEOUT / 2
    response = client.get("/v1/auth/session")
    while response.status_code != 503 and time.monotonic() < deadline:
        response = client.get("/v1/auth/session")
    return response


def test_past_the_concurrency_limit_a_worker_answers_503_at_once(server: LiveServer) -> None:
    # Two addresses, each within its share, fill the worker between them.
    held = [
        _hold_a_request(server, source)
        for source in (ONE_ADDRESS, A_THIRD_ADDRESS)
        for _ in range(MAX_PER_ADDRESS)
    ]
    try:
        with server.client(source=ANOTHER_ADDRESS) as client:
            response = _wait_until_busy(client)
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == "server_busy"
            assert response.headers["retry-after"] == "1"
            # Liveness still answers: the worker is busy, not broken.
            assert client.get("/healthz").status_code == 200
    finally:
        for sock in held:
            read_response(sock)  # their 408, once the read timeout passes
            sock.close()
    with server.client() as client:
        assert client.get("/v1/auth/session").status_code == 401


def test_one_address_holds_no_more_than_its_share_of_the_worker(server: LiveServer) -> None:
    # Enough slow requests from one address to fill the whole worker.
    held = [_hold_a_request(server) for _ in range(MAX_CONCURRENT + 1)]
    answers = []
    try:
        with server.client(source=ONE_ADDRESS) as same_address:
            refused = _wait_until_busy(same_address)
        assert refused.status_code == 503
        assert refused.json()["code"] == "server_busy"
        assert refused.headers["retry-after"] == "1"
        # Everyone else is still served, readiness and signed-in requests alike.
        token = server.sessions["patient"].token
        auth = {"Authorization": f"Bearer {token}"}
        with server.client(source=ANOTHER_ADDRESS, headers=auth) as another:
            assert another.get("/readyz").status_code == 200
            assert another.get("/v1/me").status_code == 200
    finally:
        for sock in held:
            answers.append(read_response(sock))
            sock.close()
    # Its share was held until the read timeout; the rest were refused at once.
    assert sorted(problem(answer)[2]["code"] for answer in answers) == sorted(
        ["request_timeout"] * MAX_PER_ADDRESS
        + ["server_busy"] * (MAX_CONCURRENT + 1 - MAX_PER_ADDRESS)
    )


@pytest.mark.parametrize("path", ["/v1/auth/session", "/healthz"])
def test_ordinary_requests_are_untouched(server: LiveServer, path: str) -> None:
    with server.client() as client:
        response = client.get(path)
    assert response.status_code in (200, 401)
    assert response.headers["x-request-id"]


async def test_routes_can_declare_a_larger_body() -> None:
    router = APIRouter(prefix="/v1")

    @router.post("/upload", openapi_extra={MAX_BODY_EXTENSION: 4 * MAX_BODY})
    async def upload(request: Request) -> int:
        return len(await request.body())

    @router.post("/small")
    async def small(request: Request) -> int:
        return len(await request.body())

    app = FastAPI()
    app.include_router(router)  # declared on an included router, as every route is

    limited = RequestLimits(
        app,
        max_body_bytes=MAX_BODY,
        read_timeout=READ_TIMEOUT,
        max_concurrent=MAX_CONCURRENT,
        max_concurrent_per_address=MAX_PER_ADDRESS,
        larger_bodies=larger_body_routes(app.routes),
    )
    body = b"x" * (2 * MAX_BODY)
    transport = httpx.ASGITransport(app=limited)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.post("/v1/upload", content=body)).json() == len(body)
        refused = await client.post("/v1/small", content=body)
        assert refused.status_code == 413
        assert refused.json()["detail"].endswith(f"({MAX_BODY} bytes).")


@pytest.mark.parametrize(
    ("client", "address"),
    [
        (("192.0.2.7", 5000), "192.0.2.7"),
        # One subscriber's IPv6 block is one address: rotating within it adds no share.
        (("2001:db8:1:2:aaaa::1", 5000), "2001:db8:1:2::/64"),
        (("2001:db8:1:2:bbbb::9", 6000), "2001:db8:1:2::/64"),
        (("::ffff:192.0.2.7", 5000), "192.0.2.7"),
        # Not an address (a forwarded header's free text): all such are one client.
        (("proxy.internal", 0), "not-an-address"),
        (("' OR 1=1", 0), "not-an-address"),
        (None, None),  # a Unix socket without proxy headers: the worker's limit only
    ],
)
def test_the_address_a_share_is_counted_by(
    client: tuple[str, int] | None, address: str | None
) -> None:
    assert client_address({"type": "http", "client": client}) == address


def test_a_share_is_given_back_when_its_requests_end() -> None:
    in_flight = InFlight(max_total=3, max_per_address=2)
    assert in_flight.try_take("192.0.2.1")
    assert in_flight.try_take("192.0.2.1")
    assert not in_flight.try_take("192.0.2.1")  # its share is full
    assert in_flight.try_take("192.0.2.2")
    assert not in_flight.try_take("192.0.2.3")  # the worker is full
    assert not in_flight.try_take(None)
    for address in ("192.0.2.1", "192.0.2.1", "192.0.2.2"):
        in_flight.give_back(address)
    assert in_flight.total == 0
    assert not in_flight.by_address  # no address is remembered once it has nothing in flight
    assert in_flight.try_take("192.0.2.1")
