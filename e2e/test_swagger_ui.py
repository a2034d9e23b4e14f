"""The README's Swagger UI walk-through, in a real browser, at the three sandbox practices
and at the GP Connect practice (the stand-in beside the dev server, see conftest).

At each practice: signs in through the development NHS login stand-in as someone else,
then again as the practice's patient in the same browser (the CSRF token must follow),
and books, lists and cancels through Swagger UI's own buttons. Then signs out, and
checks that no page asked for anything elsewhere. One test per practice, so a slow
browser on a busy machine spends one walk-through's time budget, not four.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from app.adapters.sandbox.personas import GPCONNECT_PRACTICE, find_persona
from tests.frozen import SUITE_NOW, SUITE_TODAY
from tests.live_server import LiveServer

# EMIS-like, TPP-like, Vision-like sandbox practices, and the GP Connect one.
PRACTICES = ("A81001", "B82002", "C83003", GPCONNECT_PRACTICE)
# The walk-through's patient: the persona with this tag at the practice, else "adult-full".
PERSONA_TAGS = {GPCONNECT_PRACTICE: "gpconnect-adult"}
TIMEOUT_MS = 30_000


def sign_in(page: Page, server: LiveServer, ods_code: str) -> str:
    """Sign in from the docs page's own link, picking the practice's adult persona."""
    tag = PERSONA_TAGS.get(ods_code, "adult-full")
    persona = find_persona(SUITE_TODAY, tag, ods_code=ods_code)
    page.goto(f"{server.base_url}/docs")
    line = page.locator("#gp-session")
    expect(line).to_be_visible(timeout=TIMEOUT_MS)
    line.get_by_role("link", name="Sign in").first.click()
    page.locator(f'button[name="persona"][value="{persona.nhs_login_claims["sub"]}"]').click()
    page.wait_for_url(f"{server.base_url}/docs**")
    expect(line).to_contain_text("Signed in as", timeout=TIMEOUT_MS)
    expect(line).to_contain_text(ods_code)
    return persona.label


def execute(
    page: Page,
    tag: str,
    operation: str,
    params: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> tuple[int, Any]:
    """Open an operation, fill it in, press Execute, and read the answer Swagger UI shows."""
    block = page.locator(f"#operations-{tag}-{operation}")
    block.scroll_into_view_if_needed()
    if "is-open" not in (block.get_attribute("class") or ""):
        block.locator(".opblock-summary-control").click()
    try_out = block.locator("button.try-out__btn")
    if try_out.inner_text().strip() == "Try it out":
        try_out.click()
    clear = block.locator("button.btn-clear")
    if clear.count():
        clear.click()
    for name, value in (params or {}).items():
        block.locator(f'tr[data-param-name="{name}"] input').fill(value)
    if body is not None:
        block.locator("textarea.body-param__text").fill(json.dumps(body))
    block.locator("button.execute").click()
    answer = block.locator(".live-responses-table .response").first
    expect(answer).to_be_visible(timeout=TIMEOUT_MS)
    status = int(answer.locator(".response-col_status").inner_text().strip())
    text = answer.locator(".response-col_description pre").first.inner_text()
    return status, json.loads(text) if text.strip() else None


def book_list_and_cancel(page: Page, ods_code: str) -> None:
    status, profiles = execute(page, "me", "list_linked_profiles")
    assert status == 200, profiles
    patient_id = next(p for p in profiles["items"] if p["relationship"] == "self")["patient_id"]
    assert profiles["items"][0]["practice"]["ods_code"] == ods_code
    ids = {"patient_id": patient_id}

    status, practice = execute(page, "patients", "get_practice_policy", ids)
    assert status == 200, practice
    earliest = SUITE_NOW + timedelta(minutes=practice["cancellation_cutoff_minutes"], days=1)
    status, slots = execute(
        page,
        "appointments",
        "search_slots",
        {**ids, "from": earliest.isoformat(timespec="seconds"), "limit": "1"},
    )
    assert status == 200, slots
    booking: dict[str, Any] = {"slot_id": slots["items"][0]["slot_id"]}
    if practice["booking_reason"] != "not_requested":
        booking["reason"] = "Follow-up on blood pressure"
    status, booked = execute(
        page,
        "appointments",
        "book_appointment",
        {**ids, "Idempotency-Key": str(uuid.uuid4())},
        booking,
    )
    assert status == 201, booked  # the CSRF token went with the POST, sent by the page

    status, listed = execute(page, "appointments", "list_appointments", ids)
    assert status == 200, listed
    assert booked["appointment_id"] in {a["appointment_id"] for a in listed["items"]}

    status, reasons = execute(page, "appointments", "list_cancellation_reasons", ids)
    assert status == 200, reasons
    cancel = {"reason_code": reasons["items"][0]["code"]} if reasons["required"] else {}
    status, cancelled = execute(
        page,
        "appointments",
        "cancel_appointment",
        {**ids, "appointment_id": booked["appointment_id"]},
        cancel,
    )
    assert status == 200, cancelled
    assert cancelled["status"] == "cancelled"


@pytest.mark.parametrize("ods_code", PRACTICES)
def test_swagger_ui_walk_through(
    page: Page, dev_server: LiveServer, external_requests: list[str], ods_code: str
) -> None:
    # Signed in elsewhere first, then again in the same browser without signing out:
    # the CSRF token the page sends must follow the newer session.
    sign_in(page, dev_server, next(other for other in PRACTICES if other != ods_code))
    sign_in(page, dev_server, ods_code)
    book_list_and_cancel(page, ods_code)
    assert external_requests == []


def test_signing_out_and_redoc_ask_nothing_of_elsewhere(
    page: Page, dev_server: LiveServer, external_requests: list[str]
) -> None:
    sign_in(page, dev_server, PRACTICES[0])
    page.locator("#gp-sign-out").click()
    expect(page.locator("#gp-session")).to_contain_text("Not signed in", timeout=TIMEOUT_MS)

    # ReDoc too: its bundle names an external logo, which the page must not fetch.
    page.goto(f"{dev_server.base_url}/redoc")
    expect(page.locator("h1").first).to_contain_text("GP Online", timeout=TIMEOUT_MS)
    page.wait_for_load_state("networkidle")
    assert external_requests == []
