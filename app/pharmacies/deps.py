"""The pharmacy directory as a dependency (built once, in the lifespan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.pharmacies.port import PharmacyDirectory


def get_pharmacy_directory(request: Request) -> PharmacyDirectory:
    directory: PharmacyDirectory = request.app.state.pharmacy_directory
    return directory


PharmacyDirectoryDep = Annotated[PharmacyDirectory, Depends(get_pharmacy_directory)]
