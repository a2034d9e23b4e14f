"""Response headers that keep patient data out of caches, and the browser security headers.

Everything under `/v1/` is personal (records, appointments, session tokens):
`Cache-Control: no-store` stops browsers and proxies keeping copies on shared
computers (RFC 6749 §5.1 requires it where tokens are issued), and `nosniff`
stops browsers reinterpreting JSON or calendar files as something else.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import re
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PRIVATE_PREFIXES = ("/v1/", "/dev/")


class PrivateResponseHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = str(scope.get("path", "")).startswith(PRIVATE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                if private:
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


# Every response: nothing may frame the service, no page sends a Referer (paths hold
# patient ids), and JSON answers may load nothing at all. `sandbox`: anything a browser
# renders anyway (a downloaded document opened in place) runs in an origin of its own,
# with no scripts, forms or cookies of ours.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"
# The development NHS login stand-in (APP_ENV=dev only) has an inline style and a form.
_DEV_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action {form_action}; "
    "frame-ancestors 'none'; base-uri 'none'"
)
DEV_CSP = _DEV_CSP.format(form_action="'self'")
# Swagger UI and ReDoc: scripts only from this site, plus the exact inline scripts the
# docs pages carry (by hash, so no injected script can run). Images only from this
# site or data: URLs, so ReDoc's footer logo (an external URL) is never fetched. Both
# set styles from script (ReDoc through styled-components), which a hash cannot cover:
# inline styles are the one allowance, and only on these pages.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HSTS = "max-age=63072000; includeSubDomains"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:[0-9]+)?", re.IGNORECASE)
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*", re.IGNORECASE)
# A path in a CSP source: `;` and `,` would end the directive, so they stay encoded.
_PATH_SAFE = "/-._~!$&'()*+=:@%"


def standin_csp(redirect_uri: str) -> str:
    """The stand-in's sign-in page policy: its form may go to this site, and its answer
    (a redirect carrying the code) to this request's registered redirect URI, nowhere else.

    Browsers apply `form-action` to the redirects that follow a form's POST too, so
    without the redirect URI an app's loopback or another host's callback is blocked.
    """
    return _DEV_CSP.format(form_action=f"'self' {redirect_source(redirect_uri)}")


def redirect_source(uri: str) -> str:
    """A CSP source matching exactly `uri` (its query aside); raises ValueError if none can.

    A private-use scheme (`com.example.app:/callback`, RFC 8252 §7.1) has no host to
    name: its source is the scheme, which belongs to the one app that registered it.
    """
    parts = urlsplit(uri)
    if not parts.netloc:
        if not _SCHEME.fullmatch(parts.scheme):
            raise ValueError(f"no CSP source for {uri!r}")
        return f"{parts.scheme}:"
    origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    if not _ORIGIN.fullmatch(origin):
        raise ValueError(f"no CSP source for {uri!r}")
    return origin + quote(parts.path, safe=_PATH_SAFE)


def script_hashes(html: bytes) -> str:
    """CSP source expressions for each inline script of a page."""
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    )


class SecurityHeaders:
    """CSP, framing, referrer and (over https) HSTS headers on every response.

    The docs pages' inline scripts are hashed from the pages as this app renders
    them from its own configuration (never from a response to a request), once
    per root path.
    """

    def __init__(self, app: ASGIApp, *, docs: FastAPI, hsts: bool) -> None:
        self.app = app
        self.docs = docs
        self.hsts = hsts
        pages = {"/docs", "/redoc", docs.swagger_ui_oauth2_redirect_url}
        self.docs_paths = {
            route.path: route
            for route in docs.routes
            if isinstance(route, APIRoute) and route.path in pages
        }
        self.docs_csp: dict[tuple[str, str], str] = {}

    async def csp_for(self, scope: Scope) -> str:
        path = str(scope.get("path", ""))
        if path.startswith("/dev/"):
            return DEV_CSP
        route = self.docs_paths.get(path)
        if route is None:
            return API_CSP
        root_path = str(scope.get("root_path", ""))
        key = (path, root_path)
        if key not in self.docs_csp:
            takes_request = bool(inspect.signature(route.endpoint).parameters)
            request = Request({"type": "http", "root_path": root_path})
            page = await (route.endpoint(request) if takes_request else route.endpoint())
            self.docs_csp[key] = DOCS_CSP.format(hashes=script_hashes(page.body))
        return self.docs_csp[key]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = await self.csp_for(scope)
        # Under /dev/ a page may send its own policy (the stand-in's sign-in page adds the
        # one redirect URI its form answers to: `standin_csp`); elsewhere ours replaces any.
        own_policy = str(scope.get("path", "")).startswith("/dev/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                policy = csp.encode()
                if own_policy:
                    policy = next(
                        (v for k, v in message.get("headers", [])
                         if k.lower() == b"content-security-policy"),
                        policy,
                    )  # fmt: skip
                ours = [
                    (b"content-security-policy", policy),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ]
                if self.hsts:
                    ours.append((b"strict-transport-security", HSTS.encode()))
                # Each of these once, and ours: a route's own copy would be sent twice.
                names = {name for name, _ in ours}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + ours
            await send(message)

        await self.app(scope, receive, send_with_headers)
