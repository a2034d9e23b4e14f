"""The GP Connect adapter: one practice's system behind the `GPSystem` port.

Covered, over the wire:
- linkage by demographics, patient demographics (Foundations: Find / Read a patient);
- appointments (Appointment Management 1.2.x, FHIR STU3): search free slots, book,
  cancel (PUT with If-Match), list future appointments;
- repeat prescriptions (Patient Facing Prescriptions, FHIR R4): courses as
  MedicationRequest, requests as Task (order, list, cancel);
- record entries (Access Record Structured, FHIR STU3 $gpc.getstructuredrecord).

Derived rather than fetched, because GP Connect has no such interaction:
- relationships: the user's own record only (GP Connect has no proxy model);
- practice settings: from the practices file (name) and the defaults below, which the
  practices file's `policy` overrides;
- cancellation reasons: none (GP Connect takes a free-text reason).

Refused with `GPForbidden` (plain-English detail), never invented:
- record access settings (level, prospective/historic, declined, enhanced review);
- documents and document content, nominated pharmacy, messages to the practice.
`link_by_credentials` raises `LinkageMethodUnsupported`: NHS login's IM1 linkage key means nothing
to GP Connect.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from app.adapters.gpconnect import fhir
from app.adapters.gpconnect import interactions as wire
from app.adapters.gpconnect.client import (
    ORGANISATION_READ_SCOPE,
    WRITE_SCOPE,
    GPConnectClient,
)
from app.adapters.gpconnect.outcomes import Operation
from app.clock import Clock, today
from app.gp.errors import (
    CourseNotOrderable,
    GPError,
    GPForbidden,
    GPSystemUnavailable,
    LinkageMethodUnsupported,
    NotCancellable,
    NotFoundInGPSystem,
    PatientNotFound,
)
from app.gp.types import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    BookingReasonPolicy,
    BookingRequest,
    CancellationReason,
    Course,
    CourseKind,
    DemographicMatch,
    Document,
    DocumentContent,
    GPCredentials,
    LinkedUser,
    NotOrderableReason,
    Patient,
    Permissions,
    Pharmacy,
    PracticeMessage,
    PracticeSettings,
    PrescriptionRequest,
    PrescriptionRequestStatus,
    RecordAccess,
    RecordAccessLevel,
    RecordEntry,
    RecordSection,
    Relationship,
    RelationshipKind,
    Slot,
)

logger = logging.getLogger(__name__)

# Search for free slots: "SHALL request a maximum date range covering a two week period".
MAX_SLOT_SEARCH = timedelta(days=14)
# Longer than any appointment slot: consecutive two-week searches overlap by this much.
SLOT_SEARCH_OVERLAP = timedelta(hours=12)
# Retrieve a patient's appointments needs an explicit future range; a year covers any booking.
APPOINTMENT_HORIZON = timedelta(days=366)
NHS_NUMBER_CACHE_SIZE = 1024

DEFAULT_CANCELLATION_TEXT = "Cancelled online by the patient"

RECORD_NOT_OFFERED = (
    "Your GP practice's system does not share your online record settings with this app, "
    "so we cannot show your record here yet. You can ask your practice about record access."
)
DOCUMENTS_NOT_OFFERED = (
    "Documents from your GP record are not available through this app for your practice yet."
)
PHARMACY_NOT_OFFERED = (
    "Your nominated pharmacy cannot be viewed or changed through this app for your practice. "
    "You can change it with your pharmacy or your practice."
)
MESSAGES_NOT_OFFERED = (
    "Your GP practice's system does not accept messages through this app. "
    "Please contact your practice directly."
)
CREDENTIALS_NOT_OFFERED = (
    "Your GP practice's system does not use NHS login linkage details. "
    "Please sign in again so that we can find your record by your NHS number."
)


def default_settings(ods_code: str, name: str) -> PracticeSettings:
    """What a practice on GP Connect allows, where GP Connect does not say.

    Each value is a conservative default that the practices file's `policy` overrides.
    """
    return PracticeSettings(
        ods_code=ods_code,
        name=name,
        appointments_enabled=True,
        prescriptions_enabled=True,
        # The online record access level is not exposed by GP Connect (see RECORD_NOT_OFFERED).
        record_enabled=False,
        booking_reason=BookingReasonPolicy.OPTIONAL,
        # Appointment.description is capped at 100 characters by the spec, and a temporary
        # contact number shares it ("Tel: " + number).
        booking_reason_max_length=75,
        max_future_appointments=4,
        booking_window=timedelta(days=28),
        default_search_window=MAX_SLOT_SEARCH,
        cancellation_cutoff=timedelta(hours=1),
        has_cancellation_reasons=False,
        max_prescription_items=10,
        prescription_note_max_length=500,
        minimum_reorder_interval=timedelta(0),
    )


@contextlib.contextmanager
def _wire_shape() -> Iterator[None]:
    """A response that does not have the shape the spec promises is a provider fault."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        logger.warning("GP Connect response was malformed", extra={"error": type(exc).__name__})
        raise GPSystemUnavailable(supplier_code="MALFORMED_RESPONSE") from None


