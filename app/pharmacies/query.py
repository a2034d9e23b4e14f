"""What a patient searches the pharmacy directory with: some words, a postcode, or both.

A postcode is matched by its outward code (the district, `LS1` of `LS1 4AP`): a patient
typing their own postcode wants pharmacies near them, not at that address, and only the
district ever leaves the service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# UK postcode shape, checked loosely: outward code (area letters, district digit, an
# optional letter or digit), then an optional inward code (a digit and two letters).
_POSTCODE = re.compile(r"^(?P<outward>[A-Z]{1,2}[0-9][A-Z0-9]?)(?P<inward>[0-9][A-Z]{2})?$")
_ODS_CODE = re.compile(r"^[A-Z0-9]{3,10}$")
_WORD = re.compile(r"[^\W_]+")

POSTCODE_HELP = "Enter a postcode such as LS1 4AP, or the first half of one such as LS1."


@dataclass(frozen=True, slots=True)
class Postcode:
    """A postcode normalised to capitals without spaces (`LS14AP`), split where it splits."""

    outward: str
    inward: str | None = None

    @classmethod
    def parse(cls, text: str) -> Postcode:
        """Raises `ValueError` with a sentence a patient can act on."""
        compact = "".join(text.split()).upper()
        match = _POSTCODE.fullmatch(compact)
        if match is None:
            raise ValueError(POSTCODE_HELP)
        return cls(match["outward"], match["inward"])

    @property
    def normalised(self) -> str:
        return self.outward + (self.inward or "")

    @property
    def display(self) -> str:
        return f"{self.outward} {self.inward}" if self.inward else self.outward


def normalise_postcode(text: str) -> str:
    """The capitals-without-spaces form (`ls1 4ap` → `LS14AP`). Raises `ValueError`."""
    return Postcode.parse(text).normalised


def normalise_ods_code(text: str) -> str:
    """A pharmacy ODS code in capitals (`fa123` → `FA123`). Raises `ValueError`."""
    code = text.strip().upper()
    if not _ODS_CODE.fullmatch(code):
        raise ValueError("A pharmacy's ODS code is 3 to 10 letters and digits, such as FA123.")
    return code


def words(text: str) -> tuple[str, ...]:
    """The letters-and-digits words of a search, in lower case (`St. Mary's` → st, mary, s)."""
    return tuple(word.casefold() for word in _WORD.findall(text))


@dataclass(frozen=True, slots=True)
class PharmacyQuery:
    """One search: every word must match, and the pharmacy be in the postcode's district."""

    text: tuple[str, ...] = ()
    postcode: Postcode | None = None
    limit: int = 20

    @property
    def is_empty(self) -> bool:
        return not self.text and self.postcode is None
