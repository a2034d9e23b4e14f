from __future__ import annotations

from pydantic import Field

from app.gp.types import Pharmacy
from app.schemas import ResponseBody


class PharmacyOut(ResponseBody):
    ods_code: str = Field(
        description="The pharmacy's ODS code: pass it on to nominate the pharmacy.",
        examples=["FAA01"],
    )
    name: str = Field(examples=["High Street Pharmacy"])
    address: str = Field(examples=["12 High Street, Riverside"])
    postcode: str | None = Field(default=None, examples=["RV1 2HS"])
    phone: str | None = Field(default=None, examples=["01632 960101"])

    @classmethod
    def of(cls, pharmacy: Pharmacy) -> PharmacyOut:
        return cls.model_validate(pharmacy)


class PharmacyList(ResponseBody):
    items: list[PharmacyOut] = Field(
        description="Pharmacies that take electronic prescriptions, so can be nominated."
    )
