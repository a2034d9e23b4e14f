"""`/v1/pharmacies`: find a pharmacy to nominate. Any signed-in user may search (P5 too):
the directory is public information and nothing here concerns a patient."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AfterValidator

from app.auth.deps import current_session
from app.pharmacies import service
from app.pharmacies.deps import PharmacyDirectoryDep
from app.pharmacies.problems import (
    PharmacyDirectoryUnavailable,
    PharmacyNotFound,
    SearchTermsRequired,
)
from app.pharmacies.query import normalise_ods_code, normalise_postcode
from app.pharmacies.schemas import PharmacyList, PharmacyOut
from app.problems import problem_responses

router = APIRouter(
    prefix="/v1/pharmacies", tags=["pharmacies"], dependencies=[Depends(current_session)]
)

MAX_PHARMACIES = 50

SearchText = Annotated[
    str | None,
    Query(
        alias="q",
        min_length=2,
        max_length=100,
        description="Words from the pharmacy's name or address, or its ODS code.",
    ),
]
SearchPostcode = Annotated[
    str | None,
    AfterValidator(normalise_postcode),
    Query(
        min_length=2,
        max_length=10,
        description="A postcode (`LS1 4AP`) or its first half (`LS1`): pharmacies in that "
        "district.",
    ),
]
PharmacyODSCode = Annotated[
    str,
    AfterValidator(normalise_ods_code),
    Path(description="The pharmacy's ODS code, from a search.", min_length=3, max_length=10),
]


@router.get(
    "",
    summary="Find a pharmacy to nominate",
    description="By name or address words, by postcode, or both (at least one). Lists only "
    "pharmacies that take electronic prescriptions.",
    responses=problem_responses(SearchTermsRequired, PharmacyDirectoryUnavailable),
)
async def search_pharmacies(
    directory: PharmacyDirectoryDep,
    text: SearchText = None,
    postcode: SearchPostcode = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PHARMACIES, description="Most pharmacies to return.")
    ] = 20,
) -> PharmacyList:
    query = service.build_query(text, postcode, limit=limit)
    found = await service.search_pharmacies(directory, query)
    return PharmacyList(items=[PharmacyOut.of(pharmacy) for pharmacy in found])


@router.get(
    "/{ods_code}",
    summary="One pharmacy",
    responses=problem_responses(PharmacyNotFound, PharmacyDirectoryUnavailable),
)
async def get_pharmacy(ods_code: PharmacyODSCode, directory: PharmacyDirectoryDep) -> PharmacyOut:
    """One pharmacy by its ODS code, as the directory lists it."""
    return PharmacyOut.of(await service.find_pharmacy(directory, ods_code))
