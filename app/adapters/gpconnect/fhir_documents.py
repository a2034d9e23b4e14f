"""Patient-facing Access Record documents (FHIR STU3) ↔ documents (pure functions, no I/O).

Checked against the specification's examples (tests/adapters/gpconnect/payloads/
access_record/): `GET /documents/Patient/{NHS number}` finds the patient's id on the
documents server, `GET /Patient/{id}/DocumentReference` lists their documents (each
with an attachment naming its `Binary`), `GET /documents/Binary/{id}` holds the
content, base64-encoded.

A `Document`'s id is its Binary's id: what reading the content needs, so a document
is opened with one call.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import AsyncGenerator, Mapping
from datetime import date
from typing import Any

from app.adapters.gpconnect import interactions as wire
from app.adapters.gpconnect.fhir import (
    JSON,
    bundle_resources,
    concept_text,
    fhir_date,
    nhs_number_of,
)
from app.gp.errors import GPSystemUnavailable, PatientNotFound
from app.gp.types import Document, DocumentContent

logger = logging.getLogger(__name__)

READ_SIZE = 64 * 1024  # bytes in each chunk of a document's content
UNTITLED = "Document"
OCTET_STREAM = "application/octet-stream"


def _refuse_other_patients(bundle: JSON, nhs_number: str) -> None:
    """A provider fault: an answer holding a Patient with another NHS number is not shown."""
    numbers = [nhs_number_of(patient) for patient in bundle_resources(bundle, "Patient")]
    if any(number != nhs_number for number in numbers):
        # Never the numbers themselves: they identify patients.
        logger.error("GP Connect documents answer held another patient")
        raise GPSystemUnavailable(supplier_code="DOCUMENTS_PATIENT_MISMATCH")


def document_patient_id(bundle: JSON, *, nhs_number: str) -> str:
    """The patient's id on the documents server, from the `/documents/Patient/{NHS number}`
    searchset ("this endpoint must be used to obtain the correct patient id")."""
    _refuse_other_patients(bundle, nhs_number)
    ids = [str(p["id"]) for p in bundle_resources(bundle, "Patient") if p.get("id")]
    if len(ids) != 1:
        raise PatientNotFound(supplier_code="DOCUMENTS_PATIENT_NOT_FOUND")
    return ids[0]


def documents_from_bundle(bundle: JSON, *, patient_id: str, nhs_number: str) -> list[Document]:
    """The patient's current documents in a DocumentReference searchset, newest first.

    The answer must be this patient's: a Patient with another NHS number, or a
    DocumentReference whose `subject` is not `Patient/{patient_id}`, refuses it all.
    A document that cannot be read (no Binary named) or dated is left out and logged.
    """
    _refuse_other_patients(bundle, nhs_number)
    documents: list[Document] = []
    unreadable = 0
    for item in bundle_resources(bundle, "DocumentReference"):
        subject = (item.get("subject") or {}).get("reference")
        if (
            not isinstance(subject, str)
            or subject.split("/_history")[0].split("/")[-1] != patient_id
        ):
            logger.error("GP Connect DocumentReference was not for the patient asked for")
            raise GPSystemUnavailable(supplier_code="DOCUMENTS_PATIENT_MISMATCH")
        if item.get("status") != "current":
            continue  # superseded or entered in error: not part of the record
        document = _document(item)
        if document is None:
            unreadable += 1
            continue
        documents.append(document)
    if unreadable:
        logger.warning(
            "GP Connect DocumentReferences could not be read", extra={"count": unreadable}
        )
    return sorted(documents, key=lambda d: (d.recorded_on, d.document_id), reverse=True)


def binary_id(url: Any) -> str | None:
    """The Binary's id from an attachment URL: absolute as in the specification's example
    (`http://…/Binary/{id}`) or relative (`Binary/{id}`), both valid FHIR."""
    if not isinstance(url, str):
        return None
    path = "/" + url.split("?")[0].split("#")[0]
    if "/Binary/" not in path:
        return None
    ident = path.rsplit("/Binary/", 1)[1].strip("/")
    return ident if ident and "/" not in ident else None


def withheld_from_patient(item: JSON) -> bool:
    """Labelled not for the patient (`meta.security`): v3 ActCode NOPAT, or
    Confidentiality R or V."""
    for label in (item.get("meta") or {}).get("security") or []:
        if not isinstance(label, Mapping):
            continue
        system, code = label.get("system"), label.get("code")
        if system in wire.ACT_CODE_SYSTEMS and code == wire.NO_DISCLOSURE_TO_PATIENT:
            return True
        if system in wire.CONFIDENTIALITY_SYSTEMS and code in wire.RESTRICTED_CONFIDENTIALITY:
            return True
    return False


def _document(item: JSON) -> Document | None:
    contents = item.get("content") or []
    first = contents[0] if isinstance(contents, list) and contents else {}
    attachment = (first or {}).get("attachment") or {}
    ident = binary_id(attachment.get("url"))
    recorded_on = _recorded_on(item)
    if ident is None or recorded_on is None:
        return None
    size = attachment.get("size")
    return Document(
        document_id=ident,
        title=str(item.get("description") or concept_text(item.get("type")) or UNTITLED),
        recorded_on=recorded_on,
        content_type=str(attachment.get("contentType") or OCTET_STREAM),
        hidden=withheld_from_patient(item),
        size_bytes=size
        if isinstance(size, int) and not isinstance(size, bool) and size >= 0
        else None,
    )


def _recorded_on(item: JSON) -> date | None:
    """When the document was created, else indexed: the first of them that reads as a date."""
    for name in ("created", "indexed"):
        value = item.get(name)
        if isinstance(value, str) and value:
            try:
                return fhir_date(value)
            except ValueError:
                continue
    return None


def document_content_from_binary(binary: JSON, *, read_size: int = READ_SIZE) -> DocumentContent:
    """A Binary's content, decoded, in chunks of at most `read_size` bytes."""
    content, content_type = binary.get("content"), binary.get("contentType")
    if binary.get("resourceType") != "Binary" or not isinstance(content, str):
        raise GPSystemUnavailable(supplier_code="MALFORMED_RESPONSE")
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise GPSystemUnavailable(supplier_code="MALFORMED_RESPONSE") from None
    return DocumentContent(
        content_type=content_type
        if isinstance(content_type, str) and content_type
        else OCTET_STREAM,
        chunks=_chunks(data, read_size),
        size_bytes=len(data),
    )


async def _chunks(data: bytes, read_size: int) -> AsyncGenerator[bytes, None]:
    for offset in range(0, len(data), read_size):
        yield data[offset : offset + read_size]
