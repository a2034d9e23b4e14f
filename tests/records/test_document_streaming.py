"""Documents pass through a chunk at a time, so no download holds more than a bounded
part of one, whatever size the GP system declares; and what is sent is what the API
document says is sent.

A misbehaving GP system is played by `Source`, put in place of the sandbox supplier's
document methods: it declares a size (none, or a false one) and sends without end,
counting what is read of it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from schemathesis import checks

from app.adapters.sandbox.seed import SeedRows
from app.adapters.sandbox.supplier import SimulatedSupplier
from app.adapters.sandbox.supplier import record as supplier
from app.audit.types import AuditAction
from app.gp.errors import GPSystemUnavailable
from app.gp.types import Document, DocumentContent
from app.records import service
from tests.audit.test_audited_actions import audit_rows
from tests.conftest import SignIn
from tests.records.conftest import Viewer, gp_document_id
from tests.records.test_record_api import own_record

CHUNK = 1000
LIMIT = 5 * CHUNK
DOCUMENT = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
# What the fuzz run checks of each answer (tests/api/test_fuzz.py), without the checks that
# send requests of their own.
CONFORMANCE = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@dataclass
class Source:
    """A document the GP system sends without end, failing after `fail_after` bytes if set."""

    content_type: str = "text/plain"
    fail_after: int | None = None
    pulled: int = 0
    closed: bool = False

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        try:
            while True:
                if self.fail_after is not None and self.pulled >= self.fail_after:
                    raise GPSystemUnavailable()
                self.pulled += CHUNK
                yield b"x" * CHUNK
        finally:
            self.closed = True


def serve(monkeypatch: pytest.MonkeyPatch, source: Source, *, declared: int | None) -> None:
    """Every document comes from `source`, declared (in the list and with the content) as
    `declared` bytes."""
    listed = SimulatedSupplier.list_documents

    async def declaring(self: SimulatedSupplier, patient_ref: str) -> list[Document]:
        return [
            replace(d, size_bytes=declared, content_type=source.content_type)
            for d in await listed(self, patient_ref)
        ]

    async def content(
        self: SimulatedSupplier, patient_ref: str, document_id: str
    ) -> DocumentContent:
        return DocumentContent(source.content_type, source.chunks(), size_bytes=declared)

    monkeypatch.setattr(SimulatedSupplier, "list_documents", declaring)
    monkeypatch.setattr(SimulatedSupplier, "get_document_content", content)


async def opened(app: FastAPI) -> list[str]:
    return [row.target or "" for row in await audit_rows(app, AuditAction.DOCUMENT_OPENED)]


# --- what arrives ------------------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["read-whole", "streamed"])
async def test_a_document_arrives_byte_exact_read_whole_or_streamed(
    client: httpx.AsyncClient,
    sign_in: SignIn,
    sandbox_seed_rows: SeedRows,
    monkeypatch: pytest.MonkeyPatch,
    streamed: bool,
) -> None:
    # Small pieces from the GP system, so each document takes several reads.
    monkeypatch.setattr(supplier, "DOCUMENT_CHUNK_BYTES", 7)
    if streamed:
        monkeypatch.setattr(service, "WHOLE_DOCUMENT_BYTES", 16)
    viewer = await own_record(client, sign_in, "historic-access")
    stored = {row["document_id"]: row["data"] for row in sandbox_seed_rows["sandbox_documents"]}
    for number in (1, 2):
        response = await viewer.get(f"/documents/{viewer.document_id(number)}/content")
        assert response.status_code == 200
        expected = stored[gp_document_id(viewer.patient_ref, number)]
        assert len(expected) > 16
        assert response.content == expected
        # The length goes out when the whole document was in hand before sending.
        length = response.headers.get("content-length")
        assert length == (None if streamed else str(len(expected)))


# --- refused before anything is sent ----------------------------------------------------------


@pytest.mark.parametrize("declared", [None, 10], ids=["undeclared", "declared-falsely"])
async def test_over_the_limit_it_is_refused_having_read_little_more_than_the_limit(
    app: FastAPI,
    client: httpx.AsyncClient,
    sign_in: SignIn,
    monkeypatch: pytest.MonkeyPatch,
    declared: int | None,
) -> None:
    monkeypatch.setattr(service, "MAX_DOCUMENT_BYTES", LIMIT)
    source = Source()
    serve(monkeypatch, source, declared=declared)
    viewer = await own_record(client, sign_in, "adult-full", ods_code="A81001")
    response = await viewer.get(f"/documents/{viewer.document_id(1)}/content")
    assert (response.status_code, response.json()["code"]) == (422, "document_too_large")
    assert source.pulled <= LIMIT + CHUNK
    assert source.closed
    assert await opened(app) == []  # nothing was sent, so nothing was opened


async def test_a_gp_failure_before_anything_is_sent_is_a_503_and_not_audited(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Source(fail_after=2 * CHUNK)
    serve(monkeypatch, source, declared=None)
    viewer = await own_record(client, sign_in, "adult-full", ods_code="A81001")
    response = await viewer.get(f"/documents/{viewer.document_id(1)}/content")
    assert (response.status_code, response.json()["code"]) == (503, "gp_system_unavailable")
    assert "retry-after" in response.headers
    assert source.closed
    assert await opened(app) == []


# --- cut off once sending has begun -----------------------------------------------------------


@pytest.fixture
async def wire(app: FastAPI, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """The app (started by `client`) behind a real HTTP server on loopback, so that a
    response cut off part way reaches the client as it would in production."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="critical")
    )
    serving = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not server.started:
        assert not serving.done() and time.monotonic() < deadline, "the server did not start"
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield http
    finally:
        server.should_exit = True
        await serving


