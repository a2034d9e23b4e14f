"""Who the stand-in serves: each patient found by NHS number at a served practice.

The port has no search by NHS number, so the sandbox's own catalogue of people with an
NHS login account (`persona_catalogue`, its public API) says at which practice each
NHS number is registered, under which id; the GP system itself is then asked for the
patient through the port (`get_patient`), and must agree on the NHS number.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from app.adapters.sandbox.personas import persona_catalogue
from app.clock import Clock, today
from app.gp.errors import PatientNotFound
from app.gp.port import GPSystem
from app.gp.types import Patient

MAX_REMEMBERED: Final = 10_000


@dataclass(frozen=True, slots=True)
class Registered:
    """A patient and the GP system of the practice they are registered at."""

    system: GPSystem
    patient: Patient


@dataclass(frozen=True, slots=True)
class _Entry:
    ods_code: str
    patient_ref: str
    identity_level: str


class PatientDirectory:
    """NHS number → the patient at one of the served practices."""

    def __init__(self, systems: Mapping[str, GPSystem], clock: Clock) -> None:
        self.systems = dict(systems)
        self._clock = clock
        self._by_number: dict[str, _Entry] = {}
        self._by_subject: dict[str, str] = {}
        self._remembered: OrderedDict[str, str] = OrderedDict()
        for persona in persona_catalogue(today(clock), include_load_test=True):
            if persona.ods_code in self.systems:
                self._by_number[persona.nhs_number] = _Entry(
                    persona.ods_code, persona.patient_ref, persona.identity_proofing_level
                )
                self._by_subject[persona.nhs_login_claims["sub"]] = persona.nhs_number

    def nhs_number_of_subject(self, subject: str) -> str | None:
        """The NHS number of an NHS login `sub`, for ID tokens that carry no `nhs_number`."""
        return self._by_subject.get(subject)

    async def find(self, nhs_number: str) -> Registered:
        """Raises `PatientNotFound` where no served practice has this NHS number."""
        entry = self._by_number.get(nhs_number)
        if entry is None:
            raise PatientNotFound()
        system = self.systems[entry.ods_code]
        patient = await system.get_patient(entry.patient_ref)
        if patient.nhs_number != nhs_number:
            raise PatientNotFound()
        return Registered(system, patient)

    def remember(self, key: str, value: str) -> None:
        """Keep a fact the port does not (whose an appointment is, a Task's identifier)."""
        self._remembered[key] = value
        self._remembered.move_to_end(key)
        while len(self._remembered) > MAX_REMEMBERED:
            self._remembered.popitem(last=False)

    def recall(self, key: str) -> str | None:
        return self._remembered.get(key)

    def practice(self, ods_code: str | None) -> GPSystem:
        """The served practice `ods_code`, or the first one. Raises `KeyError`."""
        if ods_code is None:
            return next(iter(self.systems.values()))
        return self.systems[ods_code]
