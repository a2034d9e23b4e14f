"""A real browser (Debian's chromium, driven by Playwright) against a real dev server.

Beside the dev server, as under `make run`, the GP Connect stand-in runs as a process of
its own: the practices file the server is given reaches the GP Connect practice there,
and the server exchanges its dev NHS login's ID tokens at the stand-in's token endpoint
with a client key the stand-in checks. When a test fails, both processes' logs are kept
in the artifacts beside the screenshots.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from joserfc.jwk import RSAKey
from playwright.sync_api import BrowserContext, Page, Request, sync_playwright

from app.adapters.sandbox.personas import GPCONNECT_PRACTICE
from app.config import DEFAULT_PRACTICES_FILE
from tests.frozen import SUITE_NOW
from tests.live_server import LiveServer, free_port, live_server
from tests.standin.conftest import _start, _stop

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


def practices_at_standin(directory: Path, standin_port: int) -> Path:
    """The dev practices file, its GP Connect practices' endpoints at the stand-in's port."""
    configured = json.loads(DEFAULT_PRACTICES_FILE.read_text())
    for practice in configured["practices"]:
        if practice["adapter"] == "gpconnect":
            practice["endpoints"] = {
                service: urlunsplit(
                    urlsplit(url)._replace(scheme="http", netloc=f"127.0.0.1:{standin_port}")
                )
                for service, url in practice["endpoints"].items()
            }
    path = directory / "practices.json"
    path.write_text(json.dumps(configured, indent=2))
    return path


def keep_logs(directory: Path) -> None:
    """The server's and the stand-in's logs, into the artifacts."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for log in sorted(directory.glob("*.log")):
        shutil.copyfile(log, ARTIFACTS / log.name)
        print(f"log: {ARTIFACTS / log.name}")


@pytest.fixture(scope="session")
def dev_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("e2e-server")
    standin_port = free_port()
    client_key = directory / "gpconnect-client-key.pem"
    client_key.write_bytes(RSAKey.generate_key(2048).as_pem(private=True))
    practices = practices_at_standin(directory, standin_port)
    env = {
        "APP_ENV": "dev",
        "NHS_LOGIN_PRIVATE_KEY_FILE": str(directory / "client-key.pem"),
        "LOG_LEVEL": "INFO",
        "PRACTICES_FILE": str(practices),
        "GPCONNECT_PFS_TOKEN_URL": f"http://127.0.0.1:{standin_port}/oauth2/token",
        "GPCONNECT_PFS_CLIENT_ID": "gp-online-e2e",
        "GPCONNECT_PFS_PRIVATE_KEY_FILE": str(client_key),
        "GPCONNECT_PFS_KEY_ID": "e2e",
    }
    started = False
    try:
        with live_server(directory, env=env) as running:
            standin_env = {
                "APP_ENV": "test",
                "DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'standin-app.db'}",
                "SANDBOX_DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'standin-sandbox.db'}",
                "PRACTICES_FILE": str(practices),
                "PUBLIC_BASE_URL": running.base_url,  # its NHS login issuer: the dev server's
                "FROZEN_NOW": SUITE_NOW.isoformat(),
                "LOG_LEVEL": "INFO",
            }
            args = ["--practice", GPCONNECT_PRACTICE, "--client-key", str(client_key)]
            _, standin = _start(directory, args, standin_env, port=standin_port)
            started = True
            try:
                yield running
            finally:
                _stop(standin)
    finally:
        if not started or request.session.testsfailed:
            keep_logs(directory)


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
