"""The README's app example in its first form (no `--persona`), with a real browser.

The example opens the system browser at NHS login (here the development stand-in) and
waits on its loopback redirect URI for the code. Its `webbrowser.open` is pointed, by
`BROWSER`, at a script that hands the address to this test, which opens it in Chromium
and picks a persona as a developer would: the stand-in's page must then hand the code
over to the app's loopback address, and the app signs in, books and cancels.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import Page, expect

from app.adapters.sandbox.personas import find_persona
from app.config import DEV_APP_REDIRECT_URI
from tests.frozen import SUITE_TODAY
from tests.live_server import LiveServer

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLE = PROJECT / "examples" / "app_sign_in.py"
TIMEOUT_MS = 30_000
EXAMPLE_SECONDS = 120


def browser_stand_in(directory: Path) -> tuple[Path, Path]:
    """An executable for `BROWSER` that writes each address it is given to a file."""
    opened = directory / "opened.txt"
    script = directory / "hand-to-test"
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{opened}'\n")
    script.chmod(0o755)
    return script, opened


def address_opened(opened: Path, example: subprocess.Popen[str]) -> str:
    """The address the example asked the browser to open (waits for it, up to a deadline)."""
    deadline = time.monotonic() + EXAMPLE_SECONDS
    while not (opened.exists() and opened.read_text().strip()):
        assert example.poll() is None, f"the example exited:\n{example.communicate()}"
        assert time.monotonic() < deadline, "the example never opened a browser"
        time.sleep(0.1)
    return opened.read_text().splitlines()[0]


def test_the_app_example_signs_in_through_the_browser(
    page: Page, dev_server: LiveServer, tmp_path: Path
) -> None:
    browser, opened = browser_stand_in(tmp_path)
    persona = find_persona(SUITE_TODAY, "adult-full", ods_code="A81001")
    example = subprocess.Popen(  # noqa: S603 - our own example script
        [
            sys.executable,
            "-m",
            "tests.examples.at_suite_now",
            str(EXAMPLE),
            "--base-url",
            dev_server.base_url,
        ],
        cwd=PROJECT,
        env={**os.environ, "BROWSER": str(browser)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        page.goto(address_opened(opened, example))
        page.locator(f'button[name="persona"][value="{persona.nhs_login_claims["sub"]}"]').click()
        # The stand-in hands the code to the app's loopback server, which answers the tab.
        page.wait_for_url(f"{DEV_APP_REDIRECT_URI}?**", timeout=TIMEOUT_MS)
        expect(page.locator("body")).to_contain_text("Signed in", timeout=TIMEOUT_MS)
        stdout, stderr = example.communicate(timeout=EXAMPLE_SECONDS)
    finally:
        if example.poll() is None:
            example.kill()
            example.communicate()
    assert example.returncode == 0, stderr + stdout
    result = json.loads(stdout)
    assert result["booked"]["status"] == "booked"
    assert result["cancelled"]["status"] == "cancelled"
    assert result["cancelled"]["appointment_id"] == result["booked"]["appointment_id"]
