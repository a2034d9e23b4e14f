"""Access a practice approved, switched on in the simulated GP system.

`Capability.ACCESS_CHANGES`: historic full-record access, the detailed coded record,
and new proxy relationships, written to the same tables the supplier reads
(`sandbox_patients`, `sandbox_relationships`), so that what the practice approved is
what the patient or the new proxy then sees. Each write takes the patient's write
lock first (`lock_version`), as the supplier's own writes do.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.adapters.sandbox import tables
from app.adapters.sandbox.profiles import Refusal
from app.adapters.sandbox.supplier import SimulatedSupplier
from app.adapters.sandbox.supplier.base import SupplierBase
from app.gp.types import Capability, ProxyGrant

t = tables


class AccessChangesMixin(SupplierBase):
    async def grant_historic_access(
        self, patient_ref: str, *, from_date: date | None, actor_ref: str
    ) -> None:
        self._require(Capability.ACCESS_CHANGES)
        async with self._engine.begin() as connection:
            await self._lock_patient(connection, patient_ref)
            patient = await self._patient(connection, patient_ref)
            if from_date is None:
                values: dict[str, object] = {"historic_access": True}
            else:
                # Access from a date: the full record's start moves back, never forward.
                start = patient.prospective_from
                values = {"prospective_from": min(start, from_date) if start else from_date}
            await connection.execute(
                update(t.patients).where(t.patients.c.patient_ref == patient_ref).values(values)
            )

    async def grant_detailed_coded_access(self, patient_ref: str, *, actor_ref: str) -> None:
        self._require(Capability.ACCESS_CHANGES)
        async with self._engine.begin() as connection:
            await self._lock_patient(connection, patient_ref)
            await connection.execute(
                update(t.patients)
                .where(t.patients.c.patient_ref == patient_ref)
                .values(record_detailed_coded=True)
            )

    async def create_proxy_relationship(self, grant: ProxyGrant) -> None:
        self._require(Capability.ACCESS_CHANGES)
        async with self._engine.begin() as connection:
            await self._lock_patient(connection, grant.patient_ref)
            await self._registered_here(connection, grant.user_ref)
            # One relationship between two people: a new grant replaces the old one.
            await connection.execute(
                delete(t.relationships).where(
                    t.relationships.c.user_ref == grant.user_ref,
                    t.relationships.c.patient_ref == grant.patient_ref,
                )
            )
            permissions = grant.permissions
            await connection.execute(
                insert(t.relationships).values(
                    user_ref=grant.user_ref,
                    patient_ref=grant.patient_ref,
                    kind=grant.kind.value,
                    appointments=permissions.appointments,
                    prescriptions=permissions.prescriptions,
                    record_level=permissions.record_level.value,
                    record_from=permissions.record_from,
                    record_historic=permissions.record_historic,
                    starts_on=grant.starts_on,
                    ends_on=grant.ends_on,
                    review_recorded=grant.review_recorded,
                )
            )

    async def _registered_here(self, connection: AsyncConnection, patient_ref: str) -> None:
        found = await connection.scalar(
            select(t.patients.c.patient_ref).where(
                t.patients.c.patient_ref == patient_ref, t.patients.c.ods_code == self.ods_code
            )
        )
        if found is None:
            self._refuse(Refusal.PATIENT_NOT_FOUND)


class SandboxSupplier(SimulatedSupplier, AccessChangesMixin):
    """The simulated supplier with the access changes a practice approves."""
