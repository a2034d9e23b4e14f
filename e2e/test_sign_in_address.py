"""Web sign-in with the service listening on every address (`make run HOST=0.0.0.0`: a VM,
a container, a remote box) and no PUBLIC_BASE_URL, in a real browser.

Chromium keeps the `Secure` sign-in cookies over plain http only at loopback, so the
address the service names must be one, and pages opened at other names must say so, or
go there, before anyone signs in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from app.adapters.sandbox.personas import find_persona
from app.public_address import machine_addresses
from e2e.conftest import CHROMIUM, CHROMIUM_FLAGS
from tests.frozen import SUITE_TODAY
from tests.live_server import LiveServer, live_server
from tests.sign_in_address import printed_docs_address

TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def wildcard_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("e2e-wildcard")
    env = {
        "APP_ENV": "dev",
        "HOST": "0.0.0.0",  # noqa: S104
        "PUBLIC_BASE_URL": None,
        "NHS_LOGIN_PRIVATE_KEY_FILE": str(directory / "client-key.pem"),
        "LOG_LEVEL": "INFO",
    }
    with live_server(directory, env=env) as running:
        yield running


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    """A fresh Chromium profile (no cookies) for each test; conftest's `page` uses it."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=tmp_path / "profile",
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
        )
        try:
            yield context
        finally:
            context.close()


def sign_in_from_docs(page: Page, docs: str) -> None:
    """Follow the docs page's own sign-in link and pick a persona; back at `docs`."""
    persona = find_persona(SUITE_TODAY, "adult-full")
    line = page.locator("#gp-session")
    expect(line).to_be_visible(timeout=TIMEOUT_MS)
    line.get_by_role("link", name="Sign in").first.click()
    page.locator(f'button[name="persona"][value="{persona.nhs_login_claims["sub"]}"]').click()
    page.wait_for_url(f"{docs}**", timeout=TIMEOUT_MS)
    expect(line).to_contain_text("Signed in as", timeout=TIMEOUT_MS)


def test_signing_in_at_the_address_the_service_prints(
    page: Page, wildcard_server: LiveServer
) -> None:
    docs = printed_docs_address(wildcard_server)
    assert docs == f"http://127.0.0.1:{wildcard_server.port}/docs"
    page.goto(docs)
    sign_in_from_docs(page, docs)
    expect(page.locator("#gp-address")).to_be_hidden()


@pytest.mark.parametrize("name", ["0.0.0.0", "localhost"])  # noqa: S104
def test_docs_opened_by_another_name_for_this_server_signs_in_at_the_printed_one(
    page: Page, wildcard_server: LiveServer, name: str
) -> None:
    docs = printed_docs_address(wildcard_server)
    page.goto(f"http://{name}:{wildcard_server.port}/docs")
    page.wait_for_url(docs, timeout=TIMEOUT_MS)
    sign_in_from_docs(page, docs)


def test_docs_at_the_machines_network_address_says_where_to_sign_in_before_signing_in(
    page: Page, wildcard_server: LiveServer
) -> None:
    """As from another computer: plain http there cannot keep the cookie, and loopback
    there is not this server, so the page names the address and how to reach it."""
    outward = [name for name in machine_addresses() if name[0].isdigit()]
    if not outward:
        pytest.skip("this machine has no network address besides loopback")
    docs = printed_docs_address(wildcard_server)
    public = docs.removesuffix("/docs")
    port = wildcard_server.port
    page.goto(f"http://{outward[0]}:{port}/docs")
    note = page.locator("#gp-address")
    expect(note).to_be_visible(timeout=TIMEOUT_MS)
    expect(note).to_contain_text(f"signing in belongs to {public}")
    expect(note).to_contain_text(f"ssh -N -L {port}:127.0.0.1:{port} {outward[0]}")
    # The session line's sign-in goes to the named address too, never this one.
    sign_in = page.locator("#gp-session").get_by_role("link", name="Sign in").first
    expect(sign_in).to_have_attribute("href", f"{public}/v1/auth/login?return_to=%2Fdocs")
    note.get_by_role("link", name=f"Open Swagger UI at {docs}").click()
    page.wait_for_url(docs, timeout=TIMEOUT_MS)
    expect(page.locator("#gp-address")).to_be_hidden()
    sign_in_from_docs(page, docs)
