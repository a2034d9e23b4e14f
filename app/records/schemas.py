from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from fastapi.openapi.models import Example
from pydantic import Field

from app.gp.types import Document, RecordAccessLevel, RecordEntry, RecordSection, ResultValue
from app.patients.rules import Unavailable
from app.records.models import DESCRIPTION_MAX_LENGTH, CorrectionStatus
from app.records.service import (
    SECTION_EXPLANATIONS,
    Correction,
    DocumentPage,
    RecordOverview,
    ResultSeries,
    SectionNotShown,
    SectionPage,
)
from app.schemas import RequestBody, ResponseBody


class SectionName(StrEnum):
    """A section of the record, as it is named in paths and bodies."""

    ALLERGIES = "allergies"
    MEDICATIONS = "medications"
    PROBLEMS = "problems"
    IMMUNISATIONS = "immunisations"
    TEST_RESULTS = "test-results"
    CONSULTATIONS = "consultations"
    DOCUMENTS = "documents"

    @property
    def section(self) -> RecordSection:
        return RecordSection(self.value.replace("-", "_"))

    @classmethod
    def of(cls, section: RecordSection) -> SectionName:
        return cls(section.value.replace("_", "-"))


class EntrySectionName(StrEnum):
    """The sections made of entries (documents have their own route)."""

    ALLERGIES = "allergies"
    MEDICATIONS = "medications"
    PROBLEMS = "problems"
    IMMUNISATIONS = "immunisations"
    TEST_RESULTS = "test-results"
    CONSULTATIONS = "consultations"

    @property
    def section(self) -> RecordSection:
        return SectionName(self.value).section


AS_OF = "When the data was read from the practice's GP system; it may have changed since."


class SectionState(ResponseBody):
    section: SectionName
    available: bool = Field(description="Whether this viewer's access covers the section.")


class RecordOverviewOut(ResponseBody):
    as_of: datetime = Field(description=AS_OF)
    available: bool = Field(description="Whether any of the record can be shown online.")
    reason: Unavailable | None = Field(default=None, description="Why not, as a stable code.")
    explanation: str | None = Field(
        default=None, description="Why not, and how to ask the practice, in plain English."
    )
    level: RecordAccessLevel = Field(description="The widest access held, for display.")
    summary: bool = Field(description="Allergies and medications, of any date.")
    detailed_coded: bool = Field(
        description="Coded entries (problems, immunisations, results, consultation items) "
        "of any date, without free text."
    )
    prospective_from: date | None = Field(
        description="The full record (free text, documents) from this date on."
    )
    historic: bool = Field(description="The full record before `prospective_from` too.")
    sections: list[SectionState]

    @classmethod
    def of(cls, view: RecordOverview) -> RecordOverviewOut:
        grants = view.grants
        return cls(
            as_of=view.as_of,
            available=view.unavailable is None,
            reason=view.unavailable,
            explanation=view.explanation,
            level=grants.level,
            summary=grants.shows_summary,
            detailed_coded=grants.detailed_coded,
            prospective_from=grants.full_from,
            historic=grants.historic,
            sections=[
                SectionState(section=SectionName.of(section), available=available)
                for section, available in view.sections.items()
            ],
        )


class ResultOut(ResponseBody):
    value: str = Field(description="As the laboratory reported it.", examples=["38"])
    numeric_value: float | None = Field(description="When the value is a plain number.")
    unit: str | None = Field(examples=["mmol/mol"])
    range_low: float | None = Field(description="Lower end of the reference range.")
    range_high: float | None = Field(description="Upper end of the reference range.")
    range_text: str | None = Field(description="The reference range as reported.")

    @classmethod
    def of(cls, result: ResultValue) -> ResultOut:
        return cls(
            value=result.text,
            numeric_value=result.number,
            unit=result.unit,
            range_low=result.range_low,
            range_high=result.range_high,
            range_text=result.range_text,
        )


class RecordEntryOut(ResponseBody):
    entry_id: str = Field(
        description="The entry's id: opaque, stable for this patient; quote it in a correction."
    )
    recorded_on: date
    term: str = Field(examples=["Essential hypertension"])
    code: str | None = Field(description="SNOMED CT concept id, where coded.")
    detail: str | None = Field(
        description="Free text (notes, comments) where this viewer's access includes it; "
        "dosage for medications."
    )
    result: ResultOut | None = Field(description="Test results: value, unit and range.")
    resolved: bool = Field(
        description="No longer current: an allergy that has ended, a past problem or medicine."
    )

    @classmethod
    def of(cls, entry: RecordEntry) -> RecordEntryOut:
        return cls(
            entry_id=entry.entry_id,
            recorded_on=entry.recorded_on,
            term=entry.term,
            code=entry.code,
            detail=entry.detail,
            result=ResultOut.of(entry.result) if entry.result else None,
            resolved=entry.resolved,
        )


