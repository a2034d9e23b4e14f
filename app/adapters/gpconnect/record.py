"""The GP record over GP Connect's patient-facing Access Record API (FHIR STU3, the
patient's own access token): structured entries (`$gpc.getstructuredrecord`) and
documents (find the patient on the documents server, search DocumentReference, read
the Binary). The record access settings are the User Permissions API's
(`permissions.py`)."""

from __future__ import annotations

import uuid

from app.adapters.gpconnect import apis, fhir_documents, fhir_record
from app.adapters.gpconnect.base import GPConnectBase, resource, wire_shape
from app.gp.types import (
    Document,
    DocumentContent,
    RecordEntry,
    RecordSection,
)


class RecordMixin(GPConnectBase):
    async def list_record_entries(
        self, patient_ref: str, section: RecordSection
    ) -> list[RecordEntry]:
        if section not in fhir_record.SECTION_LISTS:
            # Documents are listed by `list_documents`: as record entries there are none.
            return []
        nhs_number = self._nhs_number(patient_ref)
        bundle = await self._clients.record.send(
            "POST",
            "Patient/$gpc.getstructuredrecord",
            nhs_number=nhs_number,
            body=fhir_record.structured_record_parameters(nhs_number, section),
        )
        with wire_shape():
            return fhir_record.record_entries_from_bundle(
                resource(bundle, "Bundle"), section, nhs_number=nhs_number
            )

    async def list_documents(self, patient_ref: str) -> list[Document]:
        """The patient's current documents: their id on the documents server first
        (`GET /documents/Patient/{NHS number}`: "this endpoint must be used to obtain
        the correct patient id"), then `GET /Patient/{id}/DocumentReference` with the
        mandatory includes (`fhir_documents` reads both answers)."""
        nhs_number = self._nhs_number(patient_ref)
        correlation_id = str(uuid.uuid4())
        found = await self._clients.record.send(
            "GET",
            f"documents/Patient/{nhs_number}",
            nhs_number=nhs_number,
            correlation_id=correlation_id,
        )
        with wire_shape():
            document_patient = fhir_documents.document_patient_id(
                resource(found, "Bundle"), nhs_number=nhs_number
            )
        bundle = await self._clients.record.send(
            "GET",
            f"Patient/{document_patient}/DocumentReference",
            nhs_number=nhs_number,
            params=[(apis.PATIENT_NHS_NUMBER_PARAM, nhs_number), *apis.DOCUMENT_INCLUDES],
            correlation_id=correlation_id,
        )
        with wire_shape():
            return fhir_documents.documents_from_bundle(
                resource(bundle, "Bundle"), patient_id=document_patient, nhs_number=nhs_number
            )

    async def get_document_content(self, patient_ref: str, document_id: str) -> DocumentContent:
        """`GET /documents/Binary/{id}?patientNHSNumber=…`: the content, base64 in a Binary."""
        nhs_number = self._nhs_number(patient_ref)
        payload = await self._clients.record.send(
            "GET",
            f"documents/Binary/{document_id}",
            nhs_number=nhs_number,
            params=[(apis.PATIENT_NHS_NUMBER_PARAM, nhs_number)],
        )
        return fhir_documents.document_content_from_binary(resource(payload, "Binary"))
