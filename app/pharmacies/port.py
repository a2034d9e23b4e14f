"""The pharmacy directory port: where the service finds pharmacies a patient can nominate.

Implementations: `sandbox.SandboxPharmacyDirectory` (the sandbox GP systems' pharmacies)
and `service_search.ServiceSearchDirectory` (NHS Directory of Healthcare Services, once
called the Service Search API). Both raise `PharmacyDirectoryUnavailable` when they cannot
answer, and neither logs what was searched for: it can hold a patient's postcode.
"""

from __future__ import annotations

from typing import Protocol

from app.gp.types import Pharmacy
from app.pharmacies.query import PharmacyQuery


class PharmacyDirectory(Protocol):
    async def search(self, query: PharmacyQuery) -> list[Pharmacy]:
        """At most `query.limit` pharmacies matching every word and the postcode's district."""
        ...

    async def get(self, ods_code: str) -> Pharmacy | None:
        """The pharmacy with this ODS code (capitals), or None if the directory has none."""
        ...
