"""Finding a pharmacy to nominate: the rules around the directory, whichever it is."""

from __future__ import annotations

from app.gp.types import Pharmacy
from app.pharmacies.port import PharmacyDirectory
from app.pharmacies.problems import PharmacyNotFound, SearchTermsRequired
from app.pharmacies.query import PharmacyQuery, Postcode, words

# A name and a street are a few words; more only make the directory work harder.
MAX_WORDS = 8


def build_query(text: str | None, postcode: str | None, *, limit: int) -> PharmacyQuery:
    """The search as the directory takes it. Raises `SearchTermsRequired` if it is empty:
    a directory-wide list helps no one and costs the directory most."""
    query = PharmacyQuery(
        text=words(text or "")[:MAX_WORDS],
        postcode=Postcode.parse(postcode) if postcode else None,
        limit=limit,
    )
    if query.is_empty:
        raise SearchTermsRequired()
    return query


async def search_pharmacies(directory: PharmacyDirectory, query: PharmacyQuery) -> list[Pharmacy]:
    """Pharmacies matching the search, at most `query.limit` of them."""
    found = await directory.search(query)
    return found[: query.limit]


async def find_pharmacy(directory: PharmacyDirectory, ods_code: str) -> Pharmacy:
    """The pharmacy with this ODS code (normalised), or `PharmacyNotFound`.

    Use it before nominating: a code the directory does not list is not a pharmacy a
    patient can nominate.
    """
    pharmacy = await directory.get(ods_code)
    if pharmacy is None:
        raise PharmacyNotFound()
    return pharmacy
