"""The sandbox's people: who is registered where, and the personas to sign in as.

Everything is computed from `today`, so ages stay right whatever the date
(the 16-year-old always turned 16 three weeks ago). The seed writes these
patients into the simulated GP systems; `persona_catalogue` describes the ones
with an online account, with the NHS login claims that sign in as them.

Public API (used by the dev NHS login stand-in and by tests)::

    from app.adapters.sandbox.personas import persona_catalogue, find_persona

    for persona in persona_catalogue(today):
        persona.tags, persona.nhs_login_claims  # claims as NHS login's userinfo
    find_persona(today, "adult-full", ods_code="B82002")
    load_test_personas(today)  # many interchangeable patients, for load and race tests
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, NotRequired, TypedDict

from app.gp.types import AUTOMATIC_ACCESS_START, RecordAccessLevel, RelationshipKind

EMIS_PRACTICE = "A81001"
TPP_PRACTICE = "B82002"
VISION_PRACTICE = "C83003"
# Seeded like the others, but the default practices file reaches it over GP Connect:
# the GP Connect stand-in (app/standin) serves this data to the service's adapter.
GPCONNECT_PRACTICE = "D84004"

# Default names of the seeded practices when the practices file does not name them.
PRACTICE_NAMES = {
    EMIS_PRACTICE: "Riverside Medical Centre",
    TPP_PRACTICE: "Moorland Surgery",
    VISION_PRACTICE: "Harbour Lane Health Centre",
    GPCONNECT_PRACTICE: "Meadow View Surgery",
}
PRACTICE_PROFILES = {
    EMIS_PRACTICE: "emis",
    TPP_PRACTICE: "tpp",
    VISION_PRACTICE: "vision",
    GPCONNECT_PRACTICE: "emis",
}

# Namespace for the stable NHS login `sub` of each persona.
_SUB_NAMESPACE = uuid.UUID("6f1d7c1e-3b55-4a7e-9a34-2b0d1c9e5a01")


# --- NHS numbers ---------------------------------------------------------------


def nhs_check_digit(first_nine: str) -> int | None:
    """The modulus 11 check digit, or None when no valid number has these digits."""
    total = sum(
        int(digit) * weight for digit, weight in zip(first_nine, range(10, 1, -1), strict=True)
    )
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def is_valid_nhs_number(value: str) -> bool:
    if len(value) != 10 or not value.isdigit():
        return False
    return nhs_check_digit(value[:9]) == int(value[9])


def _test_nhs_numbers() -> Iterator[str]:
    """Valid NHS numbers in the 999 range, which is never issued to real patients."""
    serial = 1
    while True:
        nine = f"999{serial:06d}"
        check = nhs_check_digit(nine)
        if check is not None:
            yield f"{nine}{check}"
        serial += 1


# --- dates relative to today -----------------------------------------------------


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def age_on(birth_date: date, day: date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


# --- definitions -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeedPatient:
    """One registered patient as the seed writes them (internal to the sandbox)."""

    patient_ref: str
    ods_code: str
    nhs_number: str
    given_name: str
    family_name: str
    birth_date: date
    tags: tuple[str, ...]
    identity_level: str | None = None  # NHS login account: "P9", "P5"; None = no account
    # Online record access, as independent grants (app.gp.types.RecordGrants). By
    # default what the automatic rollout gave: summary information, and the full
    # record from 1 November 2023.
    record_summary: bool = True
    record_detailed_coded: bool = False
    prospective_from: date | None = AUTOMATIC_ACCESS_START
    historic_access: bool = False
    unavailable_sections: tuple[str, ...] = ()  # record sections the system cannot provide
    declined: bool = False
    enhanced_review: bool = False
    nominated_pharmacy: str | None = None

    @property
    def online_account(self) -> bool:
        return self.identity_level is not None

    @property
    def gp_user_id(self) -> str | None:
        if self.identity_level != "P9":
            return None
        return hashlib.sha256(f"gp-user:{self.nhs_number}".encode()).hexdigest()[:16].upper()

    @property
    def gp_linkage_key(self) -> str | None:
        if self.identity_level != "P9":
            return None
        return hashlib.sha256(f"linkage:{self.nhs_number}".encode()).hexdigest()[:12]

    @property
    def email(self) -> str | None:
        if not self.online_account:
            return None
        return f"{self.given_name}.{self.family_name}@example.com".lower()

    @property
    def phone_number(self) -> str | None:
        if not self.online_account:
            return None
        # Ofcom's drama range: never a real number.
        return f"+447700900{int(self.nhs_number[-4:]) % 1000:03d}"


@dataclass(frozen=True, slots=True)
class SeedRelationship:
    """A proxy relationship as the practice recorded it."""

    user_ref: str
    patient_ref: str
    kind: RelationshipKind
    appointments: bool
    prescriptions: bool
    record_level: RecordAccessLevel
    starts_on: date | None = None
    ends_on: date | None = None
    review_recorded: bool = False
    record_from: date | None = None  # a full-record proxy: entries from this date
    record_historic: bool = False


@dataclass(frozen=True, slots=True)
class _Person:
    key: str
    ods_code: str
    given_name: str
    family_name: str
    age_years: int
    extra_days: int  # days since their last birthday
    tags: tuple[str, ...]
    identity_level: str | None = "P9"
    options: dict[str, Any] = field(default_factory=dict)


# A child's own settings as a practice records them: summary information, and no
# automatic prospective access (that is for patients aged 16 and over). A proxy sees at
# most what these settings allow, so they bound a parent's access too.
_CHILD_RECORD_ACCESS: dict[str, Any] = {"prospective_from": None}

# The order is part of the contract: it fixes each person's NHS number.
_PEOPLE: tuple[_Person, ...] = (
    _Person("olivia", EMIS_PRACTICE, "Olivia", "Harrison", 42, 37, ("adult-full",),
            options={"nominated_pharmacy": "FAA01"}),
    _Person("james", EMIS_PRACTICE, "James", "Okafor", 38, 120, ("proxy-parent",)),
    _Person("lily", EMIS_PRACTICE, "Lily", "Okafor", 7, 200, ("child-under-11",),
            identity_level=None, options=_CHILD_RECORD_ACCESS),
    _Person("priya", EMIS_PRACTICE, "Priya", "Shah", 55, 64, ("declined",),
            options={"declined": True, "record_detailed_coded": True}),
    _Person("daniel", EMIS_PRACTICE, "Daniel", "Brooks", 29, 15, ("p5-identity",),
            identity_level="P5"),
    _Person("alex", EMIS_PRACTICE, "Alex", "Morgan", 33, 90, ("background",),
            identity_level=None),
    _Person("sam", EMIS_PRACTICE, "Sam", "Taylor", 51, 10, ("background",),
            identity_level=None),
    _Person("mohammed", TPP_PRACTICE, "Mohammed", "Ali", 47, 150, ("adult-full",),
            options={"nominated_pharmacy": "FBB02"}),
    _Person("margaret", TPP_PRACTICE, "Margaret", "Collins", 68, 41, ("historic-access",),
            options={"historic_access": True}),
    _Person("emma", TPP_PRACTICE, "Emma", "Wilson", 44, 222, ("parent-of-14",)),
    _Person("noah", TPP_PRACTICE, "Noah", "Wilson", 14, 100, ("age-14",),
            identity_level=None, options=_CHILD_RECORD_ACCESS),
    _Person("susan", TPP_PRACTICE, "Susan", "Reid", 52, 300, ("carer",)),
    _Person("edith", TPP_PRACTICE, "Edith", "Barnes", 89, 58, ("care-home-resident",),
            identity_level=None, options={"nominated_pharmacy": "FDD04"}),
    _Person("ryan", TPP_PRACTICE, "Ryan", "Cole", 36, 45, ("background",), identity_level=None),
    _Person("zara", TPP_PRACTICE, "Zara", "Hussain", 27, 80, ("background",),
            identity_level=None),
    _Person("grace", VISION_PRACTICE, "Grace", "Thompson", 35, 12, ("adult-full",),
            options={"nominated_pharmacy": "FCC03"}),
    _Person("robert", VISION_PRACTICE, "Robert", "Evans", 61, 190, ("enhanced-review",),
            options={"enhanced_review": True}),
    _Person("helen", VISION_PRACTICE, "Helen", "Carter", 46, 75, ("parent-of-16",)),
    # Turned 16 three weeks ago; the practice never ended her mother's proxy access.
    _Person("chloe", VISION_PRACTICE, "Chloe", "Carter", 16, 21, ("age-16-proxied",)),
    _Person("owen", VISION_PRACTICE, "Owen", "Price", 44, 5, ("background",),
            identity_level=None),
    _Person("ava", VISION_PRACTICE, "Ava", "Jones", 23, 160, ("background",),
            identity_level=None),
)  # fmt: skip


# Interchangeable adults with NHS login accounts at one practice, so that load and
# race tests can act as many different patients at once. They come after `_PEOPLE`
# (whose NHS numbers stay as they were), get repeat medicines but no record (seeding
# stays fast), and are left out of the persona picker (`persona_catalogue`).
LOAD_TEST_TAG = "load-test"
LOAD_TEST_PRACTICE = VISION_PRACTICE  # booking reason optional
LOAD_TEST_PATIENTS = 60

_LOAD_TEST_PEOPLE: tuple[_Person, ...] = tuple(
    _Person(
        f"load-test-{number:03d}",
        LOAD_TEST_PRACTICE,
        "Load",
        f"Tester{number:03d}",
        age_years=25 + number % 50,
        extra_days=number * 5,
        tags=(LOAD_TEST_TAG,),
    )
    for number in range(1, LOAD_TEST_PATIENTS + 1)
)

# One person for each way record access can be set, and proxies whose access has
# ended or not started. After the load-test people, so that no earlier number moves.
# `registered_days_ago`: joined the practice after 1 November 2023, so their full
# record access starts on their registration.
_RECORD_PEOPLE: tuple[_Person, ...] = (
    _Person("hannah", EMIS_PRACTICE, "Hannah", "Fisher", 58, 30, ("summary-only",),
            options={"prospective_from": None}),
    _Person("victor", TPP_PRACTICE, "Victor", "Lowe", 63, 140, ("detailed-only",),
            options={"record_detailed_coded": True, "prospective_from": None}),
    _Person("isla", VISION_PRACTICE, "Isla", "Murray", 39, 95, ("detailed-and-prospective",),
            options={"record_detailed_coded": True}),
    _Person("kai", EMIS_PRACTICE, "Kai", "Ahmed", 31, 200, ("registered-after-rollout",),
            options={"registered_days_ago": 150}),
    _Person("zoe", VISION_PRACTICE, "Zoe", "Bennett", 50, 33, ("record-in-transit",),
            options={"unavailable_sections": ("problems", "test_results", "documents")}),
    _Person("ben", TPP_PRACTICE, "Ben", "Hughes", 45, 60, ("relative-proxy",)),
    _Person("rose", TPP_PRACTICE, "Rose", "Hughes", 79, 250, ("proxied-adult",),
            identity_level=None),
    _Person("ivy", TPP_PRACTICE, "Ivy", "Marsh", 85, 120, ("proxy-ended",), identity_level=None),
    _Person("arthur", TPP_PRACTICE, "Arthur", "Pryce", 88, 10, ("proxy-not-started",),
            identity_level=None),
)  # fmt: skip

# Proxies whose view the patient's own settings must bound: of a patient who declined
# online access, of one flagged for enhanced review (the proxy may be why), and a
# full-record proxy with no start date of their own for a patient who registered after
# the automatic rollout. After `_RECORD_PEOPLE`, so that no earlier number moves.
_SAFETY_PEOPLE: tuple[_Person, ...] = (
    _Person("tom", EMIS_PRACTICE, "Tom", "Shah", 57, 20, ("proxy-of-declined",)),
    _Person("lucy", VISION_PRACTICE, "Lucy", "Evans", 58, 110, ("proxy-of-enhanced-review",)),
    _Person("nadia", EMIS_PRACTICE, "Nadia", "Ahmed", 30, 70, ("proxy-of-late-registered",)),
)  # fmt: skip

# The patients of the practice reached over GP Connect: an adult with the full record
# (the historic one too), one with summary information only, and one without an
# account. After `_SAFETY_PEOPLE`, so that no earlier number moves.
_GPCONNECT_PEOPLE: tuple[_Person, ...] = (
    _Person("florence", GPCONNECT_PRACTICE, "Florence", "Adeyemi", 49, 52, ("gpconnect-adult",),
            options={"historic_access": True, "nominated_pharmacy": "FDD04"}),
    _Person("william", GPCONNECT_PRACTICE, "William", "Hale", 66, 170,
            ("gpconnect-summary-only",), options={"prospective_from": None}),
    _Person("maya", GPCONNECT_PRACTICE, "Maya", "Osei", 34, 25, ("background",),
            identity_level=None),
)  # fmt: skip
_EVERYONE = _PEOPLE + _LOAD_TEST_PEOPLE + _RECORD_PEOPLE + _SAFETY_PEOPLE + _GPCONNECT_PEOPLE


def patient_ref_for(key: str) -> str:
    """The GP system's id for one of the seeded people (`olivia` → `A81001-P001`)."""
    for index, person in enumerate(_EVERYONE, start=1):
        if person.key == key:
            return f"{person.ods_code}-P{index:03d}"
    raise KeyError(key)


