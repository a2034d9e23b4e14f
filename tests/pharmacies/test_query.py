"""The search's parts as pure values: postcodes, ODS codes and words."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.pharmacies.query import (
    POSTCODE_HELP,
    Postcode,
    normalise_ods_code,
    normalise_postcode,
    words,
)


@pytest.mark.parametrize(
    ("typed", "outward", "inward", "normalised"),
    [
        ("LS1 4AP", "LS1", "4AP", "LS14AP"),
        ("ls14ap", "LS1", "4AP", "LS14AP"),
        (" sw1a 1aa ", "SW1A", "1AA", "SW1A1AA"),
        ("M1 1AE", "M1", "1AE", "M11AE"),
        ("EC1A 1BB", "EC1A", "1BB", "EC1A1BB"),
        ("B11", "B11", None, "B11"),
        ("ls11", "LS11", None, "LS11"),
        ("LS11 5PR", "LS11", "5PR", "LS115PR"),
    ],
)
def test_postcodes_are_normalised_and_split(
    typed: str, outward: str, inward: str | None, normalised: str
) -> None:
    postcode = Postcode.parse(typed)
    assert (postcode.outward, postcode.inward) == (outward, inward)
    assert postcode.normalised == normalised == normalise_postcode(typed)


@pytest.mark.parametrize(
    "typed", ["", "12345", "LS", "L S 1 4 A P X", "LS1 4A", "4AP", "LS1-4AP", "LS1 4AP'"]
)
def test_what_is_not_a_postcode_is_refused_with_help(typed: str) -> None:
    with pytest.raises(ValueError, match="Enter a postcode") as caught:
        Postcode.parse(typed)
    assert str(caught.value) == POSTCODE_HELP


_postcodes = st.from_regex(r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}", fullmatch=True)


@given(_postcodes, st.sampled_from(["", " ", "  "]), st.booleans())
def test_spacing_and_case_never_change_the_postcode(postcode: str, space: str, lower: bool) -> None:
    typed = postcode[:-3] + space + postcode[-3:]
    typed = typed.lower() if lower else typed
    assert normalise_postcode(typed) == postcode
    assert Postcode.parse(typed).inward == postcode[-3:]


def test_ods_codes_are_capitalised_and_checked() -> None:
    assert normalise_ods_code(" fa123 ") == "FA123"
    for bad in ("F1", "FA 123", "FA'1'", "FA123456789"):
        with pytest.raises(ValueError, match="ODS code"):
            normalise_ods_code(bad)


def test_words_keep_letters_and_digits_only() -> None:
    assert words("St. Mary's  Pharmacy (Leeds) -- *") == ("st", "mary", "s", "pharmacy", "leeds")
    assert words("' or 1 eq 1 --") == ("or", "1", "eq", "1")
    assert words("--") == ()
