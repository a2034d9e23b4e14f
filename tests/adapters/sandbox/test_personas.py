"""The persona catalogue: every tag present, ages right on any day, valid claims."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from app.adapters.sandbox.personas import (
    EMIS_PRACTICE,
    TPP_PRACTICE,
    VISION_PRACTICE,
    age_on,
    find_persona,
    is_valid_nhs_number,
    nhs_check_digit,
    persona_catalogue,
    seed_patients,
)
from tests.frozen import SUITE_TODAY

REQUIRED_TAGS = {
    "adult-full",
    "historic-access",
    "declined",
    "enhanced-review",
    "proxy-parent",
    "child-under-11",
    "age-14",
    "age-16-proxied",
    "carer",
    "care-home-resident",
    "p5-identity",
}
DAYS = [SUITE_TODAY, date(2028, 2, 29), date(2027, 3, 1), date(2026, 12, 31), date(2030, 1, 1)]


def test_known_nhs_number_check_digit() -> None:
    assert nhs_check_digit("999000001") == 8
    assert is_valid_nhs_number("9990000018")
    assert not is_valid_nhs_number("9990000017")


@pytest.mark.parametrize("day", DAYS)
def test_every_required_tag_is_present(day: date) -> None:
    catalogue = persona_catalogue(day)
    tags = {tag for persona in catalogue for tag in persona.tags}
    tags |= {tag for persona in catalogue for other in persona.acts_for for tag in other.tags}
    assert tags >= REQUIRED_TAGS


@pytest.mark.parametrize("day", DAYS)
def test_ages_stay_right_whatever_the_day(day: date) -> None:
    by_tag = {tag: patient for patient in seed_patients(day) for tag in patient.tags}
    assert age_on(by_tag["child-under-11"].birth_date, day) < 11
    assert age_on(by_tag["age-14"].birth_date, day) == 14
    sixteen = by_tag["age-16-proxied"].birth_date
    assert age_on(sixteen, day) == 16
    assert age_on(sixteen, day - timedelta(days=35)) == 15  # turned 16 a few weeks ago
    for tag in ("adult-full", "historic-access", "declined", "enhanced-review", "carer"):
        assert age_on(by_tag[tag].birth_date, day) >= 18


def test_each_practice_has_an_adult_with_full_access() -> None:
    catalogue = persona_catalogue(SUITE_TODAY)
    practices = {p.ods_code for p in catalogue if "adult-full" in p.tags}
    assert practices == {EMIS_PRACTICE, TPP_PRACTICE, VISION_PRACTICE}


def test_nhs_numbers_are_valid_unique_test_numbers() -> None:
    numbers = [patient.nhs_number for patient in seed_patients(SUITE_TODAY)]
    assert len(set(numbers)) == len(numbers)
    assert all(is_valid_nhs_number(n) and n.startswith("999") for n in numbers)


def test_p9_claims_carry_gp_credentials() -> None:
    for persona in persona_catalogue(SUITE_TODAY):
        claims = persona.nhs_login_claims
        assert claims["sub"] == str(uuid.UUID(claims["sub"]))
        assert claims["nhs_number"] == persona.nhs_number
        assert claims["birthdate"] == persona.birth_date.isoformat()
        assert claims["gp_registration_details"] == {"gp_ods_code": persona.ods_code}
        assert claims["vot"].startswith(claims["identity_proofing_level"])
        if persona.identity_proofing_level == "P9":
            credentials = claims["gp_integration_credentials"]
            assert credentials["gp_ods_code"] == persona.ods_code
            assert credentials["gp_user_id"] and credentials["gp_linkage_key"]


def test_the_p5_persona_has_no_gp_credentials() -> None:
    persona = find_persona(SUITE_TODAY, "p5-identity")
    assert persona.identity_proofing_level == "P5"
    assert persona.nhs_login_claims["identity_proofing_level"] == "P5"
    assert "gp_integration_credentials" not in persona.nhs_login_claims


def test_subjects_are_stable_across_days() -> None:
    first = [p.nhs_login_claims["sub"] for p in persona_catalogue(date(2026, 1, 1))]
    second = [p.nhs_login_claims["sub"] for p in persona_catalogue(date(2031, 6, 1))]
    assert first == second


def test_proxy_relationships_in_the_catalogue() -> None:
    day = SUITE_TODAY
    parent = find_persona(day, "proxy-parent")
    assert [other.tags for other in parent.acts_for] == [("child-under-11",)]
    assert find_persona(day, "parent-of-14").acts_for[0].review_recorded
    assert find_persona(day, "carer").acts_for[0].tags == ("care-home-resident",)
    assert find_persona(day, "parent-of-16").acts_for[0].tags == ("age-16-proxied",)


def test_unknown_tag() -> None:
    with pytest.raises(LookupError):
        find_persona(SUITE_TODAY, "nobody")
