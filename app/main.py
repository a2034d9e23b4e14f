"""The application factory: middleware, routers, error handlers and lifespan."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from urllib.parse import urlsplit

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline

from app import __version__
from app.access_requests.practice_router import PRACTICE_STAFF_TAG
from app.access_requests.practice_router import router as practice_access_requests_router
from app.access_requests.router import router as access_requests_router
from app.adapters import build_gp_registry
from app.api_document import api_document
from app.appointments.router import router as appointments_router
from app.auth.router import router as auth_router
from app.auth.runtime import (
    configured_cis2_endpoint,
    configured_endpoint,
    start_auth,
    start_staff_auth,
)
from app.clock import Clock, clock_for
from app.config import Settings
from app.db import autocommit, create_engine, create_sessionmaker
from app.devtools import mount_dev_login
from app.devtools.cis2 import mount_dev_cis2
from app.docs_ui import mount_docs
from app.gp.calls import GPCallsHeader
from app.headers import PrivateResponseHeaders, SecurityHeaders
from app.health.router import router as health_router
from app.health.schema import SchemaCheck
from app.health.service import check_database_at_start
from app.heap import serving_heap
from app.metrics import RequestMetrics, serves_metrics_on_main_port
from app.metrics import router as metrics_router
from app.patients.context import ActingContexts
from app.patients.router import patient_router
from app.patients.router import router as me_router
from app.pharmacies.router import router as pharmacies_router
from app.pharmacies.runtime import start_pharmacy_directory
from app.prescriptions.router import router as prescriptions_router
from app.problems import REQUEST_ID_HEADER, install_problem_handlers
from app.ratelimit.service import RateLimiter
from app.records.router import router as record_router
from app.request_limits import RequestLimits, larger_body_routes
from app.staff.router import STAFF_AUTH_TAG
from app.staff.router import router as staff_router
from app.storable import refuse_unstorable_text

DESCRIPTION = """
GP Online lets patients in England use their GP practice online: sign in with
NHS login, book and cancel appointments, order repeat prescriptions and read
their GP record, for themselves or for someone they are a trusted proxy for.

