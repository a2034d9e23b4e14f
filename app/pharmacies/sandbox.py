"""The sandbox pharmacy directory: the sandbox GP systems' own pharmacies, searched in memory.

It lists exactly the pharmacies the sandbox GP systems hold (`seed.PHARMACIES`), so any
pharmacy it returns can be nominated through a sandbox practice. Never for real patients:
`APP_ENV=prod` refuses to start with it.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.adapters.sandbox.seed import PHARMACIES
from app.gp.types import Pharmacy
from app.pharmacies.query import PharmacyQuery, Postcode, words


def sandbox_pharmacies() -> list[Pharmacy]:
    return [
        Pharmacy(
            ods_code=row["ods_code"],
            name=row["name"],
            address=row["address"],
            postcode=row["postcode"],
            phone=row["phone"],
        )
        for row in PHARMACIES
    ]


class SandboxPharmacyDirectory:
    def __init__(self, pharmacies: Iterable[Pharmacy] | None = None) -> None:
        listed = sandbox_pharmacies() if pharmacies is None else list(pharmacies)
        self._by_code = {pharmacy.ods_code: pharmacy for pharmacy in listed}

    async def search(self, query: PharmacyQuery) -> list[Pharmacy]:
        found = [p for p in self._by_code.values() if _matches(p, query)]
        found.sort(key=lambda pharmacy: (pharmacy.name.casefold(), pharmacy.ods_code))
        return found[: query.limit]

    async def get(self, ods_code: str) -> Pharmacy | None:
        return self._by_code.get(ods_code)


def _matches(pharmacy: Pharmacy, query: PharmacyQuery) -> bool:
    if query.postcode is not None:
        if pharmacy.postcode is None:
            return False
        if Postcode.parse(pharmacy.postcode).outward != query.postcode.outward:
            return False
    # Each word of the search begins a word of the pharmacy's code, name or address,
    # as the Service Search adapter asks (`pharm` finds "Pharmacy").
    fields = (pharmacy.ods_code, pharmacy.name, pharmacy.address, pharmacy.postcode or "")
    listed = words(" ".join(fields))
    return all(any(word.startswith(term) for word in listed) for term in query.text)
