"""The simulated supplier layer: one set of rules for every profile.

It plays the GP system's side: it reads and writes the sandbox tables and
refuses with the supplier's own error code (`SupplierError`). What differs by
supplier comes from the `SupplierProfile` and the practice's stored policy;
nothing here names a supplier.

Each capability has a module of its own, a mixin over `base.SupplierBase`, as in the
GP Connect adapter: `people.py` (linkage, patients, relationships, practice settings),
`appointments.py`, `prescriptions.py` (and the nominated pharmacy), `record.py` (and
documents), `messages.py`.
"""

from __future__ import annotations

from app.adapters.sandbox.supplier.appointments import AppointmentsMixin
from app.adapters.sandbox.supplier.base import SupplierError
from app.adapters.sandbox.supplier.messages import MessagesMixin
from app.adapters.sandbox.supplier.people import PeopleMixin
from app.adapters.sandbox.supplier.prescriptions import PrescriptionsMixin
from app.adapters.sandbox.supplier.record import RecordMixin

__all__ = ["SimulatedSupplier", "SupplierError"]


class SimulatedSupplier(
    PeopleMixin, AppointmentsMixin, PrescriptionsMixin, RecordMixin, MessagesMixin
):
    """One practice's simulated clinical system."""