def seed_patients(today: date) -> list[SeedPatient]:
    """Every seeded patient, their birth dates counted back from `today`."""
    numbers = _test_nhs_numbers()
    result = []
    for index, person in enumerate(_EVERYONE, start=1):
        birth_date = years_before(today - timedelta(days=person.extra_days), person.age_years)
        options = dict(person.options)
        registered_days_ago = options.pop("registered_days_ago", None)
        if registered_days_ago is not None:
            registered = today - timedelta(days=registered_days_ago)
            options["prospective_from"] = max(AUTOMATIC_ACCESS_START, registered)
        result.append(
            SeedPatient(
                patient_ref=f"{person.ods_code}-P{index:03d}",
                ods_code=person.ods_code,
                nhs_number=next(numbers),
                given_name=person.given_name,
                family_name=person.family_name,
                birth_date=birth_date,
                tags=person.tags,
                identity_level=person.identity_level,
                **options,
            )
        )
    return result


def seed_relationships(today: date) -> list[SeedRelationship]:
    """Proxy relationships, as each practice recorded them."""
    ref = patient_ref_for
    return [
        SeedRelationship(
            ref("james"), ref("lily"), RelationshipKind.PARENT,
            appointments=True, prescriptions=True, record_level=RecordAccessLevel.SUMMARY,
            starts_on=today - timedelta(days=2000),
        ),
        # Past the local review age (13): the practice reviewed and let it continue.
        SeedRelationship(
            ref("emma"), ref("noah"), RelationshipKind.PARENT,
            appointments=True, prescriptions=True, record_level=RecordAccessLevel.SUMMARY,
            starts_on=today - timedelta(days=3000), review_recorded=True,
        ),
        # Still in the GP system although Chloe is 16: the app must suspend it.
        SeedRelationship(
            ref("helen"), ref("chloe"), RelationshipKind.PARENT,
            appointments=True, prescriptions=True, record_level=RecordAccessLevel.SUMMARY,
            starts_on=today - timedelta(days=4000),
        ),
        # Care-home carer: repeat prescriptions only, until a set end date.
        SeedRelationship(
            ref("susan"), ref("edith"), RelationshipKind.CARER,
            appointments=False, prescriptions=True, record_level=RecordAccessLevel.NONE,
            starts_on=today - timedelta(days=400), ends_on=today + timedelta(days=365),
        ),
        # An adult's relative with the full record from the day the practice granted it.
        # Rose's own settings give her no detailed coded record, so Ben sees none of her
        # older coded entries either: the full record does not include them.
        SeedRelationship(
            ref("ben"), ref("rose"), RelationshipKind.RELATIVE,
            appointments=True, prescriptions=True, record_level=RecordAccessLevel.FULL,
            starts_on=today - timedelta(days=100), record_from=today - timedelta(days=100),
        ),
        # Ended ten days ago (the end date is the first day without access).
        SeedRelationship(
            ref("ben"), ref("ivy"), RelationshipKind.RELATIVE,
            appointments=True, prescriptions=True, record_level=RecordAccessLevel.SUMMARY,
            starts_on=today - timedelta(days=700), ends_on=today - timedelta(days=10),
        ),
        # Agreed by the practice, starting in two weeks.
        SeedRelationship(
            ref("ben"), ref("arthur"), RelationshipKind.RELATIVE,
            appointments=True, prescriptions=True, record_level=RecordAccessLevel.DETAILED,
            starts_on=today + timedelta(days=14),
        ),
        # One service alone, so that each permission is exercised without the others:
        # a relative who books for someone, and one who reads their summary record.
        SeedRelationship(
            ref("susan"), ref("zara"), RelationshipKind.RELATIVE,
            appointments=True, prescriptions=False, record_level=RecordAccessLevel.NONE,
            starts_on=today - timedelta(days=200),
        ),
        SeedRelationship(
            ref("margaret"), ref("ryan"), RelationshipKind.RELATIVE,
            appointments=False, prescriptions=False, record_level=RecordAccessLevel.SUMMARY,
            starts_on=today - timedelta(days=200),
        ),
        # Full record proxies of a patient who declined online access and of one flagged
        # for enhanced review: the patient's refusal and flag bind them, so no record.
        SeedRelationship(
            ref("tom"), ref("priya"), RelationshipKind.RELATIVE,
            appointments=True, prescriptions=True, record_level=RecordAccessLevel.FULL,
            starts_on=today - timedelta(days=300), record_historic=True,
        ),
        SeedRelationship(
            ref("lucy"), ref("robert"), RelationshipKind.RELATIVE,
            appointments=True, prescriptions=True, record_level=RecordAccessLevel.FULL,
            starts_on=today - timedelta(days=300), record_from=date(2020, 1, 1),
        ),
        # Full record with no start date of the proxy's own: it starts where Kai's does,
        # on his registration, never on 1 November 2023.
        SeedRelationship(
            ref("nadia"), ref("kai"), RelationshipKind.RELATIVE,
            appointments=True, prescriptions=True, record_level=RecordAccessLevel.FULL,
            starts_on=today - timedelta(days=120),
        ),
    ]  # fmt: skip


