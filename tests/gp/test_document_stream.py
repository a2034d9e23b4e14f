"""A document's chunks pass through the resilience layer with a deadline on each, and are
never retried part way: a chunk already passed on cannot be taken back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import pytest

from app.gp.errors import GPSystemUnavailable
from app.gp.resilience import BreakerBoard, ResilientGPSystem
from app.gp.types import DocumentContent


@dataclass
class Stalling:
    """A GP system that sends the first chunk of a document, then never the next."""

    ods_code: str = "Z99999"
    opened: int = 0
    closed: bool = False
    stalled: asyncio.Event = field(default_factory=asyncio.Event)

    async def get_document_content(self, patient_ref: str, document_id: str) -> DocumentContent:
        self.opened += 1
        return DocumentContent("application/pdf", self._chunks(), size_bytes=None)

    async def _chunks(self) -> AsyncGenerator[bytes, None]:
        try:
            yield b"%PDF-1.4"
            self.stalled.set()
            await asyncio.Event().wait()  # never set: only the deadline ends this
            yield b"never sent"
        finally:
            self.closed = True


def wrap(inner: Any) -> ResilientGPSystem:
    return ResilientGPSystem(
        inner,
        breakers=BreakerBoard(default_threshold=100, default_cooldown=30),
        timeout=0.05,
        read_attempts=3,
        retry_wait=0.0,
    )


async def test_a_document_that_stalls_part_way_ends_as_unavailable_and_is_not_retried() -> None:
    inner = Stalling()
    content = await wrap(inner).get_document_content("p1", "d1")
    received = []
    with pytest.raises(GPSystemUnavailable):
        async for chunk in content.chunks:
            received.append(chunk)
    assert received == [b"%PDF-1.4"]
    assert inner.stalled.is_set()
    assert inner.opened == 1  # not opened again to try the rest
    assert inner.closed


async def test_a_reader_that_stops_early_closes_the_gp_systems_stream() -> None:
    inner = Stalling()
    content = await wrap(inner).get_document_content("p1", "d1")
    assert await anext(content.chunks) == b"%PDF-1.4"
    await content.chunks.aclose()
    assert inner.closed
