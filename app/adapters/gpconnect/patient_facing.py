"""A client for one of GP Connect's patient-facing APIs on the NHS API platform:
appointments, access record (FHIR STU3), prescriptions (FHIR R4), user permissions (JSON).

Not the Spine direct-care route: no Ssp-* headers, no unsigned JWT naming a
practitioner. Every call carries, as each of these APIs' specifications require:
- `Authorization: Bearer <access token>`: the patient's own, from `PatientTokenExchange`;
- `X-Request-ID`: a UUID per request, which the platform uses to de-duplicate. A re-sent
  request must reuse it, so callers that may re-send (creating a Task) pass their own;
- `X-Correlation-ID`: one per patient action, shared by the calls it makes, for tracing.

A 401 means the platform refused the patient's token: the call is re-sent once with a
renewed token and the same X-Request-ID (nothing was done the first time); a second
401 asks the patient to sign in again. Other failures map as for Spine.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from app.adapters.gpconnect import interactions as wire
from app.adapters.gpconnect.client import answer, deliver
from app.adapters.gpconnect.outcomes import Operation
from app.adapters.gpconnect.patient_access import SIGN_IN_AGAIN, PatientTokenExchange
from app.gp.errors import SignInAgain


@dataclass(frozen=True, slots=True)
class PatientFacingEndpoint:
    base_url: str  # e.g. …/gp-connect/patient-facing/appointments-management-fhir/FHIR/STU3
    ods_code: str  # for log lines only: the platform routes by the patient's registration
    timeout: httpx.Timeout


class PatientFacingClient:
    """Sends requests to one patient-facing API on behalf of the patient it names."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        endpoint: PatientFacingEndpoint,
        tokens: PatientTokenExchange,
    ) -> None:
        self._http = http
        self._endpoint = endpoint
        self._tokens = tokens

    async def send(
        self,
        method: str,
        path: str,
        *,
        nhs_number: str,
        operation: Operation = Operation.READ,
        params: Sequence[tuple[str, str]] | None = None,
        body: Any = None,
        request_id: str | None = None,
        correlation_id: str | None = None,
        accept: str = wire.FHIR_JSON,
    ) -> Any:
        """The response's JSON body; raises a domain error for anything but 2xx."""
        headers = {
            "Accept": accept,
            "X-Request-ID": request_id or str(uuid.uuid4()),
            "X-Correlation-ID": correlation_id or str(uuid.uuid4()),
        }
        content = None
        if body is not None:
            headers["Content-Type"] = wire.FHIR_JSON
            content = json.dumps(body).encode()
        url = f"{self._endpoint.base_url.rstrip('/')}/{path.lstrip('/')}"
        label = f"{method} {path.split('/')[0]}"
        renew = False
        for _attempt in range(2):
            token = await self._tokens.token_for(nhs_number, renew=renew)
            response = await deliver(
                self._http,
                method,
                url,
                params=params,
                content=content,
                headers={**headers, "Authorization": f"Bearer {token}"},
                timeouts=self._endpoint.timeout,
                ods_code=self._endpoint.ods_code,
                label=label,
            )
            if response.status_code != 401:
                return answer(response, operation, ods_code=self._endpoint.ods_code, label=label)
            renew = True
        raise SignInAgain(SIGN_IN_AGAIN, supplier_code="ACCESS_TOKEN_REFUSED")
