"""The pharmacy directory on NHS England's Directory of Healthcare Services API (version 3),
once called the Service Search API.

One `GET {SERVICE_SEARCH_BASE_URL}/?api-version=3` per call, as the API's specification
(NHSDigital/service-search-api, `specification/service-search-api.yaml`) describes its
organisation search: `search` + `searchFields` + `searchMode` for the words, an OData
`$filter` for pharmacies (`OrganisationTypeId eq 'PHA'`) that take electronic prescriptions
(`IsEpsEnabled eq 'true'`, so they can be nominated) and, for a postcode,
`search.ismatch('<district>', 'Postcode')`; `$select` and `$top` to keep answers small.
The application-restricted API key goes in the `apikey` header: the API platform checks it
and adds the backend's own subscription key itself.

Only the postcode's district is sent. Words are reduced to letters and digits, so nothing a
patient types can change the query's syntax. Every failure (timeout, refused key, rate
limit, server error, an answer of another shape) becomes `PharmacyDirectoryUnavailable`;
log lines carry the status and error type only, never the URL (it holds the search).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.gp.types import Pharmacy
from app.pharmacies.problems import RETRY_AFTER_SECONDS, PharmacyDirectoryUnavailable
from app.pharmacies.query import PharmacyQuery

logger = logging.getLogger(__name__)

API_VERSION = "3"
API_KEY_HEADER = "apikey"
NOMINATABLE = "OrganisationTypeId eq 'PHA' and IsEpsEnabled eq 'true'"
SEARCH_FIELDS = "OrganisationName,ODSCode,Address1,Address2,Address3,City"
SELECT = "ODSCode,OrganisationName,Address1,Address2,Address3,City,County,Postcode,Contacts"
MAX_RETRY_AFTER = 300


class _Contact(BaseModel):
    model_config = ConfigDict(extra="ignore")

    contact_type: str | None = Field(default=None, alias="ContactType")
    method: str | None = Field(default=None, alias="ContactMethodType")
    value: str | None = Field(default=None, alias="ContactValue")


class _Organisation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ods_code: str = Field(alias="ODSCode", min_length=1)
    name: str = Field(alias="OrganisationName", min_length=1)
    address1: str | None = Field(default=None, alias="Address1")
    address2: str | None = Field(default=None, alias="Address2")
    address3: str | None = Field(default=None, alias="Address3")
    city: str | None = Field(default=None, alias="City")
    county: str | None = Field(default=None, alias="County")
    postcode: str | None = Field(default=None, alias="Postcode")
    contacts: list[_Contact] | None = Field(default=None, alias="Contacts")

    def pharmacy(self) -> Pharmacy:
        lines = (self.address1, self.address2, self.address3, self.city, self.county)
        return Pharmacy(
            ods_code=self.ods_code.strip().upper(),
            name=self.name.strip(),
            address=", ".join(line.strip() for line in lines if line and line.strip()),
            postcode=(self.postcode or "").strip() or None,
            phone=self._telephone(),
        )

    def _telephone(self) -> str | None:
        phones = [
            contact
            for contact in self.contacts or []
            if (contact.method or "").casefold() == "telephone" and (contact.value or "").strip()
        ]
        # The primary number first, as the directory marks it.
        phones.sort(key=lambda contact: (contact.contact_type or "").casefold() != "primary")
        return phones[0].value.strip() if phones and phones[0].value else None


class _SearchResults(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: list[_Organisation]


class ServiceSearchDirectory:
    """Searches the Directory of Healthcare Services through a shared httpx client."""

    def __init__(
        self, http: httpx.AsyncClient, *, base_url: str, api_key: str, timeout: httpx.Timeout
    ) -> None:
        self._http = http
        self._url = base_url.rstrip("/") + "/"
        self._api_key = api_key
        self._timeout = timeout

    async def search(self, query: PharmacyQuery) -> list[Pharmacy]:
        where = NOMINATABLE
        if query.postcode is not None:
            where += f" and search.ismatch('{query.postcode.outward}', 'Postcode')"
        params = {"$filter": where, "$top": str(query.limit)}
        if query.text:
            # Each word a prefix (`pharm*`), every word required.
            params |= {
                "search": " ".join(f"{word}*" for word in query.text),
                "searchFields": SEARCH_FIELDS,
                "searchMode": "all",
            }
        return [organisation.pharmacy() for organisation in await self._organisations(params)]

    async def get(self, ods_code: str) -> Pharmacy | None:
        # The port hands over capitals and digits only (`normalise_ods_code`).
        params = {"$filter": f"ODSCode eq '{ods_code}' and {NOMINATABLE}", "$top": "1"}
        found = await self._organisations(params)
        return found[0].pharmacy() if found else None

    async def _organisations(self, params: Mapping[str, str]) -> list[_Organisation]:
        try:
            response = await self._http.get(
                self._url,
                params={"api-version": API_VERSION, "$select": SELECT, **params},
                headers={API_KEY_HEADER: self._api_key, "Accept": "application/json"},
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            logger.warning("pharmacy directory unreachable", extra={"error": type(exc).__name__})
            raise PharmacyDirectoryUnavailable() from None
        if response.status_code != httpx.codes.OK:
            raise _unavailable(response)
        try:
            return _SearchResults.model_validate_json(response.content).value
        except ValidationError as exc:
            logger.error(
                "pharmacy directory answered in an unexpected shape",
                extra={"errors": exc.error_count()},
            )
            raise PharmacyDirectoryUnavailable() from None


def _unavailable(response: httpx.Response) -> PharmacyDirectoryUnavailable:
    status = response.status_code
    if status in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
        # Our key, not the patient's search: someone must look at the configuration.
        logger.error("pharmacy directory refused the API key", extra={"status": status})
    else:
        logger.warning("pharmacy directory failed", extra={"status": status})
    return PharmacyDirectoryUnavailable(retry_after=_retry_after(response))


def _retry_after(response: httpx.Response) -> int:
    """The directory's own `Retry-After` (seconds) when it gives a sensible one."""
    value = response.headers.get("Retry-After", "")
    if value.isdigit() and 0 < int(value) <= MAX_RETRY_AFTER:
        return int(value)
    return RETRY_AFTER_SECONDS
