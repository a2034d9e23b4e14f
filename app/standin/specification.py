"""The four official OpenAPI documents, and a check of one request or response against them.

`Specifications.check_request` and `check_response` take plain values (method, URL,
headers, body), so the stand-in and a test's fake provider call the same check. The
documents' servers are NHS England's hosts: a URL is checked by its path from the
document's base path on (`/gp-connect/patient-facing/<api>/…`), whatever host served it.

The documents are kept as published (`specifications/README.md`), with openapi-core
(a maintained validator) doing the checking, not rules written here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.exceptions import OpenAPIError
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPECIFICATIONS = Path(__file__).resolve().parent / "specifications"
FHIR_JSON = "application/fhir+json"


class API(StrEnum):
    """The patient-facing APIs, named as in their official server URLs."""

    APPOINTMENTS = "appointments-management-fhir"
    ACCESS_RECORD = "access-record-fhir"
    USER_PERMISSIONS = "user-permissions"
    PRESCRIPTIONS = "prescriptions-management-fhir"

    @property
    def document(self) -> Path:
        return SPECIFICATIONS / self.value / f"gp-connect-{self.value}.yaml"


class SpecificationViolation(Exception):
    """What the document does not allow, in one line."""


@dataclass(slots=True)
class _Request:
    host_url: str
    path: str
    method: str
    parameters: RequestParameters
    body: bytes | None
    content_type: str


@dataclass(frozen=True, slots=True)
class _Response:
    status_code: int
    data: bytes | None
    headers: Headers
    content_type: str


@dataclass(frozen=True, slots=True)
class _Document:
    openapi: OpenAPI
    host_url: str  # scheme and host of the document's first server
    base_path: str  # its path, e.g. /gp-connect/patient-facing/user-permissions


@dataclass
class Specifications:
    """The loaded documents (loading takes a moment: make one and keep it)."""

    _documents: dict[API, _Document] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # FHIR's media type is JSON; openapi-core knows only application/json by name.
        config = Config(extra_media_type_deserializers={FHIR_JSON: _json})
        for api in API:
            openapi = OpenAPI.from_file_path(str(api.document), config=config)
            server = urlsplit(str((openapi.spec / "servers" / 0 / "url").read_value()))
            self._documents[api] = _Document(
                openapi, f"{server.scheme}://{server.netloc}", server.path.rstrip("/")
            )

    def base_path(self, api: API) -> str:
        """The path every operation of `api` is under, as in its official server URL."""
        return self._documents[api].base_path

    def api_for(self, path: str) -> API | None:
        """The API whose base path `path` is under, if any."""
        for api, document in self._documents.items():
            if path == document.base_path or path.startswith(document.base_path + "/"):
                return api
        return None

    def check_request(
        self,
        api: API,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None = None,
    ) -> None:
        """Raise `SpecificationViolation` if the document does not allow this request."""
        document = self._documents[api]
        request = self._request(document, method, url, headers, body)
        try:
            document.openapi.validate_request(request)
        except OpenAPIError as exc:
            raise SpecificationViolation(_describe(exc)) from None

    def check_response(
        self,
        api: API,
        method: str,
        url: str,
        request_headers: Mapping[str, str],
        request_body: bytes | None,
        status: int,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> None:
        """Raise `SpecificationViolation` if the document does not allow this response."""
        document = self._documents[api]
        request = self._request(document, method, url, request_headers, request_body)
        response = _Response(
            status_code=status,
            data=body,
            headers=Headers(dict(headers)),
            content_type=_content_type(headers),
        )
        try:
            document.openapi.validate_response(request, response)
        except OpenAPIError as exc:
            raise SpecificationViolation(_describe(exc)) from None

    @staticmethod
    def _request(
        document: _Document,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> _Request:
        parts = urlsplit(url)
        start = parts.path.find(document.base_path)
        path = parts.path[start:] if start >= 0 else parts.path
        return _Request(
            host_url=document.host_url,
            path=path,
            method=method.lower(),
            parameters=RequestParameters(
                query=ImmutableMultiDict(parse_qsl(parts.query, keep_blank_values=True)),
                header=Headers(dict(headers)),
            ),
            body=body,
            content_type=_content_type(headers),
        )


@cache
def specifications() -> Specifications:
    """The documents, loaded once per process."""
    return Specifications()


def _json(raw: bytes | str, **parameters: str) -> Any:
    """The media type's parameters come too (`charset=utf-8`, as GP Connect sends)."""
    if isinstance(raw, bytes):
        raw = raw.decode(parameters.get("charset", "utf-8"))
    return json.loads(raw)


def _content_type(headers: Mapping[str, str]) -> str:
    for name, value in headers.items():
        if name.lower() == "content-type":
            return value.lower()
    return ""


def _describe(exc: BaseException) -> str:
    """The failure and, where the validator gives them, the schema rules broken."""
    message = str(exc)
    cause = exc.__cause__
    rules = [str(getattr(error, "message", error)) for error in getattr(cause, "schema_errors", ())]
    if not rules and cause is not None and not message.endswith(str(cause)):
        rules = [str(cause)]
    return "; ".join([message.split(": Value ")[0], *rules]) if rules else message
