"""The stand-in's sign-in page: where its form may lead, and how it names a wrong persona."""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.headers import DEV_CSP, redirect_source
from app.main import create_app
from tests.auth.conftest import (
    APP_REDIRECT_URI,
    BASE_URL,
    P9_VTR,
    _serve,
    hidden_fields,
    query_of,
)
from tests.conftest import FakeClock

AUTHORIZE = "/dev/nhs-login/authorize"
WEB_REDIRECT_URI = f"{BASE_URL}/v1/auth/callback"


def _params(redirect_uri: str = APP_REDIRECT_URI, vtr: str = P9_VTR) -> dict[str, str]:
    return {
        "client_id": "gp-online-dev",
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": "openid profile",
        "state": "s-1",
        "nonce": "n-1",
        "vtr": vtr,
    }


def _policy(response: httpx.Response) -> dict[str, set[str]]:
    (header,) = response.headers.get_list("content-security-policy")
    return {name: set(values) for name, *values in (d.split() for d in header.split(";"))}


@pytest.mark.parametrize("redirect_uri", [APP_REDIRECT_URI, WEB_REDIRECT_URI])
async def test_the_page_may_hand_the_code_to_its_own_redirect_uri_only(
    web: httpx.AsyncClient, redirect_uri: str
) -> None:
    # Browsers apply form-action to the redirect after the form's POST: without the
    # redirect URI, an app's loopback (or any other host's) callback never gets the code.
    page = await web.get(f"{AUTHORIZE}?" + urlencode(_params(redirect_uri)))
    assert page.status_code == 200
    policy = _policy(page)
    assert policy.pop("form-action") == {"'self'", redirect_uri}
    expected = {name: set(values) for name, *values in (d.split() for d in DEV_CSP.split(";"))}
    expected.pop("form-action")
    assert policy == expected


async def test_a_refused_request_names_no_redirect_uri(web: httpx.AsyncClient) -> None:
    page = await web.get(f"{AUTHORIZE}?" + urlencode(_params("https://elsewhere.example/cb")))
    assert page.status_code == 400
    assert _policy(page)["form-action"] == {"'self'"}


@pytest.mark.parametrize(
    ("uri", "source"),
    [
        ("http://127.0.0.1:8765/callback", "http://127.0.0.1:8765/callback"),
        ("http://[::1]:8765/callback?app=1", "http://[::1]:8765/callback"),
        ("https://user@app.example/cb;x,y", "https://app.example/cb%3Bx%2Cy"),
        ("com.example.app:/callback", "com.example.app:"),
    ],
)
def test_a_redirect_uri_becomes_one_exact_source(uri: str, source: str) -> None:
    assert redirect_source(uri) == source


@pytest.mark.parametrize("uri", ["http://a b/cb", "http://*.example/cb", "/callback"])
def test_a_redirect_uri_that_would_widen_the_policy_is_refused(uri: str) -> None:
    with pytest.raises(ValueError, match="no CSP source"):
        redirect_source(uri)


async def test_a_registered_uri_no_policy_can_name_is_refused_not_a_crash(
    standin_settings: Settings, engine: AsyncEngine, clock: FakeClock
) -> None:
    unusable = "http://*.example/cb"
    settings = standin_settings.model_copy(update={"nhs_login_app_redirect_uris": [unusable]})
    async for web in _serve(create_app(settings, clock=clock)):
        page = await web.get(f"{AUTHORIZE}?" + urlencode(_params(unusable)))
    assert page.status_code == 400
    assert "check NHS_LOGIN_APP_REDIRECT_URIS" in page.text


async def _choose(web: httpx.AsyncClient, choice: str, **headers: str) -> httpx.Response:
    page = await web.get(f"{AUTHORIZE}?" + urlencode(_params()))
    form = {**hidden_fields(page.text), "persona": choice}
    return await web.post(AUTHORIZE, data=form, headers=headers)


async def test_a_persona_may_be_picked_by_its_tag(web: httpx.AsyncClient) -> None:
    back = await _choose(web, "adult-full")
    assert back.status_code == 302
    assert set(query_of(back.headers["location"])) == {"code", "state"}


async def test_an_unknown_persona_is_named_with_where_to_find_one(web: httpx.AsyncClient) -> None:
    page = await _choose(web, "adult-ful")
    assert page.status_code == 400
    assert "There is no sandbox persona &#x27;adult-ful&#x27;" in page.text
    assert "python -m app.adapters.sandbox personas" in page.text
    assert "vtr" not in page.text

    text = await _choose(web, "adult-ful", accept="text/plain")
    assert text.status_code == 400
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == (
        "There is no sandbox persona 'adult-ful': give a persona's sub or tag, as listed by "
        "`python -m app.adapters.sandbox personas`."
    )


async def test_a_persona_below_the_level_asked_for_is_told_so(web: httpx.AsyncClient) -> None:
    text = await _choose(web, "p5-identity", accept="text/plain")
    assert text.status_code == 400
    assert "(p5-identity, A81001) has proved their identity to P5" in text.text
    assert "needs P9 or above" in text.text


def _persona_buttons(page: str) -> dict[str, tuple[bool, str]]:
    """Each persona button's name → (whether it can be picked, its words)."""
    found = re.findall(
        r'<button type="submit" name="persona" value="[^"]*"( disabled)?>([^<]*)</button>', page
    )
    return {
        html.unescape(text).split(" — ")[0]: (not disabled, html.unescape(text))
        for disabled, text in found
    }


async def test_the_page_says_in_plain_words_why_a_persona_cannot_be_picked(
    web: httpx.AsyncClient,
) -> None:
    page = await web.get(f"{AUTHORIZE}?" + urlencode(_params(vtr=P9_VTR)))
    buttons = _persona_buttons(page.text)

    assert buttons["Daniel Brooks (p5-identity, A81001)"] == (
        False,
        "Daniel Brooks (p5-identity, A81001) — identity checked to P5 (medium) only: "
        "this sign-in needs P9 (high)",
    )
    assert buttons["Olivia Harrison (adult-full, A81001)"] == (
        True,
        "Olivia Harrison (adult-full, A81001) — identity checked to P9 (high)",
    )
    assert "vtr" not in "".join(text for _, text in buttons.values())
