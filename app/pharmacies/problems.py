"""The problems finding a pharmacy can raise, each with a stable code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from app.problems import Problem

RETRY_AFTER_SECONDS = 30


class SearchTermsRequired(Problem):
    status = 422
    code = "search_terms_required"
    title = "Nothing to search for"
    default_detail = "Enter a pharmacy's name, a postcode, or both, to find a pharmacy."


class PharmacyNotFound(Problem):
    status = 404
    code = "pharmacy_not_found"
    title = "Pharmacy not found"
    default_detail = (
        "We could not find a pharmacy with that code. Search by name or postcode to find it."
    )


class PharmacyDirectoryUnavailable(Problem):
    status = 503
    code = "pharmacy_directory_unavailable"
    title = "Pharmacy directory unavailable"
    default_detail = (
        "We cannot search for pharmacies at the moment. Please try again in a few minutes."
    )
    example_extra: ClassVar[Mapping[str, object]] = {"retry_after": RETRY_AFTER_SECONDS}

    def __init__(self, *, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        self.retry_after = retry_after
        super().__init__(
            headers={"Retry-After": str(retry_after)}, extra={"retry_after": retry_after}
        )
