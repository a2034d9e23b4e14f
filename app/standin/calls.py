"""What an operation's handler receives and returns, and its table entry.

Each API's module (`appointments.py`, `record.py`, `permissions.py`,
`prescriptions.py`) lists its operations; the gateway (`app.py`) does everything the
platform does around them, once.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fhir_core.fhirabstractmodel import FHIRAbstractModel
from pydantic import ValidationError

from app.clock import Clock
from app.standin.outcomes import Refused
from app.standin.patients import PatientDirectory, Registered
from app.standin.specification import API, FHIR_JSON

ResourceT = TypeVar("ResourceT", bound=FHIRAbstractModel)


@dataclass(frozen=True, slots=True)
class Call:
    """One request that passed the platform's checks."""

    api: API
    path_params: dict[str, str]
    query: list[tuple[str, str]]
    body: bytes
    holder: str | None  # the NHS number the access token is bound to; None: open access
    directory: PatientDirectory
    clock: Clock
    base_url: str = ""  # the API's base URL as this request reached it, for absolute URLs

    def param(self, name: str) -> str | None:
        return next((value for key, value in self.query if key == name), None)

    def params(self, name: str) -> list[str]:
        return [value for key, value in self.query if key == name]

    async def patient(self, nhs_number: str) -> Registered:
        """The patient a request names, if the token's holder may act for them.

        The platform's rule: a patient's token reaches their own record only (403)."""
        if self.holder is not None and nhs_number != self.holder:
            raise Refused(403, "ACCESS_DENIED", "The access token is not for this patient")
        return await self.directory.find(nhs_number)

    async def holder_patient(self) -> Registered:
        """The token's own patient, for operations that name none (slots, one appointment)."""
        if self.holder is None:
            raise Refused(400, "BAD_REQUEST", "Open access: this operation needs a patient")
        return await self.directory.find(self.holder)

    def resource(self, model: type[ResourceT]) -> ResourceT:
        """The body read as a FHIR resource of `model`'s type (fhir.resources)."""
        try:
            return model.model_validate_json(self.body)
        except ValidationError as exc:
            where = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
                for error in exc.errors()[:5]
            )
            raise Refused(
                422, "INVALID_RESOURCE", f"Not a valid {model.__name__}: {where}"
            ) from None


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]
    content_type: str = FHIR_JSON


Handler = Callable[[Call], Awaitable[Answer]]


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation: its method and path (under the API's base, `{name}` segments)."""

    api: API
    method: str
    path: str
    handler: Handler
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        parts = re.split(r"\{(\w+)\}", self.path)  # literal, name, literal, …
        regex = "".join(
            f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part)
            for index, part in enumerate(parts)
        )
        object.__setattr__(self, "pattern", re.compile(regex + "$"))

    def match(self, relative_path: str) -> dict[str, str] | None:
        found = self.pattern.match(relative_path)
        return None if found is None else found.groupdict()


def json_body(resource: FHIRAbstractModel) -> dict[str, Any]:
    """A resource as JSON, as the library serialises it."""
    body: dict[str, Any] = resource.model_dump(mode="json", exclude_none=True)
    return body
