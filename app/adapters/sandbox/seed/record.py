"""Each patient's record entries and documents, with every withholding flag in use."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from app.adapters.sandbox.personas import SeedPatient, age_on
from app.adapters.sandbox.seed.prescriptions import _HIDDEN_COURSE
from app.gp.types import AUTOMATIC_ACCESS_START, RecordSection

# A result as reported: text, number, unit, reference range low and high.
_Result = tuple[str, float | None, str | None, float | None, float | None]


def _hba1c(mmol_per_mol: int) -> _Result:
    return (str(mmol_per_mol), float(mmol_per_mol), "mmol/mol", 20.0, 41.0)


def _entry(
    patient: SeedPatient,
    number: int,
    section: RecordSection,
    recorded_on: date,
    term: str,
    code: str | None = None,
    detail: str | None = None,
    result: _Result | None = None,
    **flags: bool,
) -> dict[str, Any]:
    text, value, unit, low, high = result or (None, None, None, None, None)
    return {
        "entry_id": f"{patient.patient_ref}-E{number:02d}",
        "patient_ref": patient.patient_ref,
        "section": section.value,
        "recorded_on": recorded_on,
        "term": term,
        "code": code,
        "detail": detail,
        "result_text": text,
        "result_number": value,
        "result_unit": unit,
        "range_low": low,
        "range_high": high,
        "range_text": None if low is None or high is None else f"{low:g} - {high:g}",
        "hidden": flags.get("hidden", False),
        "third_party": flags.get("third_party", False),
        "harmful": flags.get("harmful", False),
        "filed": flags.get("filed", True),
    }


HBA1C = "1107481000000106"  # Haemoglobin A1c level (IFCC standardised)


def _record_entries(patient: SeedPatient, today: date) -> list[dict[str, Any]]:
    """Entries before and after 1 November 2023, with every visibility flag in use."""
    s = RecordSection

    def ago(days: int) -> date:
        return today - timedelta(days=days)

    if age_on(patient.birth_date, today) < 18:
        return [
            _entry(
                patient,
                1,
                s.IMMUNISATIONS,
                patient.birth_date + timedelta(days=365),
                "Measles, mumps and rubella vaccination",
                "38598009",
            ),
            _entry(
                patient,
                2,
                s.IMMUNISATIONS,
                ago(40),
                "Seasonal influenza vaccination (nasal)",
                "868241000000109",
            ),
            _entry(patient, 3, s.ALLERGIES, ago(700), "No known drug allergy", "409137002"),
            _entry(
                patient,
                4,
                s.CONSULTATIONS,
                ago(75),
                "Consultation: earache",
                detail="Otitis media. Advised pain relief; review if not settling.",
            ),
            _entry(
                patient,
                5,
                s.CONSULTATIONS,
                ago(60),
                "Safeguarding discussion",
                detail="Discussion with health visitor.",
                hidden=True,
                harmful=True,
            ),
            _entry(patient, 6, s.PROBLEMS, ago(900), "Eczema", "43116000"),
        ]
    entries = [
        _entry(patient, 1, s.ALLERGIES, date(2012, 3, 14), "Penicillin allergy", "91936005",
               "Rash"),
        _entry(patient, 2, s.ALLERGIES, ago(200), "Allergy to peanuts", "91935009"),
        _entry(patient, 3, s.PROBLEMS, date(2009, 6, 2), "Asthma", "195967001"),
        _entry(patient, 4, s.PROBLEMS, ago(400), "Essential hypertension", "59621000"),
        _entry(patient, 5, s.IMMUNISATIONS, date(2021, 10, 12), "COVID-19 vaccination",
               "1324681000000101"),
        _entry(patient, 6, s.IMMUNISATIONS, ago(50), "Seasonal influenza vaccination",
               "822851000000102"),
        _entry(patient, 7, s.MEDICATIONS, ago(90), "Amlodipine 5mg tablets",
               detail="One tablet daily"),
        _entry(patient, 8, s.MEDICATIONS, date(2019, 4, 1), "Salbutamol 100micrograms inhaler",
               detail="Two puffs when required"),
        _entry(patient, 9, s.TEST_RESULTS, ago(60), "Haemoglobin A1c level", HBA1C,
               "Within target.", _hba1c(38)),
        _entry(patient, 10, s.TEST_RESULTS, date(2022, 8, 9), "Serum cholesterol",
               "1005671000000105", result=("5.1", 5.1, "mmol/L", None, 5.0)),
        # Not yet reviewed by a clinician: never shown online until filed.
        _entry(patient, 11, s.TEST_RESULTS, ago(3), "Haemoglobin concentration", "1022431000000105",
               result=("98", 98.0, "g/L", 115.0, 165.0), filed=False),
        _entry(patient, 12, s.CONSULTATIONS, date(2020, 2, 11), "Lower respiratory tract infection",
               "50417007", "Productive cough for a week. Chest clear. Advised fluids."),
        _entry(patient, 13, s.CONSULTATIONS, ago(30), "Blood pressure review", "1091811000000102",
               "BP 132/84. Continue amlodipine."),
        _entry(patient, 14, s.CONSULTATIONS, ago(20), "Consultation: telephone follow-up",
               detail="Discussed home circumstances.", hidden=True),
        _entry(patient, 15, s.PROBLEMS, ago(100), "Family history of breast cancer",
               "429740004", "Mother diagnosed aged 52.", third_party=True),
        _entry(patient, 16, s.CONSULTATIONS, ago(10), "Consultation: results discussion planned",
               detail="Awaiting specialist opinion before discussing prognosis.", harmful=True),
        _entry(patient, 17, s.CONSULTATIONS, AUTOMATIC_ACCESS_START, "Consultation: annual review",
               detail="Well. No changes."),
        # The same test over two years, so apps can draw its trend; one result the
        # practice hid, which must never appear in it.
        _entry(patient, 18, s.TEST_RESULTS, ago(240), "Haemoglobin A1c level", HBA1C,
               result=_hba1c(44)),
        _entry(patient, 19, s.TEST_RESULTS, ago(420), "Haemoglobin A1c level", HBA1C,
               result=_hba1c(47)),
        _entry(patient, 20, s.TEST_RESULTS, ago(600), "Haemoglobin A1c level", HBA1C,
               result=_hba1c(49)),
        _entry(patient, 21, s.TEST_RESULTS, ago(730), "Haemoglobin A1c level", HBA1C,
               "Repeat in six months.", _hba1c(52)),
        _entry(patient, 22, s.TEST_RESULTS, ago(330), "Haemoglobin A1c level", HBA1C,
               result=_hba1c(61), hidden=True),
        # Each withholding flag before 1 November 2023 too.
        _entry(patient, 23, s.PROBLEMS, date(2019, 9, 3), "Alcohol misuse", "7200002",
               hidden=True),
        _entry(patient, 24, s.CONSULTATIONS, date(2018, 5, 22), "Discussion about a relative",
               "408402003", "Spouse's diagnosis discussed.", third_party=True),
        _entry(patient, 25, s.TEST_RESULTS, date(2021, 3, 17), "Prostate specific antigen level",
               "1030791000000100", result=("9.8", 9.8, "ug/L", 0.0, 4.0), harmful=True),
        # A medicine the practice hid, also a repeat course (`_HIDDEN_COURSE`): named
        # nowhere online, neither here nor in the prescriptions routes.
        _entry(patient, 26, s.MEDICATIONS, ago(200), _HIDDEN_COURSE[0], detail=_HIDDEN_COURSE[1],
               hidden=True),
    ]  # fmt: skip
    return entries


_TINY_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def _documents(patient: SeedPatient, today: date) -> list[dict[str, Any]]:
    def doc(number: int, title: str, recorded_on: date, content_type: str, data: bytes,
            **flags: bool) -> dict[str, Any]:  # fmt: skip
        return {
            "document_id": f"{patient.patient_ref}-D{number}",
            "patient_ref": patient.patient_ref,
            "title": title,
            "recorded_on": recorded_on,
            "content_type": content_type,
            "data": data,
            "hidden": flags.get("hidden", False),
            "third_party": flags.get("third_party", False),
            "harmful": flags.get("harmful", False),
        }

    def ago(days: int) -> date:
        return today - timedelta(days=days)

    return [
        doc(1, "Hospital discharge summary", ago(120), "text/plain",
            b"Discharge summary: admitted for observation, discharged home the next day.\n"),
        doc(2, "Outpatient clinic letter", date(2021, 5, 20), "application/pdf", _TINY_PDF),
        doc(3, "Letter about a family member", ago(70), "text/plain",
            b"Letter concerning a relative's care.\n", third_party=True),
        doc(4, "Safeguarding report", ago(40), "text/plain",
            b"Confidential report.\n", hidden=True, harmful=True),
    ]  # fmt: skip
