"""OpenAPI links: how one answer's ids feed the next request, journey by journey.

A client (or Schemathesis's stateful tests) can follow them from the people a user
may act for, to the free slots, a booking, and reading or cancelling it; and to the
repeat medicines, an order, and reading or withdrawing it. Each names the operation
it leads to by `operationId`, with runtime expressions (OpenAPI 3.1 §4.8.20.4) for
the values taken from the answer or the request that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SAME_PATIENT = {"patient_id": "$request.path.patient_id"}


@dataclass(frozen=True, slots=True)
class Link:
    source: str  # operationId whose answer the link leaves from
    status: str
    name: str
    target: str  # operationId it leads to
    description: str
    parameters: dict[str, str] = field(default_factory=dict)
    request_body: Any = None

    def definition(self) -> dict[str, Any]:
        link: dict[str, Any] = {
            "operationId": self.target,
            "description": self.description,
            "parameters": self.parameters,
        }
        if self.request_body is not None:
            link["requestBody"] = self.request_body
        return link


def _first_person(target: str, name: str, description: str) -> Link:
    return Link(
        "list_linked_profiles",
        "200",
        name,
        target,
        description + " The first person listed; any item's `patient_id` will do.",
        {"patient_id": "$response.body#/items/0/patient_id"},
    )


JOURNEYS: tuple[Link, ...] = (
    _first_person("search_slots", "FreeSlots", "Their free appointment slots."),
    _first_person("list_courses", "RepeatMedicines", "Their repeat medicines."),
    Link(
        "search_slots",
        "200",
        "BookFirstSlot",
        "book_appointment",
        "Book the first slot listed; any item's `slot_id` will do. Add `reason` where "
        "the practice asks for one.",
        SAME_PATIENT,
        {"slot_id": "$response.body#/items/0/slot_id"},
    ),
    Link(
        "book_appointment",
        "201",
        "ReadAppointment",
        "get_appointment",
        "The appointment just booked.",
        {**SAME_PATIENT, "appointment_id": "$response.body#/appointment_id"},
    ),
    Link(
        "book_appointment",
        "201",
        "CancelAppointment",
        "cancel_appointment",
        "Cancel the appointment just booked (with a `reason_code` where the practice's "
        "cancellation reasons are `required`).",
        {**SAME_PATIENT, "appointment_id": "$response.body#/appointment_id"},
    ),
    Link(
        "list_courses",
        "200",
        "OrderFirstMedicine",
        "request_repeats",
        "Order the first medicine listed; any item's `course_id` whose `orderable` is "
        "true will do. Add `note` where the practice asks for one.",
        SAME_PATIENT,
        {"course_ids": ["$response.body#/items/0/course_id"]},
    ),
    Link(
        "request_repeats",
        "201",
        "ReadRequest",
        "get_request",
        "The request just made.",
        {**SAME_PATIENT, "request_id": "$response.body#/request_id"},
    ),
    Link(
        "request_repeats",
        "201",
        "WithdrawRequest",
        "cancel_request",
        "Withdraw the request just made, where the practice's system allows it.",
        {**SAME_PATIENT, "request_id": "$response.body#/request_id"},
    ),
)


def add_links(schema: dict[str, Any]) -> None:
    """Put each journey's links on the responses they leave from."""
    operations = {
        operation["operationId"]: operation
        for path_item in schema.get("paths", {}).values()
        for operation in path_item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    for link in JOURNEYS:
        response = operations[link.source]["responses"][link.status]
        response.setdefault("links", {})[link.name] = link.definition()
