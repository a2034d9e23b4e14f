"""`/v1/patients/{patient_id}/record`: the GP record, as this viewer may see it."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from app.audit.types import OPAQUE_ID_PATTERN
from app.auth.deps import AuthDep
from app.clock import ClockDep
from app.db import SessionDep, SessionmakerDep
from app.gp import errors as gp
from app.idempotency.deps import IdempotencyKey
from app.idempotency.service import IDEMPOTENCY_PROBLEMS, StoredResponse, as_response, run_once
from app.patients.deps import ACTING_FOR_PROBLEMS, ActingForPatient, ActingForRecord
from app.problems import InvalidCursor, problem_responses
from app.ratelimit.guard import enforce
from app.ratelimit.service import Budget
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
# The document types sent as themselves, with the extension their download is named with.
# None renders script (no HTML, no SVG); anything else is sent as bytes to save.
_EXTENSIONS = {
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/tiff": ".tif",
    "application/rtf": ".rtf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
}
OTHER_DOCUMENTS = "application/octet-stream"
# Listed first: a client generated from the document reads the download as bytes.
DOCUMENT_MEDIA_TYPES = [OTHER_DOCUMENTS, *_EXTENSIONS]
# Declared for each type, so generated clients hand back the bytes (openapi-python-client's
# `File`, a `Blob` from @hey-api/openapi-ts) rather than nothing.
BINARY = {"type": "string", "format": "binary"}


def _media_type(content_type: str) -> str:
    return content_type if content_type in _EXTENSIONS else OTHER_DOCUMENTS


def _filename(title: str, media_type: str) -> str:
    stem = _UNSAFE_FILENAME.sub("", title).strip()[:80] or "document"
    return stem + _EXTENSIONS.get(media_type, "")


@router.get(
    "/documents/{document_id}/content",
    summary="A document's content, to download",
    description="Sent as a download (`Content-Disposition: attachment`), never cached, at "
    "most 20 MB, with the document's own type where it is one of those listed (the same "
    "`content_type` the documents list gives), otherwise as `application/octet-stream`. "
    "`Content-Length` is sent when the length is known before sending; a download that "
    "stops early is cut off (the connection closes before the body completes), never "
    "ended as if whole. Opening it is recorded in the patient's access log.",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {media_type: {"schema": BINARY} for media_type in DOCUMENT_MEDIA_TYPES},
            "description": "The document.",
        },
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
    media_type = _media_type(opened.content_type)
    filename = _filename(opened.document.title, media_type)
    headers = {
        # Set here, not as `media_type`, which would add a charset the GP system never gave.
        "Content-Type": media_type,
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
    }
    if opened.size_bytes is not None:
        headers["Content-Length"] = str(opened.size_bytes)
    return StreamingResponse(opened.chunks, headers=headers)


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
    description="Each report with whether it reached the practice (`sent`, `not_sent`). "
    "A report is deleted here 90 days after it was made (unless this service is set up "
    "otherwise); the practice keeps what it received.",
    responses=problem_responses(*ACTING_FOR_PROBLEMS),
)
async def list_corrections(
    acting: ActingForRecord, session: SessionDep, auth: AuthDep
) -> CorrectionList:
    corrections = await service.list_corrections(acting, session, auth.cipher)
    return CorrectionList(items=[CorrectionOut.of(c) for c in corrections])


@router.post(
    "/corrections",
    status_code=201,
    response_model=CorrectionOut,
    summary="Tell the practice something in the record is wrong",
    description="Sent to the practice through its GP system; the practice decides what to "
    "change. Send a new `Idempotency-Key` for each report: a retry with the same key and "
    "body returns the first answer, sends nothing again and uses up none of the day's "
    "reports.",
    responses=problem_responses(
        *ACTING_FOR_PROBLEMS,
        *IDEMPOTENCY_PROBLEMS,
        gp.NotAvailableAtPractice,
        service.SECTION_REQUIRED,
        service.UNKNOWN_ENTRY,
        service.ENTRY_NOT_CHECKED,
    ),
)
async def submit_correction(
    body: Annotated[CorrectionIn, Body(openapi_examples=CORRECTION_EXAMPLES)],
    idempotency_key: IdempotencyKey,
    acting: ActingForRecord,
    session: SessionDep,
    sessions: SessionmakerDep,
    clock: ClockDep,
    auth: AuthDep,
    request: Request,
) -> JSONResponse:
    account_id = acting.actor.account_id

    async def report() -> StoredResponse:
        # Spent only by a report that is made: a retry, or a request refused before
        # this, uses up none of the day's few.
        await enforce(request, Budget.RECORD_CORRECTION, account_id, account_id=account_id)
        correction = await service.submit_correction(
            acting,
            session,
            clock,
            auth.cipher,
            section=body.section.section if body.section else None,
            entry_id=body.entry_id,
            description=body.description,
        )
        # Only the id is kept with the key: the text stays encrypted, with the report.
        return StoredResponse(201, {"correction_id": correction.correction_id})

    stored = await run_once(
        sessions,
        account_id=account_id,
        key=idempotency_key,
        scope=f"correction:{acting.patient_id}",
        body=body.model_dump(mode="json"),
        clock=clock,
        action=report,
    )
    if stored.is_problem:
        return as_response(stored)
    correction = await service.find_correction(
        acting, session, auth.cipher, stored.body["correction_id"]
    )
    return JSONResponse(CorrectionOut.of(correction).model_dump(mode="json"), status_code=201)


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