def _resource(payload: Any, resource_type: str) -> dict[str, Any]:
    if not isinstance(payload, dict) or payload.get("resourceType") != resource_type:
        raise GPSystemUnavailable(supplier_code="MALFORMED_RESPONSE")
    return payload


class GPConnectAdapter:
    """One practice over GP Connect. Stateless apart from a bounded NHS number cache."""

    def __init__(
        self,
        client: GPConnectClient,
        *,
        ods_code: str,
        practice_name: str,
        booking_organisation: fhir.BookingOrganisation,
        clock: Clock,
    ) -> None:
        self._client = client
        self._ods_code = ods_code
        self._practice_name = practice_name
        self._organisation = booking_organisation
        self._clock = clock
        # Prescriptions (R4) and the structured record address the patient by NHS number,
        # appointments by the provider's logical id: remember the pairing, within bounds.
        self._nhs_numbers: OrderedDict[str, str] = OrderedDict()

    @property
    def ods_code(self) -> str:
        return self._ods_code

    # --- linkage and people ---------------------------------------------

    async def link_by_credentials(self, credentials: GPCredentials) -> LinkedUser:
        raise LinkageMethodUnsupported(CREDENTIALS_NOT_OFFERED, supplier_code="NOT_SUPPORTED")

    async def link_by_demographics(self, match: DemographicMatch) -> LinkedUser:
        """Find a patient by NHS number, then check surname and date of birth agree."""
        bundle = await self._client.send(
            "GET",
            "Patient",
            interaction=wire.SEARCH_PATIENT,
            params=[("identifier", f"{wire.NHS_NUMBER_SYSTEM}|{match.nhs_number}")],
        )
        with _wire_shape():
            candidates = [
                fhir.patient_from_fhir(resource, ods_code=self._ods_code)
                for resource in fhir.bundle_resources(_resource(bundle, "Bundle"), "Patient")
            ]
        for patient in candidates:
            if (
                patient.nhs_number == match.nhs_number
                and patient.family_name.casefold() == match.family_name.strip().casefold()
                and patient.birth_date == match.birth_date
            ):
                self._remember(patient)
                return LinkedUser(
                    user_ref=patient.patient_ref,
                    ods_code=self._ods_code,
                    nhs_number=patient.nhs_number,
                )
        raise PatientNotFound()

    async def get_patient(self, patient_ref: str) -> Patient:
        payload = await self._client.send(
            "GET", f"Patient/{patient_ref}", interaction=wire.READ_PATIENT
        )
        with _wire_shape():
            patient = fhir.patient_from_fhir(_resource(payload, "Patient"), ods_code=self._ods_code)
        self._remember(patient)
        return patient

    async def list_relationships(self, user_ref: str) -> list[Relationship]:
        """Only the user's own record: GP Connect has no proxy (RelatedPerson) interaction."""
        patient = await self.get_patient(user_ref)
        return [
            Relationship(
                patient=patient,
                kind=RelationshipKind.SELF,
                permissions=Permissions(
                    appointments=True,
                    prescriptions=True,
                    record_level=RecordAccessLevel.NONE,
                ),
            )
        ]

    async def get_practice_settings(self) -> PracticeSettings:
        return default_settings(self._ods_code, self._practice_name)

    # --- appointments -----------------------------------------------------

    async def search_slots(
        self,
        start: datetime,
        end: datetime,
        *,
        appointment_type: AppointmentType | None = None,
        clinician: str | None = None,
    ) -> list[Slot]:
        """Free slots in [start, end), in two-week searches; past slots are left out
        because Book an appointment refuses them."""
        start = max(start, self._clock.now())
        found: dict[str, Slot] = {}
        window_start = start
        while window_start < end:
            window_end = min(window_start + MAX_SLOT_SEARCH, end)
            for slot in await self._search_window(window_start, window_end):
                found[slot.slot_id] = slot
            if window_end >= end:
                break
            # A search returns slots that start and end inside its range, so a slot
            # across the boundary is in neither window unless the next one overlaps.
            window_start = window_end - SLOT_SEARCH_OVERLAP
        wanted = (clinician or "").casefold()
        return sorted(
            (
                slot
                for slot in found.values()
                if start <= slot.start < end
                and (appointment_type is None or slot.type is appointment_type)
                and (not wanted or wanted in slot.clinician.name.casefold())
            ),
            key=lambda slot: (slot.start, slot.slot_id),
        )

    async def _search_window(self, start: datetime, end: datetime) -> list[Slot]:
        bundle = await self._client.send(
            "GET",
            "Slot",
            interaction=wire.SEARCH_SLOTS,
            scope=ORGANISATION_READ_SCOPE,
            params=[
                ("start", f"ge{fhir.wire_instant(start)}"),
                ("end", f"le{fhir.wire_instant(end)}"),
                ("status", "free"),
                ("_include", "Slot:schedule"),
                ("_include:recurse", "Schedule:actor:Practitioner"),
                ("_include:recurse", "Schedule:actor:Location"),
                ("searchFilter", f"{wire.ODS_CODE_SYSTEM}|{self._organisation.ods_code}"),
            ],
        )
        with _wire_shape():
            return fhir.slots_from_bundle(_resource(bundle, "Bundle"))

    async def list_appointments(self, patient_ref: str) -> list[Appointment]:
        """Future appointments only: Retrieve a patient's appointments "has been restricted
        to future appointments" by GP Connect's information governance rules."""
        first_day = today(self._clock)
        bundle = await self._client.send(
            "GET",
            f"Patient/{patient_ref}/Appointment",
            interaction=wire.SEARCH_PATIENT_APPOINTMENTS,
            params=[
                ("start", f"ge{first_day.isoformat()}"),
                ("start", f"le{(first_day + APPOINTMENT_HORIZON).isoformat()}"),
            ],
        )
        with _wire_shape():
            resources = list(fhir.bundle_resources(_resource(bundle, "Bundle"), "Appointment"))
            index = fhir.ResourceIndex.of_bundle(bundle)
        appointments = [await self._appointment(resource, index) for resource in resources]
        return sorted(appointments, key=lambda a: (a.start, a.appointment_id))

    async def _appointment(
        self, resource: Mapping[str, Any], index: fhir.ResourceIndex | None = None
    ) -> Appointment:
        """Map an Appointment, reading Practitioner and Location where it has no display."""
        index = index or fhir.ResourceIndex(())
        for actor in fhir.unresolved_participants(resource):
            if index.get(actor) is not None:
                continue
            for kind, interaction in (
                ("Practitioner", wire.READ_PRACTITIONER),
                ("Location", wire.READ_LOCATION),
            ):
                ident = fhir.ref_id(actor, kind)
                if ident:
                    # Display names only: a failed read must not turn a booking or
                    # cancellation that has already happened into an error.
                    try:
                        found = await self._client.send(
                            "GET", f"{kind}/{ident}", interaction=interaction
                        )
                    except GPError:
                        continue
                    if isinstance(found, dict):
                        index.add(found)
        with _wire_shape():
            return fhir.appointment_from_fhir(resource, index)

    async def book_appointment(self, request: BookingRequest) -> Appointment:
        try:
            key = fhir.SlotKey.decode(request.slot_id)
        except fhir.MalformedResource:
            raise NotFoundInGPSystem() from None
        body = fhir.appointment_to_fhir(request, key, self._organisation, self._clock.now())
        payload = await self._client.send(
            "POST",
            "Appointment",
            interaction=wire.CREATE_APPOINTMENT,
            operation=Operation.BOOK,
            scope=WRITE_SCOPE,
            body=body,
        )
        appointment = await self._appointment(_resource(payload, "Appointment"))
        return _with_booker(appointment, request)

    async def cancel_appointment(
        self, patient_ref: str, appointment_id: str, *, reason_code: str | None, actor_ref: str
    ) -> Appointment:
        """Read, then PUT the same resource with status `cancelled`, the cancellation-reason
        extension and `If-Match` of the version read (Cancel an appointment, 1.2.x)."""
        current = _resource(
            await self._client.send(
                "GET",
                f"Appointment/{appointment_id}",
                interaction=wire.READ_APPOINTMENT,
                operation=Operation.CANCEL,
            ),
            "Appointment",
        )
        with _wire_shape():
            existing = fhir.appointment_from_fhir(current)
        if existing.patient_ref != patient_ref:
            # Another patient's appointment is, for this patient, one that does not exist.
            raise NotFoundInGPSystem()
        if existing.status is not AppointmentStatus.BOOKED:
            raise NotCancellable(supplier_code=f"STATUS {current.get('status')}")
        if existing.start <= self._clock.now():
            # "The consumer SHALL only cancel future appointments."
            raise NotCancellable("Only future appointments can be cancelled online.")
        reason = DEFAULT_CANCELLATION_TEXT + (f" ({reason_code})" if reason_code else "")
        payload = await self._client.send(
            "PUT",
            f"Appointment/{appointment_id}",
            interaction=wire.CANCEL_APPOINTMENT,
            operation=Operation.CANCEL,
            scope=WRITE_SCOPE,
            body=fhir.cancelled_copy(current, reason),
            extra_headers={"If-Match": fhir.etag(current)},
        )
        return await self._appointment(_resource(payload, "Appointment"))

    async def list_cancellation_reasons(self) -> list[CancellationReason]:
        return []

    # --- prescriptions --------------------------------------------------------

    async def list_courses(self, patient_ref: str) -> list[Course]:
        nhs_number = await self._nhs_number(patient_ref)
        bundle = await self._client.send(
            "GET", f"Patient/{nhs_number}/MedicationRequest", interaction=None
        )
        with _wire_shape():
            return fhir.courses_from_bundle(_resource(bundle, "Bundle"))

    async def _tasks(self, nhs_number: str) -> list[dict[str, Any]]:
        bundle = await self._client.send(
            "GET", "Task", interaction=None, params=[("patient", nhs_number)]
        )
        with _wire_shape():
            return [
                dict(task) for task in fhir.bundle_resources(_resource(bundle, "Bundle"), "Task")
            ]

    async def list_prescription_requests(self, patient_ref: str) -> list[PrescriptionRequest]:
        tasks = await self._tasks(await self._nhs_number(patient_ref))
        with _wire_shape():
            return fhir.requests_from_tasks(tasks, patient_ref=patient_ref)

    async def request_prescription(
        self, patient_ref: str, course_ids: list[str], *, note: str | None, actor_ref: str
    ) -> PrescriptionRequest:
        """POST one Task per course. Acute courses are refused before anything is sent:
        only repeat prescriptions can be reordered ("a request for a new issue of a
        repeat prescription", Patient Facing Prescriptions)."""
        nhs_number = await self._nhs_number(patient_ref)
        courses = {course.course_id: course for course in await self.list_courses(patient_ref)}
        for course_id in course_ids:
            course = courses.get(course_id)
            if course is None:
                raise NotFoundInGPSystem()
            if course.kind is CourseKind.ACUTE:
                raise CourseNotOrderable(NotOrderableReason.NOT_A_REPEAT, course_id=course_id)
        request_id = fhir.new_request_id()
        created: list[dict[str, Any]] = []
        for task in fhir.order_tasks(
            patient_ref,
            nhs_number,
            course_ids,
            note=note,
            actor_ref=actor_ref,
            request_id=request_id,
            authored=self._clock.now(),
        ):
            payload = await self._client.send(
                "POST",
                "Task",
                interaction=None,
                operation=Operation.ORDER,
                scope=WRITE_SCOPE,
                body=task,
            )
            created.append(payload if isinstance(payload, dict) else task)
        with _wire_shape():
            (request,) = fhir.requests_from_tasks(created, patient_ref=patient_ref)
        return request

    async def cancel_prescription_request(
        self, patient_ref: str, request_id: str, *, actor_ref: str
    ) -> PrescriptionRequest:
        """PATCH each of the request's Tasks to `cancelled` (only while `requested`)."""
        nhs_number = await self._nhs_number(patient_ref)
        members = [t for t in await self._tasks(nhs_number) if fhir.task_group(t) == request_id]
        if not members:
            raise NotFoundInGPSystem()
        if any(task.get("status") != "requested" for task in members):
            raise GPForbidden(
                "This request is already being dealt with, so it cannot be cancelled online."
            )
        updated: list[dict[str, Any]] = []
        for task in members:
            payload = await self._client.send(
                "PATCH",
                f"Task/{task['id']}",
                interaction=None,
                operation=Operation.CANCEL_ORDER,
                scope=WRITE_SCOPE,
                body=[{"op": "replace", "path": "/status", "value": "cancelled"}],
                content_type=wire.JSON_PATCH,
            )
            updated.append(
                payload if isinstance(payload, dict) else {**task, "status": "cancelled"}
            )
        with _wire_shape():
            (request,) = fhir.requests_from_tasks(updated, patient_ref=patient_ref)
        if request.status is not PrescriptionRequestStatus.CANCELLED:
            raise GPSystemUnavailable(supplier_code="MALFORMED_RESPONSE")
        return request

    async def get_nominated_pharmacy(self, patient_ref: str) -> Pharmacy | None:
        raise GPForbidden(PHARMACY_NOT_OFFERED, supplier_code="NOT_SUPPORTED")

    async def set_nominated_pharmacy(
        self, patient_ref: str, pharmacy_ods_code: str, *, actor_ref: str
    ) -> Pharmacy:
        raise GPForbidden(PHARMACY_NOT_OFFERED, supplier_code="NOT_SUPPORTED")

    # --- the record -------------------------------------------------------------

    async def get_record_access(self, patient_ref: str) -> RecordAccess:
        raise GPForbidden(RECORD_NOT_OFFERED, supplier_code="NOT_SUPPORTED")

    async def list_record_entries(
        self, patient_ref: str, section: RecordSection
    ) -> list[RecordEntry]:
        if section not in fhir.SECTION_LISTS:
            raise GPForbidden(DOCUMENTS_NOT_OFFERED, supplier_code="NOT_SUPPORTED")
        nhs_number = await self._nhs_number(patient_ref)
        bundle = await self._client.send(
            "POST",
            "Patient/$gpc.getstructuredrecord",
            interaction=wire.GET_STRUCTURED_RECORD,
            body=fhir.structured_record_parameters(nhs_number, section),
        )
        with _wire_shape():
            return fhir.record_entries_from_bundle(_resource(bundle, "Bundle"), section)

    async def list_documents(self, patient_ref: str) -> list[Document]:
        raise GPForbidden(DOCUMENTS_NOT_OFFERED, supplier_code="NOT_SUPPORTED")

    async def get_document_content(self, patient_ref: str, document_id: str) -> DocumentContent:
        raise GPForbidden(DOCUMENTS_NOT_OFFERED, supplier_code="NOT_SUPPORTED")

    # --- messages -----------------------------------------------------------------

    async def send_message(self, patient_ref: str, message: PracticeMessage) -> str:
        raise GPForbidden(MESSAGES_NOT_OFFERED, supplier_code="NOT_SUPPORTED")

    # --- helpers ------------------------------------------------------------------

    def _remember(self, patient: Patient) -> None:
        self._nhs_numbers[patient.patient_ref] = patient.nhs_number
        self._nhs_numbers.move_to_end(patient.patient_ref)
        while len(self._nhs_numbers) > NHS_NUMBER_CACHE_SIZE:
            self._nhs_numbers.popitem(last=False)

    async def _nhs_number(self, patient_ref: str) -> str:
        known = self._nhs_numbers.get(patient_ref)
        if known is not None:
            self._nhs_numbers.move_to_end(patient_ref)
            return known
        return (await self.get_patient(patient_ref)).nhs_number


def _with_booker(appointment: Appointment, request: BookingRequest) -> Appointment:
    """GP Connect has no element for who booked; keep what the caller told us."""
    return replace(
        appointment,
        booked_by_ref=request.actor_ref,
        telephone_number=request.telephone_number,
    )
