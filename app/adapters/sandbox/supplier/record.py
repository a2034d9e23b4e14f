"""The record: who may see what, its entries by section, and documents read in slices."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from sqlalchemy import LargeBinary, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.adapters.sandbox import tables
from app.adapters.sandbox.profiles import Refusal
from app.adapters.sandbox.supplier.base import SupplierBase
from app.gp.types import (
    Document,
    DocumentContent,
    RecordAccess,
    RecordEntry,
    RecordSection,
    ResultValue,
)

t = tables

# How much of a document one read takes: what a GP system sends in one piece.
DOCUMENT_CHUNK_BYTES = 64 * 1024


class RecordMixin(SupplierBase):
    async def get_record_access(self, patient_ref: str) -> RecordAccess:
        async with self._reader.connect() as connection:
            patient = await self._patient(connection, patient_ref)
        return RecordAccess(
            grants=self._grants(patient),
            declined=patient.declined,
            enhanced_review=patient.enhanced_review,
        )

    async def _check_section(
        self, connection: AsyncConnection, patient_ref: str, section: RecordSection
    ) -> None:
        patient = await self._patient(connection, patient_ref)
        if section.value in patient.unavailable_sections.split():
            self._refuse(Refusal.SECTION_UNAVAILABLE)

    async def list_record_entries(
        self, patient_ref: str, section: RecordSection
    ) -> list[RecordEntry]:
        async with self._reader.connect() as connection:
            await self._check_section(connection, patient_ref, section)
            rows = await connection.execute(
                select(t.record_entries)
                .where(
                    t.record_entries.c.patient_ref == patient_ref,
                    t.record_entries.c.section == section.value,
                )
                .order_by(t.record_entries.c.recorded_on.desc(), t.record_entries.c.entry_id)
            )
            return [
                RecordEntry(
                    entry_id=row.entry_id,
                    section=RecordSection(row.section),
                    recorded_on=row.recorded_on,
                    term=row.term,
                    code=row.code,
                    detail=row.detail,
                    result=None
                    if row.result_text is None
                    else ResultValue(
                        text=row.result_text,
                        number=row.result_number,
                        unit=row.result_unit,
                        range_low=row.range_low,
                        range_high=row.range_high,
                        range_text=row.range_text,
                    ),
                    hidden=row.hidden,
                    third_party=row.third_party,
                    harmful=row.harmful,
                    filed=row.filed,
                )
                for row in rows
            ]

    async def list_documents(self, patient_ref: str) -> list[Document]:
        async with self._reader.connect() as connection:
            await self._check_section(connection, patient_ref, RecordSection.DOCUMENTS)
            rows = await connection.execute(
                select(
                    t.documents.c.document_id,
                    t.documents.c.title,
                    t.documents.c.recorded_on,
                    t.documents.c.content_type,
                    t.documents.c.hidden,
                    t.documents.c.third_party,
                    t.documents.c.harmful,
                    func.length(t.documents.c.data).label("size_bytes"),
                )
                .where(t.documents.c.patient_ref == patient_ref)
                .order_by(t.documents.c.recorded_on.desc(), t.documents.c.document_id)
            )
            return [
                Document(
                    document_id=row.document_id,
                    title=row.title,
                    recorded_on=row.recorded_on,
                    content_type=row.content_type,
                    hidden=row.hidden,
                    third_party=row.third_party,
                    harmful=row.harmful,
                    size_bytes=row.size_bytes,
                )
                for row in rows
            ]

    async def get_document_content(self, patient_ref: str, document_id: str) -> DocumentContent:
        async with self._reader.connect() as connection:
            await self._patient(connection, patient_ref)
            row = (
                await connection.execute(
                    select(
                        t.documents.c.content_type,
                        func.length(t.documents.c.data).label("size_bytes"),
                    ).where(
                        t.documents.c.document_id == document_id,
                        t.documents.c.patient_ref == patient_ref,
                    )
                )
            ).first()
        if row is None:
            self._refuse(Refusal.NOT_FOUND)
        return DocumentContent(
            content_type=row.content_type,
            chunks=self._document_chunks(patient_ref, document_id),
            size_bytes=row.size_bytes,
        )

    async def _document_chunks(
        self, patient_ref: str, document_id: str
    ) -> AsyncGenerator[bytes, None]:
        """The stored bytes one slice per read, as a GP system sends a file: the whole
        document is never in memory at once."""
        start = 1  # SQL counts from 1
        while True:
            async with self._reader.connect() as connection:
                piece = await connection.scalar(
                    select(
                        func.substr(
                            t.documents.c.data, start, DOCUMENT_CHUNK_BYTES, type_=LargeBinary
                        )
                    ).where(
                        t.documents.c.document_id == document_id,
                        t.documents.c.patient_ref == patient_ref,
                    )
                )
            if piece is None:
                self._refuse(Refusal.NOT_FOUND)  # removed while it was being read
            if piece:
                yield bytes(piece)
            if len(piece) < DOCUMENT_CHUNK_BYTES:
                return
            start += len(piece)
