"""The GP record over GP Connect Access Record Structured (FHIR STU3
`$gpc.getstructuredrecord`)."""

from __future__ import annotations

from app.adapters.gpconnect import fhir_record
from app.adapters.gpconnect import interactions as wire
from app.adapters.gpconnect.base import GPConnectBase, resource, wire_shape
from app.gp.errors import NotAvailableAtPractice
from app.gp.types import (
    Capability,
    Document,
    DocumentContent,
    RecordAccess,
    RecordEntry,
    RecordSection,
)


class RecordMixin(GPConnectBase):
    async def get_record_access(self, patient_ref: str) -> RecordAccess:
        raise NotAvailableAtPractice(
            Capability.RECORD_ACCESS_SETTINGS, supplier_code="NOT_SUPPORTED"
        )

    async def list_record_entries(
        self, patient_ref: str, section: RecordSection
    ) -> list[RecordEntry]:
        if section not in fhir_record.SECTION_LISTS:
            raise NotAvailableAtPractice(Capability.DOCUMENTS, supplier_code="NOT_SUPPORTED")
        nhs_number = await self._nhs_number(patient_ref)
        bundle = await self._clients.record.send(
            "POST",
            "Patient/$gpc.getstructuredrecord",
            interaction=wire.GET_STRUCTURED_RECORD,
            body=fhir_record.structured_record_parameters(nhs_number, section),
        )
        with wire_shape():
            return fhir_record.record_entries_from_bundle(resource(bundle, "Bundle"), section)

    async def list_documents(self, patient_ref: str) -> list[Document]:
        raise NotAvailableAtPractice(Capability.DOCUMENTS, supplier_code="NOT_SUPPORTED")

    async def get_document_content(self, patient_ref: str, document_id: str) -> DocumentContent:
        raise NotAvailableAtPractice(Capability.DOCUMENTS, supplier_code="NOT_SUPPORTED")