# --- the catalogue ------------------------------------------------------------------


class GPRegistrationDetails(TypedDict):
    gp_ods_code: str


class GPIntegrationCredentials(TypedDict):
    gp_user_id: str
    gp_linkage_key: str
    gp_ods_code: str


class NHSLoginClaims(TypedDict):
    """NHS login's userinfo claims for a persona (P9 ones add the GP credentials)."""

    sub: str
    nhs_number: str
    birthdate: str
    family_name: str
    given_name: str
    email: str
    email_verified: bool
    phone_number: str
    phone_number_verified: bool
    identity_proofing_level: str
    vot: str
    gp_registration_details: GPRegistrationDetails
    gp_integration_credentials: NotRequired[GPIntegrationCredentials]


@dataclass(frozen=True, slots=True)
class ActsFor:
    """A patient a persona is a proxy for, as the GP system records it."""

    patient_ref: str
    nhs_number: str
    given_name: str
    family_name: str
    birth_date: date
    tags: tuple[str, ...]
    kind: RelationshipKind
    review_recorded: bool


@dataclass(frozen=True, slots=True)
class Persona:
    """A seeded patient with an NHS login account: someone to sign in as."""

    patient_ref: str
    nhs_number: str
    ods_code: str
    family_name: str
    given_name: str
    birth_date: date
    tags: tuple[str, ...]
    identity_proofing_level: str  # "P9" or "P5"
    nhs_login_claims: NHSLoginClaims
    acts_for: tuple[ActsFor, ...] = ()

    @property
    def label(self) -> str:
        """A one-line description for pickers: `Olivia Harrison (adult-full, A81001)`."""
        return f"{self.given_name} {self.family_name} ({', '.join(self.tags)}, {self.ods_code})"

    def to_json(self) -> dict[str, Any]:
        return {
            "patient_ref": self.patient_ref,
            "nhs_number": self.nhs_number,
            "ods_code": self.ods_code,
            "family_name": self.family_name,
            "given_name": self.given_name,
            "birth_date": self.birth_date.isoformat(),
            "tags": list(self.tags),
            "identity_proofing_level": self.identity_proofing_level,
            "acts_for": [
                {
                    "patient_ref": other.patient_ref,
                    "nhs_number": other.nhs_number,
                    "given_name": other.given_name,
                    "family_name": other.family_name,
                    "birth_date": other.birth_date.isoformat(),
                    "tags": list(other.tags),
                    "kind": other.kind.value,
                    "review_recorded": other.review_recorded,
                }
                for other in self.acts_for
            ],
            "nhs_login_claims": dict(self.nhs_login_claims),
        }


