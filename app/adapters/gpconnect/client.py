"""One practice's GP Connect endpoint: headers, the access JWT, and failure mapping.

Every request carries Ssp-TraceID, Ssp-From, Ssp-To and `Authorization: Bearer <JWT>`;
Spine interactions also carry Ssp-InteractionID (GP Connect "Request headers" of each
use case). Transport failures and timeouts become `GPSystemUnavailable`; other non-2xx
responses go through `outcomes.error_for_response`.

Log lines name the interaction, status and Spine code only: never URLs (they can hold a
patient id), bodies or diagnostics.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from app.adapters.gpconnect import interactions as wire
from app.adapters.gpconnect.outcomes import Operation, error_for_response, spine_code
from app.adapters.gpconnect.settings import GPConnectSettings
from app.clock import Clock
from app.gp.errors import GPSystemUnavailable

logger = logging.getLogger(__name__)

READ_SCOPE = "patient/*.read"
WRITE_SCOPE = "patient/*.write"
ORGANISATION_READ_SCOPE = "organization/*.read"


@dataclass(frozen=True, slots=True)
class Endpoint:
    base_url: str
    ods_code: str
    provider_asid: str
    timeout: httpx.Timeout


def _b64(data: Mapping[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class GPConnectClient:
    """Sends one request at a time to one practice's endpoint through a shared httpx client."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        endpoint: Endpoint,
        settings: GPConnectSettings,
        clock: Clock,
        *,
        system_url: str,
    ) -> None:
        self._http = http
        self._endpoint = endpoint
        self._settings = settings
        self._clock = clock
        self._system_url = system_url

    def access_token(self, scope: str) -> str:
        """The GP Connect JWT (unsigned, `alg: none`, as GP Connect 1.x specifies): audit
        and provenance claims. No patient data: the requesting user is this system."""
        now = int(self._clock.now().timestamp())
        ods = self._settings.consumer_ods_code
        claims = {
            "iss": self._system_url,
            "sub": "gp-online",
            "aud": self._endpoint.base_url,
            "exp": now + self._settings.jwt_lifetime_seconds,
            "iat": now,
            "reason_for_request": "directcare",
            "requested_scope": scope,
            "requesting_device": {
                "resourceType": "Device",
                "identifier": [{"system": self._system_url, "value": "gp-online"}],
                "model": "GP Online",
                "version": "1",
            },
            "requesting_organization": {
                "resourceType": "Organization",
                "identifier": [{"system": wire.ODS_CODE_SYSTEM, "value": ods}],
                "name": self._settings.consumer_name,
            },
            "requesting_practitioner": {
                "resourceType": "Practitioner",
                "id": "gp-online",
                "identifier": [
                    {"system": wire.SDS_USER_SYSTEM, "value": "UNK"},
                    {"system": wire.SDS_ROLE_PROFILE_SYSTEM, "value": "UNK"},
                    {"system": f"{self._system_url}/Id/user", "value": "gp-online"},
                ],
                "name": [{"family": self._settings.consumer_name}],
            },
        }
        return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."

    def headers(self, interaction: str | None, scope: str) -> dict[str, str]:
        trace_id = str(uuid.uuid4())
        headers = {
            "Accept": wire.FHIR_JSON,
            "Ssp-TraceID": trace_id,
            "Ssp-From": self._settings.consumer_asid,
            "Ssp-To": self._endpoint.provider_asid,
            "Authorization": f"Bearer {self.access_token(scope)}",
            "X-Request-ID": trace_id,
        }
        if interaction is not None:
            headers["Ssp-InteractionID"] = interaction
        return headers

    async def send(
        self,
        method: str,
        path: str,
        *,
        interaction: str | None,
        operation: Operation = Operation.READ,
        scope: str = READ_SCOPE,
        params: Sequence[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = wire.FHIR_JSON,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Any:
        """The response's JSON body; raises a domain error for anything but 2xx."""
        headers = self.headers(interaction, scope)
        if extra_headers:
            headers.update(extra_headers)
        content = None
        if body is not None:
            headers["Content-Type"] = content_type
            content = json.dumps(body).encode()
        url = f"{self._endpoint.base_url.rstrip('/')}/{path.lstrip('/')}"
        label = interaction or f"{method} {path.split('/')[0]}"
        response = await deliver(
            self._http,
            method,
            url,
            params=params,
            content=content,
            headers=headers,
            timeouts=self._endpoint.timeout,
            ods_code=self._endpoint.ods_code,
            label=label,
        )
        return answer(response, operation, ods_code=self._endpoint.ods_code, label=label)


async def deliver(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    params: Sequence[tuple[str, str]] | None,
    content: bytes | None,
    headers: Mapping[str, str],
    timeouts: httpx.Timeout,
    ods_code: str,
    label: str,
) -> httpx.Response:
    """Send one request; transport failures and timeouts become `GPSystemUnavailable`."""
    try:
        return await http.request(
            method,
            url,
            params=tuple(params or ()),
            content=content,
            headers=headers,
            timeout=timeouts,
        )
    except httpx.TimeoutException:
        logger.warning(
            "GP Connect call timed out", extra={"ods_code": ods_code, "interaction": label}
        )
        raise GPSystemUnavailable(retry_after=10, supplier_code="TIMEOUT") from None
    except httpx.RequestError as exc:  # transport, decoding, redirect loops
        logger.warning(
            "GP Connect call failed to connect",
            extra={"ods_code": ods_code, "interaction": label, "error": type(exc).__name__},
        )
        raise GPSystemUnavailable(supplier_code="TRANSPORT") from None


def answer(response: httpx.Response, operation: Operation, *, ods_code: str, label: str) -> Any:
    """The response's JSON body if it succeeded, else raise its domain error."""
    payload = _json(response)
    if response.is_success:
        return payload
    error = error_for_response(
        response.status_code,
        payload,
        operation,
        retry_after=response.headers.get("Retry-After"),
    )
    logger.info(
        "GP Connect refused a call",
        extra={
            "ods_code": ods_code,
            "interaction": label,
            "status": response.status_code,
            "spine_code": spine_code(payload),
            "domain_error": error.code,
        },
    )
    raise error


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None