@pytest.mark.parametrize(
    "source",
    [Source(), Source(fail_after=3 * CHUNK)],
    ids=["grows-past-the-limit", "gp-system-fails-part-way"],
)
async def test_once_sending_has_begun_a_bad_document_is_cut_off_never_ended_as_if_whole(
    app: FastAPI,
    client: httpx.AsyncClient,
    wire: httpx.AsyncClient,
    sign_in: SignIn,
    monkeypatch: pytest.MonkeyPatch,
    source: Source,
) -> None:
    monkeypatch.setattr(service, "MAX_DOCUMENT_BYTES", LIMIT)
    monkeypatch.setattr(service, "WHOLE_DOCUMENT_BYTES", 2 * CHUNK)
    source = replace(source)  # a fresh count for each run
    serve(monkeypatch, source, declared=None)
    viewer = await own_record(client, sign_in, "adult-full", ods_code="A81001")
    received = bytearray()
    path = f"{viewer.base}/documents/{viewer.document_id(1)}/content"
    async with wire.stream("GET", path, headers=viewer.user.headers) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers
        with pytest.raises(httpx.RemoteProtocolError):
            async for piece in response.aiter_bytes():
                received += piece
    assert 0 < len(received) <= LIMIT
    assert source.pulled <= LIMIT + CHUNK
    assert source.closed
    # Audited as opened (part of it was sent); nothing records it as read in full.
    assert await opened(app) == [viewer.document_id(1)]


# --- the type sent is one the API document declares ---------------------------------------------


def _operation() -> schemathesis.APIOperation:
    return schemathesis.openapi.from_path(DOCUMENT).find_operation_by_id("get_document_content")


def _declared_types() -> set[str]:
    return set(_operation().definition.raw["responses"]["200"]["content"])


async def _validated(viewer: Viewer, document_id: str) -> httpx.Response:
    """The download, checked by schemathesis against the committed API document."""
    response = await viewer.get(f"/documents/{document_id}/content")
    case = _operation().Case(
        path_parameters={"patient_id": viewer.patient_id, "document_id": document_id}
    )
    case.validate_response(response, checks=CONFORMANCE, headers=viewer.user.headers)
    return response


async def test_each_seeded_document_is_sent_as_a_type_the_api_document_declares(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await own_record(client, sign_in, "historic-access")
    listed = {
        d["document_id"]: d["content_type"] for d in (await viewer.section("documents"))["items"]
    }
    assert set(listed.values()) == {"text/plain", "application/pdf"}
    for document_id, content_type in listed.items():
        response = await _validated(viewer, document_id)
        # Its own type, as the list gives it, and no charset the GP system never gave.
        assert response.headers["content-type"] == content_type
        assert content_type in _declared_types()


@pytest.mark.parametrize("content_type", ["text/html", "image/svg+xml"])
async def test_a_type_that_could_run_script_is_sent_as_bytes_to_save(
    client: httpx.AsyncClient,
    sign_in: SignIn,
    monkeypatch: pytest.MonkeyPatch,
    content_type: str,
) -> None:
    listed = SimulatedSupplier.list_documents
    read = SimulatedSupplier.get_document_content

    async def typed(self: SimulatedSupplier, patient_ref: str) -> list[Document]:
        return [replace(d, content_type=content_type) for d in await listed(self, patient_ref)]

    async def content(
        self: SimulatedSupplier, patient_ref: str, document_id: str
    ) -> DocumentContent:
        return replace(await read(self, patient_ref, document_id), content_type=content_type)

    monkeypatch.setattr(SimulatedSupplier, "list_documents", typed)
    monkeypatch.setattr(SimulatedSupplier, "get_document_content", content)
    viewer = await own_record(client, sign_in, "adult-full", ods_code="A81001")
    response = await _validated(viewer, viewer.document_id(1))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == (
        'attachment; filename="Hospital discharge summary"'
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"].split("; ")
