"""Swagger UI's pre-filled values are enough to order a repeat, in a real browser.

Signed in as the README walk-through's persona, "Try it out" on ordering starts with
the example medicines (hers under `make run`'s defaults) and a new `Idempotency-Key`;
only the patient id is typed. Reloading the page gives a new key.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from e2e.test_swagger_ui import TIMEOUT_MS, execute, sign_in
from tests.live_server import LiveServer

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def prefilled_key(page: Page) -> str:
    """The Idempotency-Key "Try it out" starts with on the ordering operation."""
    block = page.locator("#operations-prescriptions-request_repeats")
    block.scroll_into_view_if_needed()
    if "is-open" not in (block.get_attribute("class") or ""):
        block.locator(".opblock-summary-control").click()
    try_out = block.locator("button.try-out__btn")
    if try_out.inner_text().strip() == "Try it out":
        try_out.click()
    field = block.locator('tr[data-param-name="Idempotency-Key"] input')
    expect(field).not_to_have_value("", timeout=TIMEOUT_MS)
    return field.input_value()


def test_ordering_with_the_prefilled_example_and_key(
    page: Page, dev_server: LiveServer, external_requests: list[str]
) -> None:
    sign_in(page, dev_server, "A81001")
    status, profiles = execute(page, "me", "list_linked_profiles")
    assert status == 200, profiles
    patient_id = next(p for p in profiles["items"] if p["relationship"] == "self")["patient_id"]

    key = prefilled_key(page)
    assert UUID4.match(key), key
    status, ordered = execute(page, "prescriptions", "request_repeats", {"patient_id": patient_id})
    assert status == 201, ordered
    assert ordered["status"] == "requested"

    page.reload()
    again = prefilled_key(page)
    assert UUID4.match(again), again
    assert again != key
    assert external_requests == []
