"""A real browser (Debian's chromium, driven by Playwright) against a real dev server."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Request, sync_playwright

from tests.live_server import LiveServer, live_server

PROJECT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", PROJECT / "var" / "e2e"))
# No first-run, sync, update or field-trial traffic: the browser may call the server only.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    setattr(item, f"report_{report.when}", report)  # type: ignore[attr-defined]
    return report


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("e2e-server")
    env = {
        "APP_ENV": "dev",
        "NHS_LOGIN_PRIVATE_KEY_FILE": str(directory / "client-key.pem"),
        "LOG_LEVEL": "INFO",
    }
    with live_server(directory, env=env) as running:
        yield running


@pytest.fixture
def external_requests() -> list[str]:
    return []


@pytest.fixture
def browser(
    dev_server: LiveServer, tmp_path: Path, external_requests: list[str]
) -> Iterator[BrowserContext]:
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=tmp_path / "profile",  # fresh: no cookies, no stored tokens
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
        )

        def external(request: Request) -> bool:
            return not request.url.startswith((dev_server.base_url + "/", "data:", "blob:"))

        def note(request: Request) -> None:
            if external(request):
                external_requests.append(request.url)

        def blocked(request: Request) -> None:
            # Stopped by the page's Content-Security-Policy: it never left the browser.
            if external(request) and request.failure in {"csp", "net::ERR_BLOCKED_BY_CSP"}:
                external_requests.remove(request.url)

        context.on("request", note)
        context.on("requestfailed", blocked)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Page]:
    page = browser.pages[0] if browser.pages else browser.new_page()
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
        print(f"screenshot: {ARTIFACTS / f'{name}.png'}")
