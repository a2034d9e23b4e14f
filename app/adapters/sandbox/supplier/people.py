"""Linkage, the patient, their proxy relationships and the practice's settings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Row

from app.adapters.sandbox import tables
from app.adapters.sandbox.profiles import Refusal
from app.adapters.sandbox.supplier.base import SupplierBase
from app.gp.types import (
    DemographicMatch,
    GPCredentials,
    LinkedUser,
    Patient,
    Permissions,
    PracticeSettings,
    RecordAccessLevel,
    Relationship,
    RelationshipKind,
)

t = tables


class PeopleMixin(SupplierBase):
    async def link_by_credentials(self, credentials: GPCredentials) -> LinkedUser:
        if credentials.ods_code.upper() != self.ods_code:
            self._refuse(Refusal.LINKAGE_FAILED)
        async with self._reader.connect() as connection:
            row = (
                await connection.execute(
                    select(t.patients).where(
                        t.patients.c.ods_code == self.ods_code,
                        t.patients.c.gp_user_id == credentials.gp_user_id,
                        t.patients.c.gp_linkage_key == credentials.gp_linkage_key,
                    )
                )
            ).first()
        if row is None:
            self._refuse(Refusal.LINKAGE_FAILED)
        return LinkedUser(
            user_ref=row.patient_ref, ods_code=self.ods_code, nhs_number=row.nhs_number
        )

    async def link_by_demographics(self, match: DemographicMatch) -> LinkedUser:
        if match.ods_code.upper() != self.ods_code:
            self._refuse(Refusal.PATIENT_NOT_FOUND)
        async with self._reader.connect() as connection:
            row = (
                await connection.execute(
                    select(t.patients).where(
                        t.patients.c.ods_code == self.ods_code,
                        t.patients.c.nhs_number == match.nhs_number,
                        func.lower(t.patients.c.family_name) == match.family_name.strip().lower(),
                        t.patients.c.birth_date == match.birth_date,
                    )
                )
            ).first()
        if row is None:
            self._refuse(Refusal.PATIENT_NOT_FOUND)
        return LinkedUser(
            user_ref=row.patient_ref, ods_code=self.ods_code, nhs_number=row.nhs_number
        )

    def _to_patient(self, row: Row[Any]) -> Patient:
        return Patient(
            patient_ref=row.patient_ref,
            nhs_number=row.nhs_number,
            given_name=row.given_name,
            family_name=row.family_name,
            birth_date=row.birth_date,
            ods_code=row.ods_code,
        )

    async def get_patient(self, patient_ref: str) -> Patient:
        async with self._reader.connect() as connection:
            return self._to_patient(await self._patient(connection, patient_ref))

    async def list_relationships(self, user_ref: str) -> list[Relationship]:
        async with self._reader.connect() as connection:
            user = await self._patient(connection, user_ref)
            rows = (
                await connection.execute(
                    select(
                        t.patients,
                        t.relationships.c.kind,
                        t.relationships.c.appointments,
                        t.relationships.c.prescriptions,
                        t.relationships.c.record_level.label("proxy_record_level"),
                        t.relationships.c.record_from,
                        t.relationships.c.record_historic,
                        t.relationships.c.starts_on,
                        t.relationships.c.ends_on,
                        t.relationships.c.review_recorded,
                    )
                    .join(t.patients, t.patients.c.patient_ref == t.relationships.c.patient_ref)
                    .where(t.relationships.c.user_ref == user_ref)
                    .order_by(t.patients.c.patient_ref)
                )
            ).all()
        own = Relationship(
            patient=self._to_patient(user),
            kind=RelationshipKind.SELF,
            permissions=Permissions(
                appointments=True,
                prescriptions=True,
                record_level=self._grants(user).level,
            ),
        )
        return [own] + [
            Relationship(
                patient=self._to_patient(row),
                kind=RelationshipKind(row.kind),
                permissions=Permissions(
                    appointments=row.appointments,
                    prescriptions=row.prescriptions,
                    record_level=RecordAccessLevel(row.proxy_record_level),
                    record_from=row.record_from,
                    record_historic=row.record_historic,
                ),
                starts_on=row.starts_on,
                ends_on=row.ends_on,
                review_recorded=row.review_recorded,
            )
            for row in rows
        ]

    async def get_practice_settings(self) -> PracticeSettings:
        async with self._reader.connect() as connection:
            return self._settings(await self._practice(connection))
