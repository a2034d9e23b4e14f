"""`/v1/patients/{patient_id}/record`: the GP record, as this viewer may see it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query
from fastapi.responses import StreamingResponse

from app.audit.types import OPAQUE_ID_PATTERN
from app.clock import ClockDep
from app.db import SessionDep
from app.gp import errors as gp
from app.gp.types import RecordSection
from app.patients.deps import ACTING_FOR_PROBLEMS, ActingForPatient, ActingForRecord
from app.problems import InvalidCursor, problem_responses
from app.ratelimit.deps import Budget, RateLimited
from app.records import service
from app.records.schemas import (
    CORRECTION_EXAMPLES,
    CorrectionIn,
    CorrectionList,
    CorrectionOut,
    DocumentListOut,
    EntrySectionName,
    RecordOverviewOut,
    RecordSectionOut,
    ResultSeriesOut,
)
from app.schemas import IsoDate

router = APIRouter(prefix="/v1/patients/{patient_id}/record", tags=["record"])

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100

# GP system ids and codes are tokens, never prose (document ids are also audit targets).
DocumentID = Annotated[
    str,
    Path(
        description="The document's id, from the documents list.",
        min_length=1,
        max_length=128,
        pattern=OPAQUE_ID_PATTERN,
    ),
]
TestCode = Annotated[
    str,
    Path(
        description="The test's SNOMED CT code, from a result's `code`.",
        min_length=1,
        max_length=32,
        pattern=OPAQUE_ID_PATTERN,
    ),
]
FromDate = Annotated[
    IsoDate | None,
    Query(alias="from", description="Only entries recorded on or after this date."),
]
ToDate = Annotated[
    IsoDate | None,
    Query(alias="to", description="Only entries recorded on or before this date."),
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Most items on a page.")]
Cursor = Annotated[
    str | None, Query(max_length=300, description="`next_cursor` from the previous page.")
]


@router.get(
    "",
    summary="What of the record this viewer may see, and how to ask for more",
    description="Needs no record access: when there is none, says why and how to ask the practice.",
    responses=problem_responses(*ACTING_FOR_PROBLEMS),
)
async def get_record_access(acting: ActingForPatient, clock: ClockDep) -> RecordOverviewOut:
    return RecordOverviewOut.of(service.overview(acting, now=clock.now()))


@router.get(
    "/documents",
    summary="Letters and other documents, newest first",
    description="Only documents this viewer's access covers and the practice has not "
    "withheld; `from`/`to` filter by date, `next_cursor` continues the list. Each page "
    "read is recorded in the patient's access log.",
    responses=problem_responses(*ACTING_FOR_PROBLEMS, InvalidCursor, service.INVALID_RANGE),
)
async def list_record_documents(
    acting: ActingForRecord,
    session: SessionDep,
    clock: ClockDep,
    start: FromDate = None,
    end: ToDate = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> DocumentListOut:
    page = await service.read_documents(
        acting,
        session,
        clock,
        dates=service.DateRange(start, end),
        limit=limit,
        cursor=cursor,
    )
    return DocumentListOut.of(page)


_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9 ._-]+")
_EXTENSIONS = {
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/tiff": ".tif",
    "application/rtf": ".rtf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
}
CHUNK_BYTES = 64 * 1024


def _filename(title: str, content_type: str) -> str:
    stem = _UNSAFE_FILENAME.sub("", title).strip()[:80] or "document"
    return stem + _EXTENSIONS.get(content_type, "")


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK_BYTES):
        yield data[start : start + CHUNK_BYTES]


@router.get(
    "/documents/{document_id}/content",
    summary="A document's content, to download",
    description="Sent as a download (`Content-Disposition: attachment`), never cached, at "
    "most 20 MB. Opening it is recorded in the patient's access log.",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The document."},
        **problem_responses(
            *ACTING_FOR_PROBLEMS,
            gp.NotAvailableAtPractice,
            gp.NotFoundInGPSystem,
            service.DocumentTooLarge,
        ),
    },
)
async def get_document_content(
    document_id: DocumentID, acting: ActingForRecord, session: SessionDep, clock: ClockDep
) -> StreamingResponse:
    opened = await service.open_document(acting, session, clock, document_id)
    content_type = opened.content.content_type
    # Only types browsers treat as documents are passed on; anything else (HTML, script)
    # is a download of bytes.
    media_type = content_type if content_type in _EXTENSIONS else "application/octet-stream"
    filename = _filename(opened.document.title, media_type)
    return StreamingResponse(
        _chunks(opened.content.data),
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Length": str(len(opened.content.data)),
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/test-results/{code}/series",
    summary="One test's results over time, with units and reference ranges",
    description="By the test's SNOMED code (from a test result), oldest first, so an app "
    "can draw the trend; only values this viewer may see.",
    responses=problem_responses(*ACTING_FOR_PROBLEMS, service.INVALID_RANGE),
)
async def get_result_series(
    code: TestCode,
    acting: ActingForRecord,
    session: SessionDep,
    clock: ClockDep,
    start: FromDate = None,
    end: ToDate = None,
) -> ResultSeriesOut:
    series = await service.result_series(
        acting, session, clock, code, dates=service.DateRange(start, end)
    )
    return ResultSeriesOut.of(series)


@router.get(
    "/corrections",
    summary="Inaccuracies you reported in this record",
    description="Each report with whether it reached the practice (`sent`, `not_sent`).",
    responses=problem_responses(*ACTING_FOR_PROBLEMS),
)
async def list_corrections(acting: ActingForRecord, session: SessionDep) -> CorrectionList:
    corrections = await service.list_corrections(acting, session)
    return CorrectionList(items=[CorrectionOut.of(c) for c in corrections])


@router.post(
    "/corrections",
    status_code=201,
    summary="Tell the practice something in the record is wrong",
    description="Sent to the practice through its GP system; the practice decides what to "
    "change. Without an `Idempotency-Key`: a retry sends the report again.",
    responses=problem_responses(
        *ACTING_FOR_PROBLEMS,
        gp.NotAvailableAtPractice,
        service.SECTION_REQUIRED,
        service.UNKNOWN_ENTRY,
        service.ENTRY_NOT_CHECKED,
    ),
    dependencies=[Depends(RateLimited(Budget.RECORD_CORRECTION))],
)
async def submit_correction(
    body: Annotated[CorrectionIn, Body(openapi_examples=CORRECTION_EXAMPLES)],
    acting: ActingForRecord,
    session: SessionDep,
    clock: ClockDep,
) -> CorrectionOut:
    section: RecordSection | None = body.section.section if body.section else None
    correction = await service.submit_correction(
        acting,
        session,
        clock,
        section=section,
        entry_id=body.entry_id,
        description=body.description,
    )
    return CorrectionOut.of(correction)


@router.get(
    "/{section}",
    summary="One section of the record, newest first",
    description="Allergies, medications, problems, immunisations, test results or "
    "consultations, as this viewer's access allows. `available: false` means there is no "
    "list to show (see `reason`), never that nothing is recorded.",
    responses=problem_responses(*ACTING_FOR_PROBLEMS, InvalidCursor, service.INVALID_RANGE),
)
async def get_record_section(
    section: EntrySectionName,
    acting: ActingForRecord,
    session: SessionDep,
    clock: ClockDep,
    start: FromDate = None,
    end: ToDate = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> RecordSectionOut:
    page = await service.read_section(
        acting,
        session,
        clock,
        section.section,
        dates=service.DateRange(start, end),
        limit=limit,
        cursor=cursor,
    )
    return RecordSectionOut.of(page)
