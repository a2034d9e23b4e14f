"""Swagger UI at `/docs`, signed in by the browser's own session.

The page carries no inline script (the docs CSP allows scripts from this site only):
its set-up is `static/swagger-init.js`, configured through `data-` attributes. That
script sends the script-readable CSRF cookie as `X-CSRF-Token` on every unsafe
request, so a token can never be stale in Swagger UI, and, in dev, shows who is
signed in with links to sign in and out. A sign-in that came back without signing in
(`login_error`) is said in words above it, rendered here: no script, so no new hash.

Signing in belongs to the public address (PUBLIC_BASE_URL): its cookie is kept for
that address only. In dev, `/docs` opened by another local name for the same server
(localhost for 127.0.0.1, or 0.0.0.0) goes to the public address; opened anywhere
else, the page says where to sign in before anyone tries, and its sign-in link goes
there.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import QueryParams

from app.auth.cookies import CSRF_COOKIE, CSRF_HEADER
from app.config import AppEnv, Settings
from app.public_address import keeps_sign_in_cookie, same_server_at_public_address

DOCS_PATH = "/docs"
# What the sign-in's `login_error` flag (app.auth.router) means, in the user's words.
# Codes not listed show nothing: the page never repeats text from its address.
SIGN_IN_NOTICES = {
    "login_cancelled": "You cancelled signing in. You can sign in again at any time.",
}
ASSETS_PATH = "/docs-assets"
OFFLINE_ASSETS_PATH = "/static-offline-docs"  # fastapi-offline's Swagger UI and ReDoc files
STATIC_DIR = Path(__file__).resolve().parent / "static"


def swagger_page(
    *, root: str, openapi_url: str, settings: Settings, title: str, notice: str | None = None
) -> HTMLResponse:
    """The page, with `notice` (plain text) above Swagger UI when there is one. A notice is
    HTML, not script, so the page's script hashes (app.headers) do not change with it."""
    dev = settings.app_env is AppEnv.DEV
    public_base_url = settings.public_base_url.rstrip("/")
    config = {
        "openapiUrl": f"{root}{openapi_url}",
        "csrfCookie": CSRF_COOKIE,
        "csrfHeader": CSRF_HEADER,
        # Keeping a pasted bearer token across visits is for developers' own machines.
        "persistAuthorization": settings.app_env is AppEnv.DEV,
        # Who is signed in, with sign-in and sign-out links: dev only.
        "sessionLine": settings.app_env is AppEnv.DEV,
        "root": root,
        # Where signing in works, to say so on a page opened at another address: dev only.
        "publicBaseUrl": public_base_url if dev else None,
        "publicKeepsCookie": keeps_sign_in_cookie(public_base_url),
    }
    document = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} - Swagger UI</title>
<link rel="icon" type="image/png" href="{root}{OFFLINE_ASSETS_PATH}/favicon.png">
<link rel="stylesheet" href="{root}{OFFLINE_ASSETS_PATH}/swagger-ui.css">
<link rel="stylesheet" href="{root}{ASSETS_PATH}/docs.css">
</head>
<body>
{_notice_html(notice)}<div id="gp-address" class="gp-address" role="note" hidden></div>
<div id="gp-session" class="gp-session" aria-live="polite" hidden></div>
<div id="swagger-ui"></div>
<script src="{root}{OFFLINE_ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="{root}{ASSETS_PATH}/swagger-init.js"
 data-config="{html.escape(json.dumps(config), quote=True)}"></script>
</body>
</html>
"""
    return HTMLResponse(document)


def _notice_html(notice: str | None) -> str:
    if notice is None:
        return ""
    return f'<div id="gp-notice" class="gp-notice" role="status">{html.escape(notice)}</div>\n'


def _sign_in_notice(request: Request) -> str | None:
    """What to say about a sign-in that came back here without signing in, if anything."""
    # app.headers renders the page from a bare scope, with no query, to hash its scripts.
    query = QueryParams(request.scope.get("query_string", b""))
    return SIGN_IN_NOTICES.get(query.get("login_error", ""))


def _public_address_of(request: Request, settings: Settings) -> str | None:
    """In dev, this page at the public address when it was opened by another local name
    for this server (`same_server_at_public_address`)."""
    # app.headers renders the page from a bare scope, with no request, to hash its scripts.
    if settings.app_env is not AppEnv.DEV or "headers" not in request.scope:
        return None
    return same_server_at_public_address(str(request.url), settings.public_base_url)


def mount_docs(app: FastAPI, settings: Settings) -> None:
    """Serve `/docs` (and Swagger UI's OAuth2 redirect page) with the external set-up script."""
    app.mount(ASSETS_PATH, StaticFiles(directory=STATIC_DIR), name="docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> Response:
        if (public := _public_address_of(request, settings)) is not None:
            return RedirectResponse(public, status_code=307)
        root = str(request.scope.get("root_path", ""))
        return swagger_page(
            root=root,
            openapi_url=app.openapi_url or "",
            settings=settings,
            title=app.title,
            notice=_sign_in_notice(request),
        )

    @app.get("/", include_in_schema=False)
    async def front_door(request: Request) -> RedirectResponse:
        """The site's address alone leads to the docs, served in every environment."""
        return RedirectResponse(f"{request.scope.get('root_path', '')}{DOCS_PATH}", 307)

    if app.swagger_ui_oauth2_redirect_url:

        @app.get(app.swagger_ui_oauth2_redirect_url, include_in_schema=False)
        async def swagger_ui_redirect() -> HTMLResponse:
            return get_swagger_ui_oauth2_redirect_html()
