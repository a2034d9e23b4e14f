"""Sending a GP Connect request and reading its answer, for `patient_facing.py`.

Transport failures and timeouts become `GPSystemUnavailable`; other non-2xx responses
go through `outcomes.error_for_response`.

Log lines name the interaction, status and Spine code only: never URLs (they can hold a
patient id), bodies or diagnostics.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from app.adapters.gpconnect import interactions as wire
from app.adapters.gpconnect.outcomes import Operation, error_for_response, spine_code
from app.gp.errors import GPConfigurationFault, GPSystemUnavailable

logger = logging.getLogger(__name__)

# The one log line of a `GPConfigurationFault`, for alerts to match.
CONFIGURATION_FAULT = "GP Connect configuration fault"


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
    """Send one request; transport failures and timeouts become `GPSystemUnavailable`.
    A FHIR body is declared UTF-8 (`wire.FHIR_JSON_BODY`)."""
    try:
        return await http.request(
            method,
            url,
            params=tuple(params or ()),
            content=content,
            headers=with_charset(headers) if content is not None else headers,
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


def with_charset(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers, with a FHIR JSON Content-Type that names no charset given UTF-8's
    (the bodies are `json.dumps` output: ASCII, so UTF-8 as they stand)."""
    sent = dict(headers)
    for name, value in headers.items():
        if name.lower() == "content-type" and value.strip().lower() == wire.FHIR_JSON:
            sent[name] = wire.FHIR_JSON_BODY
    return sent


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
    details = {
        "ods_code": ods_code,
        "interaction": label,
        "status": response.status_code,
        "spine_code": spine_code(payload),
        "domain_error": error.code,
    }
    if isinstance(error, GPConfigurationFault):
        # Our request or configuration is wrong (the practice is not routed, the platform
        # refused what we sent): for operators to fix, so said once, as an error.
        # The details in the text too: the readable (non-JSON) log format drops extras.
        logger.error(
            "%s: %s %s answered %s %s",
            CONFIGURATION_FAULT,
            ods_code,
            label,
            response.status_code,
            details["spine_code"] or "(no code)",
            extra=details,
        )
    else:
        logger.info("GP Connect refused a call", extra=details)
    raise error


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None
