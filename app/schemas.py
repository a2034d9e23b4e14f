"""Base classes for the API's request and response bodies, and the value types that
bodies and query parameters share."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError


class RequestBody(BaseModel):
    """A request body: unknown fields are rejected, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResponseBody(BaseModel):
    """A response body built from domain objects."""

    model_config = ConfigDict(from_attributes=True)


# pydantic also reads a number as a Unix time (`?to=0` would be 1 January 1970): the
# document says `format: date` or `date-time`, so only dates written out are taken.
_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_STARTS_WITH_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[Tt ].*)?", re.DOTALL)


def _written_date(value: Any) -> Any:
    if isinstance(value, date) or (isinstance(value, str) and _FULL_DATE.fullmatch(value)):
        return value
    raise PydanticCustomError("date_format", "Write the date as YYYY-MM-DD, e.g. 2026-12-01.")


def _written_date_time(value: Any) -> Any:
    if isinstance(value, datetime) or (
        isinstance(value, str) and _STARTS_WITH_DATE.fullmatch(value)
    ):
        return value
    raise PydanticCustomError(
        "datetime_format",
        "Write the date and time as in ISO 8601, e.g. 2026-12-01T09:00:00Z.",
    )


IsoDate = Annotated[date, BeforeValidator(_written_date)]
"""A calendar date written as RFC 3339 `full-date` (`2026-12-01`), never a number."""

IsoDateTime = Annotated[datetime, BeforeValidator(_written_date_time)]
"""A date and time written as in ISO 8601 (`2026-12-01T09:00:00Z`), never a number."""
