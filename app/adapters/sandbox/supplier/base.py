"""What every capability of the simulated supplier shares: the practice and patient
reads, the per-patient write lock, the practice's settings, and refusals in the
supplier's own words (`SupplierError`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.adapters.sandbox import tables
from app.adapters.sandbox.profiles import CancellationReasons, Refusal, SupplierProfile
from app.clock import Clock, today
from app.db import autocommit
from app.gp.errors import NotAvailableAtPractice
from app.gp.types import BookingReasonPolicy, Capability, PracticeSettings, RecordGrants

t = tables


class SupplierError(Exception):
    """A refusal in the supplier's own words: its error code."""

    def __init__(self, code: str, *, course_id: str | None = None) -> None:
        self.code = code
        self.course_id = course_id
        super().__init__(f"supplier error {code}")


# The statements behind the most frequent calls, built once: building a statement
# costs more CPU than running it, on the event loop the service shares.
PRACTICE = select(t.practices).where(t.practices.c.ods_code == bindparam("ods_code"))
PATIENT = select(t.patients).where(
    t.patients.c.patient_ref == bindparam("patient_ref"),
    t.patients.c.ods_code == bindparam("ods_code"),
)


class SupplierBase:
    """One practice's simulated clinical system: what each capability's mixin builds on."""

    def __init__(
        self, engine: AsyncEngine, profile: SupplierProfile, ods_code: str, clock: Clock
    ) -> None:
        self._engine = engine
        # Reads run outside a transaction: one round trip each, not BEGIN, the
        # statement and ROLLBACK. Writes keep their transactions (`_engine.begin()`).
        self._reader = autocommit(engine)
        self.profile = profile
        self.ods_code = ods_code
        self._clock = clock

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.profile.capabilities

    def _refuse(self, refusal: Refusal, *, course_id: str | None = None) -> NoReturn:
        raise SupplierError(self.profile.code(refusal), course_id=course_id)

    def _require(self, capability: Capability) -> None:
        # A system without the feature has no call for it at all.
        if capability not in self.profile.capabilities:
            raise NotAvailableAtPractice(capability, supplier_code="NOT_SUPPORTED")

    # --- reading helpers ------------------------------------------------------

    async def _practice(self, connection: AsyncConnection) -> Row[Any]:
        row = (await connection.execute(PRACTICE, {"ods_code": self.ods_code})).first()
        if row is None:
            self._refuse(Refusal.UNAVAILABLE)
        return row

    async def _patient(self, connection: AsyncConnection, patient_ref: str) -> Row[Any]:
        row = (
            await connection.execute(
                PATIENT, {"patient_ref": patient_ref, "ods_code": self.ods_code}
            )
        ).first()
        if row is None:
            self._refuse(Refusal.PATIENT_NOT_FOUND)
        return row

    async def _lock_patient(self, connection: AsyncConnection, patient_ref: str) -> None:
        """Serialise writes for one patient (booking limit, pending requests).

        A write rather than SELECT … FOR UPDATE so that SQLite, which has no row
        locks, takes its database write lock here too.
        """
        result = await connection.execute(
            update(t.patients)
            .where(t.patients.c.patient_ref == patient_ref, t.patients.c.ods_code == self.ods_code)
            .values(lock_version=t.patients.c.lock_version + 1)
        )
        if result.rowcount != 1:
            self._refuse(Refusal.PATIENT_NOT_FOUND)

    def _now(self) -> datetime:
        return self._clock.now()

    def _today(self) -> date:
        return today(self._clock)

    def _settings(self, practice: Row[Any]) -> PracticeSettings:
        cutoff = max(
            timedelta(minutes=practice.cancellation_cutoff_minutes),
            self.profile.minimum_cancellation_cutoff,
        )
        return PracticeSettings(
            ods_code=practice.ods_code,
            name=practice.name,
            appointments_enabled=practice.appointments_enabled,
            prescriptions_enabled=practice.prescriptions_enabled,
            record_enabled=practice.record_enabled,
            booking_reason=BookingReasonPolicy(practice.booking_reason),
            booking_reason_max_length=practice.booking_reason_max_length,
            max_future_appointments=practice.max_future_appointments,
            booking_window=timedelta(days=practice.booking_window_days),
            default_search_window=timedelta(days=practice.default_search_days),
            cancellation_cutoff=cutoff,
            has_cancellation_reasons=self.profile.cancellation_reasons
            is not CancellationReasons.NONE,
            max_prescription_items=practice.max_prescription_items,
            prescription_note_max_length=practice.prescription_note_max_length,
            minimum_reorder_interval=timedelta(days=practice.minimum_reorder_days),
            prescription_note_required=practice.prescription_note_required,
        )

    @staticmethod
    def _grants(patient: Row[Any]) -> RecordGrants:
        return RecordGrants(
            summary=patient.record_summary,
            detailed_coded=patient.record_detailed_coded,
            full_from=patient.prospective_from,
            historic=patient.historic_access,
        )
