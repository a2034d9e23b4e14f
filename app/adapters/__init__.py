"""Adapters: one per kind of GP system, chosen per practice by `PRACTICES_FILE`.

Each adapter package offers an async builder that opens what it needs (a
database engine, an HTTP client) on the lifespan's exit stack and returns a
factory: practice configuration → `GPSystem`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import Clock
from app.config import Settings
from app.gp.registry import AdapterFactory, GPSystemRegistry, load_practices
from app.gp.resilience import BreakerBoard

FactoryBuilder = Callable[
    [Settings, Clock, AsyncExitStack, async_sessionmaker[AsyncSession]], Awaitable[AdapterFactory]
]


async def _sandbox(
    settings: Settings,
    clock: Clock,
    stack: AsyncExitStack,
    _sessions: async_sessionmaker[AsyncSession],
) -> AdapterFactory:
    from app.adapters.sandbox import create_sandbox_factory

    return await create_sandbox_factory(settings, clock, stack)


async def _gpconnect(
    settings: Settings,
    clock: Clock,
    stack: AsyncExitStack,
    sessions: async_sessionmaker[AsyncSession],
) -> AdapterFactory:
    from app.adapters.gpconnect import GPConnectSettings, create_gpconnect_factory
    from app.auth.credentials import credentials_cipher
    from app.auth.nhs_login_tokens import SessionIdTokens
    from app.auth.runtime import nhs_login_refresher

    # The patient-facing APIs take the patient's own token, exchanged for the NHS login
    # ID token kept (encrypted) with their session.
    # A session outlives NHS login's ID token: its refresh token renews it (decision 0007).
    refresher = await nhs_login_refresher(settings, clock, stack)
    id_tokens = SessionIdTokens(sessions, credentials_cipher(settings), clock, refresher=refresher)
    # Outside prod, what is unset gets development values: in dev, the token exchange of
    # the GP Connect stand-in that `make run` starts (app/standin).
    gpconnect = GPConnectSettings().with_dev_defaults(settings.app_env)
    return await create_gpconnect_factory(
        settings, clock, stack, gpconnect=gpconnect, id_tokens=id_tokens
    )


BUILDERS: dict[str, FactoryBuilder] = {"sandbox": _sandbox, "gpconnect": _gpconnect}


async def build_gp_registry(
    settings: Settings,
    clock: Clock,
    stack: AsyncExitStack,
    sessions: async_sessionmaker[AsyncSession],
) -> GPSystemRegistry:
    """Load the practices file and build only the adapters it uses."""
    practices = load_practices(settings.practices_file)
    factories: dict[str, AdapterFactory] = {
        kind: await BUILDERS[kind](settings, clock, stack, sessions)
        for kind in sorted({practice.adapter for practice in practices})
    }
    return GPSystemRegistry(
        practices,
        factories,
        BreakerBoard(),
        clock=clock,
        practice_lifetime=timedelta(seconds=settings.practice_settings_seconds),
    )