def nhs_login_sub(nhs_number: str) -> str:
    """The persona's stable NHS login subject."""
    return str(uuid.uuid5(_SUB_NAMESPACE, nhs_number))


def _claims(patient: SeedPatient) -> NHSLoginClaims:
    level = patient.identity_level or "P0"
    assert patient.email is not None and patient.phone_number is not None  # noqa: S101
    claims: NHSLoginClaims = {
        "sub": nhs_login_sub(patient.nhs_number),
        "nhs_number": patient.nhs_number,
        "birthdate": patient.birth_date.isoformat(),
        "family_name": patient.family_name,
        "given_name": patient.given_name,
        "email": patient.email,
        "email_verified": True,
        "phone_number": patient.phone_number,
        "phone_number_verified": True,
        "identity_proofing_level": level,
        "vot": f"{level}.Cp.Cd",
        "gp_registration_details": {"gp_ods_code": patient.ods_code},
    }
    if patient.gp_user_id and patient.gp_linkage_key:
        claims["gp_integration_credentials"] = {
            "gp_user_id": patient.gp_user_id,
            "gp_linkage_key": patient.gp_linkage_key,
            "gp_ods_code": patient.ods_code,
        }
    return claims


def persona_catalogue(today: date, *, include_load_test: bool = False) -> list[Persona]:
    """Every seeded patient with an online account, in a stable order.

    `today` must be the sandbox's today (`app.clock.today(clock)`): birth dates
    count back from it, as they do in the seeded GP systems. The load-test
    patients are left out unless asked for: they would crowd the persona picker.
    """
    patients = seed_patients(today)
    by_ref = {patient.patient_ref: patient for patient in patients}
    acts_for: dict[str, list[ActsFor]] = {}
    for rel in seed_relationships(today):
        other = by_ref[rel.patient_ref]
        acts_for.setdefault(rel.user_ref, []).append(
            ActsFor(
                patient_ref=other.patient_ref,
                nhs_number=other.nhs_number,
                given_name=other.given_name,
                family_name=other.family_name,
                birth_date=other.birth_date,
                tags=other.tags,
                kind=rel.kind,
                review_recorded=rel.review_recorded,
            )
        )
    return [
        Persona(
            patient_ref=patient.patient_ref,
            nhs_number=patient.nhs_number,
            ods_code=patient.ods_code,
            family_name=patient.family_name,
            given_name=patient.given_name,
            birth_date=patient.birth_date,
            tags=patient.tags,
            identity_proofing_level=patient.identity_level or "P0",
            nhs_login_claims=_claims(patient),
            acts_for=tuple(acts_for.get(patient.patient_ref, ())),
        )
        for patient in patients
        if patient.online_account and (include_load_test or LOAD_TEST_TAG not in patient.tags)
    ]