Every error is an RFC 9457 `application/problem+json` document with a stable
`code`, a plain-English `detail` and the `request_id` to quote to support.
"""

TAGS = [
    {
        "name": "auth",
        "description": "Sign in with NHS login (web and native apps), the session, sign out.",
    },
    {"name": "me", "description": "The signed-in person and the people they may act for."},
    {
        "name": "patients",
        "description": "A patient's practice and who has viewed or acted on their record.",
    },
    {
        "name": "appointments",
        "description": "Find a free slot, book it, cancel it, add it to a calendar.",
    },
    {
        "name": "prescriptions",
        "description": "Order repeat medicines, follow and cancel the requests, and choose "
        "the pharmacy they go to.",
    },
    {"name": "pharmacies", "description": "Find a pharmacy to nominate for prescriptions."},
    {
        "name": "record",
        "description": "The GP record as the viewer may see it, documents, results over "
        "time, and reporting an inaccuracy.",
    },
    {
        "name": "access requests",
        "description": "Apply to the practice for more of the record, or to act for someone; "
        "answer someone's application to act for you.",
    },
    {
        "name": STAFF_AUTH_TAG,
        "description": "For practice staff: sign in with NHS CIS2 (web and apps), who is "
        "signed in and at which practices, sign out. Staff sessions are apart from "
        "patients': a patient's session never reaches a staff route, nor the other way round.",
    },
    {
        "name": PRACTICE_STAFF_TAG,
        "description": "For practice staff (NHS CIS2): check, review and decide applications "
        "for access.",
    },
    {"name": "health", "description": "Liveness and readiness for load balancers."},
]

# Request ids from callers are accepted only when short and plain.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _valid_request_id(value: str) -> bool:
    return bool(_REQUEST_ID.fullmatch(value))


def _operation_id(route: APIRoute) -> str:
    """Stable operation ids: the endpoint function name (`book_appointment`)."""
    return route.name


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    async with AsyncExitStack() as stack:
        engine = create_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            connect_timeout=settings.database_connect_timeout_seconds,
        )
        stack.push_async_callback(engine.dispose)
        app.state.engine = engine
        app.state.schema_check = SchemaCheck()
        await check_database_at_start(
            engine,
            app.state.schema_check,
            database_url=settings.database_url,
            wait_seconds=settings.database_connect_timeout_seconds,
        )
        app.state.autocommit_engine = autocommit(engine)
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.gp_registry = await build_gp_registry(
            settings, app.state.clock, stack, app.state.sessionmaker
        )
        app.state.pharmacy_directory = start_pharmacy_directory(settings, stack)
        app.state.rate_limiter = RateLimiter.from_settings(settings)
        app.state.auth = await start_auth(
            settings, app.state.clock, stack, app.state.nhs_login_endpoint
        )
        app.state.staff_auth = await start_staff_auth(
            settings, app.state.clock, stack, app.state.cis2_endpoint
        )
        app.state.acting_contexts = ActingContexts(
            app.state.gp_registry,
            app.state.auth.cipher,
            context_lifetime=timedelta(seconds=settings.acting_context_seconds),
        )
        stack.enter_context(serving_heap())
        yield


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.check_safe()

    app = FastAPIOffline(
        title="GP Online",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=_lifespan,
        generate_unique_id_function=_operation_id,
        # Swagger UI is this app's own page (app.docs_ui); ReDoc and the assets are
        # fastapi-offline's.
        docs_url=None,
        # Before every route's own dependencies: text no GP system can store is refused
        # before a session is read, a budget spent or a GP system called.
        dependencies=[Depends(refuse_unstorable_text)],
        # Paths are exact: `/metrics/` is not found like any other unknown path, rather than
        # a redirect that tells anyone the path exists (and where).
        redirect_slashes=False,
    )
    mount_docs(app, settings)
    app.state.settings = settings
    app.state.clock = clock or clock_for(settings)

    install_problem_handlers(app)
    app.include_router(health_router)
    app.include_router(auth_router)
    # The development NHS login stand-in (APP_ENV=dev only), else the configured issuer.
    app.state.nhs_login_endpoint = mount_dev_login(
        app, settings, app.state.clock
    ) or configured_endpoint(settings)
    app.include_router(me_router)
    app.include_router(patient_router)
    app.include_router(appointments_router)
    app.include_router(prescriptions_router)
    app.include_router(pharmacies_router)
    app.include_router(record_router)
    app.include_router(access_requests_router)
    app.include_router(staff_router)
    # The development NHS CIS2 stand-in (APP_ENV=dev only), else the configured issuer.
    app.state.cis2_endpoint = mount_dev_cis2(
        app, settings, app.state.clock
    ) or configured_cis2_endpoint(settings)
    app.include_router(practice_access_requests_router)
    if serves_metrics_on_main_port(settings):
        app.include_router(metrics_router)

    # Middleware, outermost first (each `add_middleware` wraps the ones added before it,
    # so they are added here innermost first):
    #   1. CorrelationIdMiddleware: every answer, refusals included, has a request id.
    #   2. RequestMetrics: counts and times every answer (refusals too) by route template.
    #   3. SecurityHeaders, PrivateResponseHeaders: CSP, framing, HSTS and no-store on
    #      every answer, refusals and CORS preflights included.
    #   4. CORSMiddleware: outside the limits, so a browser app can read a 413 or 503.
    #   5. RequestLimits: concurrency (in all and per client address), body size and body
    #      read time, before any parsing.
    # Header size and header read time are the HTTP server's (app.serving).
    app.add_middleware(
        RequestLimits,
        max_body_bytes=settings.max_body_bytes,
        read_timeout=settings.request_read_timeout_seconds,
        max_concurrent=settings.max_concurrent_requests,
        max_concurrent_per_address=settings.max_concurrent_requests_per_address,
        larger_bodies=larger_body_routes(app.routes),
    )
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "X-CSRF-Token",
                REQUEST_ID_HEADER,
            ],
            expose_headers=[REQUEST_ID_HEADER, "Location", "Retry-After"],
        )
    app.add_middleware(PrivateResponseHeaders)
    if settings.expose_gp_calls:
        app.add_middleware(GPCallsHeader)
    app.add_middleware(
        SecurityHeaders,
        docs=app,
        hsts=urlsplit(settings.public_base_url).scheme == "https",
    )
    app.add_middleware(RequestMetrics)
    app.add_middleware(
        CorrelationIdMiddleware,
        header_name=REQUEST_ID_HEADER,
        generator=lambda: uuid.uuid4().hex,
        validator=_valid_request_id,
    )
    app.openapi = lambda: api_document(app)  # type: ignore[method-assign]
    return app
