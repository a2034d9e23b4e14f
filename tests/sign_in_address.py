"""Signing in over the web as a browser would, at the address the service names.

HTTP client libraries never send `Secure` cookies over plain http; browsers do, at
loopback addresses only (they count as secure), and drop them everywhere else. A
client with `BrowserCookiePolicy` keeps the sign-in cookies where a browser would,
so a sign-in at the wrong address fails here as it does in Chromium.
"""

from __future__ import annotations

import html
import re
import time
from email.message import Message
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from urllib.parse import urlsplit
from urllib.request import Request

import httpx

from tests.live_server import LiveServer

# Written out here rather than taken from the app: the test's idea of a browser.
_LOOPBACK = re.compile(r"^(localhost|127(\.\d{1,3}){3}|::1)$")
_BANNER_DOCS = re.compile(r"^\s*Swagger UI\s+(\S+)\s*$", re.MULTILINE)
BANNER_SECONDS = 30


def _browser_keeps_secure_cookies(request: Request) -> bool:
    parts = urlsplit(request.get_full_url())
    return parts.scheme == "https" or bool(_LOOPBACK.match(parts.hostname or ""))


class BrowserCookiePolicy(DefaultCookiePolicy):
    """`Secure` cookies kept and sent over https, or over http at loopback addresses only."""

    def set_ok(self, cookie: Cookie, request: Request) -> bool:
        if cookie.secure and not _browser_keeps_secure_cookies(request):
            return False
        return bool(super().set_ok(cookie, request))

    def return_ok_secure(self, cookie: Cookie, request: Request) -> bool:
        return not cookie.secure or _browser_keeps_secure_cookies(request)


def _cookie_request(request: httpx.Request) -> Request:
    """The request as `CookieJar` reads one (its URL only; never opened)."""
    return Request(str(request.url))  # noqa: S310


class _SetCookies:
    """A response as `CookieJar.extract_cookies` reads one."""

    def __init__(self, response: httpx.Response) -> None:
        self._message = Message()
        for value in response.headers.get_list("set-cookie"):
            self._message["Set-Cookie"] = value

    def info(self) -> Message:
        return self._message


class BrowserCookies(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Keeps and sends cookies as a browser would (`BrowserCookiePolicy`), in place of the
    client's own cookie handling, which never sends `Secure` cookies over http."""

    def __init__(self, inner: httpx.BaseTransport | httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.jar = CookieJar(policy=BrowserCookiePolicy())

    def _send_cookies(self, request: httpx.Request) -> None:
        compatible = _cookie_request(request)
        self.jar.add_cookie_header(compatible)
        if "Cookie" in request.headers:
            del request.headers["Cookie"]
        if cookie := compatible.get_header("Cookie"):
            request.headers["Cookie"] = cookie

    def _keep_cookies(self, request: httpx.Request, response: httpx.Response) -> None:
        self.jar.extract_cookies(_SetCookies(response), _cookie_request(request))  # type: ignore[arg-type]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(self._inner, httpx.BaseTransport)
        self._send_cookies(request)
        response = self._inner.handle_request(request)
        self._keep_cookies(request, response)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(self._inner, httpx.AsyncBaseTransport)
        self._send_cookies(request)
        response = await self._inner.handle_async_request(request)
        self._keep_cookies(request, response)
        return response


def browser_like_client() -> httpx.Client:
    """A client that follows redirects and keeps cookies as a browser does."""
    transport = BrowserCookies(httpx.HTTPTransport())
    return httpx.Client(transport=transport, follow_redirects=True, timeout=10)


def _hidden_fields(page: str) -> dict[str, str]:
    pairs = re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)
    return {html.unescape(k): html.unescape(v) for k, v in pairs}


def _form_action(page: str) -> str:
    found = re.search(r'<form method="post" action="([^"]*)"', page)
    assert found, page
    return html.unescape(found.group(1))


def web_sign_in(client: httpx.Client, login_url: str, persona_sub: str) -> httpx.Response:
    """Open `login_url`, pick the persona on the stand-in's page; the page it ends at."""
    picker = client.get(login_url)
    assert picker.status_code == 200, picker.text
    form = {**_hidden_fields(picker.text), "persona": persona_sub}
    return client.post(_form_action(picker.text), data=form)


def printed_docs_address(server: LiveServer) -> str:
    """The Swagger UI address `python -m app` printed (it prints once it is serving)."""
    deadline = time.monotonic() + BANNER_SECONDS
    while True:
        found = _BANNER_DOCS.search(server.log.read_text())
        if found:
            return found.group(1)
        assert time.monotonic() < deadline, f"no banner:\n{server.log.read_text()}"
        time.sleep(0.2)