def load_test_personas(today: date) -> list[Persona]:
    """The `load-test` patients (P9) at every practice that has them, in a stable order:
    `LOAD_TEST_PRACTICE`'s first, then the GP Connect practice's (`load_test_personas_at`)."""
    return [
        persona
        for persona in persona_catalogue(today, include_load_test=True)
        if LOAD_TEST_TAG in persona.tags
    ]


def find_persona(today: date, tag: str, *, ods_code: str | None = None) -> Persona:
    """The first persona with `tag` (at `ods_code`, if given). Raises `LookupError`."""
    for persona in persona_catalogue(today, include_load_test=tag == LOAD_TEST_TAG):
        if tag in persona.tags and (ods_code is None or persona.ods_code == ods_code):
            return persona
    raise LookupError(f"no sandbox persona tagged {tag!r}")


# Load-test patients at the practice reached over GP Connect, so that a benchmark can
# measure the service with its GP system in another process (`make bench`). Tagged
# `load-test` like the others (no record seeded, left out of the persona picker), after
# everyone above, so that no earlier NHS number moves.
GPCONNECT_LOAD_TEST_PATIENTS = 60

_GPCONNECT_LOAD_TEST_PEOPLE: tuple[_Person, ...] = tuple(
    _Person(
        f"gpconnect-load-test-{number:03d}",
        GPCONNECT_PRACTICE,
        "Load",
        f"Connect{number:03d}",
        age_years=25 + number % 50,
        extra_days=number * 5,
        tags=(LOAD_TEST_TAG,),
    )
    for number in range(1, GPCONNECT_LOAD_TEST_PATIENTS + 1)
)
_EVERYONE = _EVERYONE + _GPCONNECT_LOAD_TEST_PEOPLE


def load_test_personas_at(today: date, ods_code: str) -> list[Persona]:
    """The `load-test` patients at one practice, in a stable order."""
    return [persona for persona in load_test_personas(today) if persona.ods_code == ods_code]