class _SectionAnswer(ResponseBody):
    as_of: datetime = Field(description=AS_OF)
    available: bool = Field(
        description="False: there is no list to show (see `reason`); this never means "
        "that nothing is recorded."
    )
    reason: SectionNotShown | None = None
    explanation: str | None = None
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next (older) page."
    )


def _why(not_shown: SectionNotShown | None) -> dict[str, object]:
    return {
        "available": not_shown is None,
        "reason": not_shown,
        "explanation": SECTION_EXPLANATIONS[not_shown] if not_shown else None,
    }


class RecordSectionOut(_SectionAnswer):
    section: SectionName
    items: list[RecordEntryOut] | None = Field(
        description="Newest first. Absent when the section is not available."
    )

    @classmethod
    def of(cls, page: SectionPage) -> RecordSectionOut:
        return cls.model_validate(
            {
                "section": SectionName.of(page.section),
                "as_of": page.as_of,
                "items": None
                if page.entries is None
                else [RecordEntryOut.of(e) for e in page.entries],
                "next_cursor": page.next_cursor,
                **_why(page.not_shown),
            }
        )


class DocumentOut(ResponseBody):
    document_id: str
    title: str
    recorded_on: date
    content_type: str = Field(examples=["application/pdf"])

    @classmethod
    def of(cls, document: Document) -> DocumentOut:
        return cls(
            document_id=document.document_id,
            title=document.title,
            recorded_on=document.recorded_on,
            content_type=document.content_type,
        )


class DocumentListOut(_SectionAnswer):
    section: Literal["documents"] = "documents"
    items: list[DocumentOut] | None = Field(
        description="Newest first. Absent when documents are not available."
    )

    @classmethod
    def of(cls, page: DocumentPage) -> DocumentListOut:
        return cls.model_validate(
            {
                "as_of": page.as_of,
                "items": None
                if page.documents is None
                else [DocumentOut.of(d) for d in page.documents],
                "next_cursor": page.next_cursor,
                **_why(page.not_shown),
            }
        )


class SeriesPoint(ResponseBody):
    entry_id: str
    recorded_on: date
    term: str
    result: ResultOut


class ResultSeriesOut(_SectionAnswer):
    code: str = Field(description="The test's SNOMED CT code.")
    items: list[SeriesPoint] | None = Field(
        description="Oldest first, each with its value, unit and reference range. Absent "
        "when test results are not available."
    )

    @classmethod
    def of(cls, series: ResultSeries) -> ResultSeriesOut:
        return cls.model_validate(
            {
                "code": series.code,
                "as_of": series.as_of,
                "items": None
                if series.results is None
                else [
                    SeriesPoint(
                        entry_id=e.entry_id,
                        recorded_on=e.recorded_on,
                        term=e.term,
                        result=ResultOut.of(e.result),
                    )
                    for e in series.results
                    if e.result is not None
                ],
                **_why(series.not_shown),
            }
        )


class CorrectionIn(RequestBody):
    section: SectionName | None = Field(default=None, description="Where the inaccuracy is.")
    entry_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The entry, from a section's list (needs `section`).",
    )
    description: str = Field(
        min_length=1,
        max_length=DESCRIPTION_MAX_LENGTH,
        description="What is wrong, in your own words. Sent to the practice.",
    )


CORRECTION_EXAMPLES: dict[str, Example] = {
    "entry": {
        "summary": "About one entry (its id from the section's list)",
        "value": {
            "section": "allergies",
            "entry_id": "q4w8e2r6t0y3u7i1o5p9a2s6dg",
            "description": "I am not allergic to penicillin: I had a rash once as a child.",
        },
    },
    "general": {
        "summary": "About the record in general",
        "value": {"description": "My second name is spelled Ann, not Anne."},
    },
}


class CorrectionOut(ResponseBody):
    correction_id: str
    created_at: datetime
    section: SectionName | None
    entry_id: str | None
    description: str
    status: CorrectionStatus = Field(
        description="`sent`: the practice's GP system has it. `not_sent`: it could not be "
        "delivered; please send it again. `sending`: in progress."
    )

    @classmethod
    def of(cls, correction: Correction) -> CorrectionOut:
        return cls(
            correction_id=correction.correction_id,
            created_at=correction.created_at,
            section=SectionName.of(correction.section) if correction.section else None,
            entry_id=correction.entry_id,
            description=correction.description,
            status=correction.status,
        )


class CorrectionList(ResponseBody):
    items: list[CorrectionOut]
