"""Swagger UI and ReDoc render under the service's CSP in a real browser, fetching nothing
from another host. Needs Chromium: `make browser-test` installs it and runs this;
elsewhere it is skipped unless `REQUIRE_BROWSER=1`."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.live_server import LiveServer, live_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if CHROMIUM is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("REQUIRE_BROWSER=1 but Chromium is not installed")
        pytest.skip("needs Chromium (make browser-test)")
    with live_server(tmp_path_factory.mktemp("browser")) as running:
        yield running


def render(server: LiveServer, page: str) -> tuple[str, str]:
    """The page's DOM after its scripts ran, and the browser's console log."""
    assert CHROMIUM is not None
    done = subprocess.run(  # noqa: S603 - a fixed browser, a local URL
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=15000",
            "--dump-dom",
            f"{server.base_url}{page}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout, done.stderr


def csp_violations(console: str) -> list[str]:
    return [line for line in console.splitlines() if "Content Security Policy" in line]


def test_swagger_ui_renders_every_operation(server: LiveServer) -> None:
    dom, console = render(server, "/docs")
    assert csp_violations(console) == []
    for link in (
        "#/appointments/book_appointment",
        "#/appointments/search_slots",
        "#/auth/get_current_session",
    ):
        assert f'href="{link}"' in dom, link


def test_redoc_renders_and_its_external_logo_is_blocked(server: LiveServer) -> None:
    dom, console = render(server, "/redoc")
    assert "Book a slot" in dom
    violations = csp_violations(console)
    # The one thing the page tries to load from elsewhere, and the policy stops it.
    assert violations, "ReDoc's footer logo should have been blocked"
    assert all("cdn.redoc.ly/redoc/logo-mini.svg" in line for line in violations), violations
