"""The drip attack: slow bodies from one address against a worker with the default limits.

More connections than the worker serves at once, each sending its body a byte at a
time and reconnecting when it is cut off, as an attacker would. Each held request
must end at the read deadline however the bytes trickle in, the address must hold
no more than its share of the worker, and another client must be served throughout,
readiness included, with no sign-in needed for the attack.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from app.config import Settings
from tests.live_server import LiveServer, live_server

READ_TIMEOUT = 2  # the body deadline, short for the test
# The concurrency limits keep their defaults, whatever the environment says.
MAX_CONCURRENT = Settings.model_fields["max_concurrent_requests"].default
MAX_PER_ADDRESS = Settings.model_fields["max_concurrent_requests_per_address"].default
DRIP_INTERVAL = 0.5
ATTACK_ROUNDS = 3  # the attack lasts this many body deadlines
ATTACKER, PATIENT = "127.0.0.1", "127.0.0.2"
DRIP_REQUEST = (
    b"POST /v1/auth/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b'Content-Length: 1000\r\n\r\n{"code":"'
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {
        "REQUEST_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
        "MAX_CONCURRENT_REQUESTS": str(MAX_CONCURRENT),
        "MAX_CONCURRENT_REQUESTS_PER_ADDRESS": str(MAX_PER_ADDRESS),
    }
    sign_in = {"patient": ("adult-full", "bearer")}
    with live_server(tmp_path_factory.mktemp("drip"), env=env, sign_in=sign_in) as running:
        yield running


# Raw sockets, not asyncio streams: a byte sent as the server answers and closes makes it
# reset the connection, and a stream reader then raises before handing over the answer
# already received, where `recv` returns it first.


async def _read_until_closed(sock: socket.socket, first: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    chunks = [first]
    try:
        while chunk := await asyncio.wait_for(loop.sock_recv(sock, 65536), READ_TIMEOUT * 5):
            chunks.append(chunk)
    except ConnectionResetError:
        pass  # the answer is in; the reset is for the bytes dripped after it
    return b"".join(chunks)


async def _drip_until_answered(sock: socket.socket, stop: asyncio.Event) -> bytes | None:
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(sock, DRIP_REQUEST)
    while not stop.is_set():
        try:
            first = await asyncio.wait_for(loop.sock_recv(sock, 65536), DRIP_INTERVAL)
        except TimeoutError:
            # Still sending: the body never stalls. If it was answered and closed meanwhile,
            # the answer is read next.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await loop.sock_sendall(sock, b"x")
            continue
        return await _read_until_closed(sock, first)
    return None


async def _drip(server: LiveServer, stop: asyncio.Event, answers: list[bytes]) -> None:
    """One attacker's connection: a byte every interval until answered, then again."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        with socket.socket() as sock:
            sock.setblocking(False)
            sock.bind((ATTACKER, 0))
            await loop.sock_connect(sock, (server.host, server.port))
            answer = await _drip_until_answered(sock, stop)
        if answer is not None:
            answers.append(answer)
        await asyncio.sleep(DRIP_INTERVAL)  # a drip, not a flood


async def _patient(server: LiveServer, stop: asyncio.Event, seen: list[tuple[str, int]]) -> None:
    """Another client, from another address, using the service while the attack lasts."""
    token = server.sessions["patient"].token
    async with httpx.AsyncClient(
        base_url=server.base_url,
        transport=httpx.AsyncHTTPTransport(local_address=PATIENT),
        headers={"Authorization": f"Bearer {token}"},
        timeout=READ_TIMEOUT * 5,
    ) as client:
        while not stop.is_set():
            for path in ("/readyz", "/healthz", "/v1/me"):
                seen.append((path, (await client.get(path)).status_code))
            await asyncio.sleep(DRIP_INTERVAL / 5)


def _status_and_code(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["code"]


async def test_slow_bodies_from_one_address_take_no_one_else_down(server: LiveServer) -> None:
    connections = MAX_CONCURRENT + 20  # more than the worker serves at once
    stop = asyncio.Event()
    answers: list[bytes] = []
    seen: list[tuple[str, int]] = []
    attack = [asyncio.create_task(_drip(server, stop, answers)) for _ in range(connections)]
    await asyncio.sleep(DRIP_INTERVAL)  # the attack is under way before the patient arrives
    patient = asyncio.create_task(_patient(server, stop, seen))
    await asyncio.sleep(READ_TIMEOUT * ATTACK_ROUNDS)
    stop.set()
    await asyncio.gather(*attack, patient)

    assert seen
    assert {status for _, status in seen} == {200}, seen
    outcomes = [_status_and_code(answer) for answer in answers]
    # Every dripping request ended: cut at the deadline while it was still sending, or
    # refused at once as its address already held its share; never anything else.
    assert set(outcomes) == {(408, "request_timeout"), (503, "server_busy")}

    # Once the attack stops, the attacker's address is served again, as soon as the server
    # has seen its connections close (at the latest, at the deadline).
    async with httpx.AsyncClient(
        base_url=server.base_url, transport=httpx.AsyncHTTPTransport(local_address=ATTACKER)
    ) as client:
        for _ in range(int(READ_TIMEOUT / 0.1)):
            response = await client.get("/readyz")
            if response.status_code != 503:
                break
            await asyncio.sleep(0.1)
        assert response.status_code == 200
