"""Where a newcomer lands: `/` points to the docs, and `/docs` says why sign-in came back."""

from __future__ import annotations

import re

import httpx
import pytest

NOTICE = re.compile(r'<div id="gp-notice"[^>]*>(.*?)</div>', re.S)


async def test_the_site_root_points_to_the_docs(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "/docs"
    assert (await client.get("/", follow_redirects=True)).url.path == "/docs"


async def test_a_cancelled_sign_in_is_said_on_the_docs_page(client: httpx.AsyncClient) -> None:
    plain = await client.get("/docs")
    page = await client.get("/docs", params={"login_error": "login_cancelled"})

    assert page.status_code == 200
    assert NOTICE.findall(plain.text) == []
    assert NOTICE.findall(page.text) == [
        "You cancelled signing in. You can sign in again at any time."
    ]
    # Nothing but words: the page's scripts, and so its CSP, are the same.
    csp = "content-security-policy"
    assert page.headers[csp] == plain.headers[csp]


@pytest.mark.parametrize("code", ["made_up", "<script>alert(1)</script>", ""])
async def test_an_unknown_sign_in_code_shows_nothing(client: httpx.AsyncClient, code: str) -> None:
    page = await client.get("/docs", params={"login_error": code})
    assert page.status_code == 200
    assert NOTICE.findall(page.text) == []
    assert "alert(1)" not in page.text
