"""`python -m app.standin`: serve the GP Connect patient-facing stand-in (one worker).

It reads the service's settings (the same environment and `.env`): the sandbox
database, the practices file, the clock (`FROZEN_NOW` outside prod) and the NHS login
issuer, `NHS_LOGIN_ISSUER` or, without one, the dev NHS login stand-in the service
mounts at `PUBLIC_BASE_URL/dev/nhs-login`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import httpx
import uvicorn
from joserfc.jwk import RSAKey

from app.adapters.gpconnect.settings import GPConnectSettings
from app.adapters.sandbox import create_sandbox_factory, sandbox_practices
from app.adapters.sandbox.seed import practices_to_seed
from app.clock import clock_for
from app.config import InvalidSettings, Settings, read_settings
from app.gp.port import GPSystem
from app.gp.registry import PracticeConfig, load_practices
from app.standin.app import StandInState, create_app
from app.standin.latency import with_latency
from app.standin.patients import PatientDirectory
from app.standin.specification import specifications
from app.standin.tokens import IssuerKeys, TokenService

DEV_LOGIN_PATH = "/dev/nhs-login"  # where the service mounts its dev NHS login stand-in

logger = logging.getLogger("app.standin")


def nhs_login_issuer(settings: Settings) -> str:
    """The issuer the service signs patients in with, whichever it is."""
    return settings.nhs_login_issuer or settings.public_base_url.rstrip("/") + DEV_LOGIN_PATH


def served_practices(settings: Settings, wanted: list[str]) -> list[PracticeConfig]:
    """The practices the sandbox seeds, to serve: those named, or every one. Exits on an
    unknown one. That is the practices file's sandbox practices, and the sandbox's persona
    practices even where the file reaches them over GP Connect (as it does D84004: this
    stand-in is then what serves them), as simulated systems of their supplier profile."""
    configured = load_practices(settings.practices_file)
    sandbox = {p.ods_code: p for p in configured if p.adapter == "sandbox"}
    seeded = {
        seed.ods_code: sandbox.get(seed.ods_code)
        or PracticeConfig(
            ods_code=seed.ods_code, name=seed.name, adapter="sandbox", profile=seed.profile
        )
        for seed in practices_to_seed(sandbox_practices(configured))
    }
    unknown = sorted(set(wanted) - set(seeded))
    if unknown:
        sys.exit(f"--practice {', '.join(unknown)}: not a practice the sandbox seeds")
    return [seeded[code] for code in wanted or seeded]


def client_key_file(args: argparse.Namespace, settings: Settings) -> str | None:
    """The client's key that checks its assertions: `--client-key`, else the service's own
    `GPCONNECT_PFS_PRIVATE_KEY_FILE` (in dev by default the dev key under var/), if any."""
    if args.client_key:
        return str(args.client_key)
    return GPConnectSettings().with_dev_defaults(settings.app_env).pfs_private_key_file or None


def build_starter(
    args: argparse.Namespace, settings: Settings
) -> Callable[[AsyncExitStack], Awaitable[StandInState]]:
    # Read before serving: the key file is not read inside the event loop. Only its
    # public half is kept, whichever half the file holds.
    key_file = client_key_file(args, settings)
    client_key = None
    if key_file:
        key = RSAKey.import_key(Path(key_file).read_bytes())
        client_key = RSAKey.import_key(key.as_dict(private=False))

    async def start(stack: AsyncExitStack) -> StandInState:
        clock = clock_for(settings)
        factory = await create_sandbox_factory(settings, clock, stack)
        systems: dict[str, GPSystem] = {
            practice.ods_code: factory(practice)
            for practice in served_practices(settings, args.practice)
        }
        directory = PatientDirectory(systems, clock)
        tokens = None
        if not args.open_access:
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
            tokens = TokenService(
                keys=IssuerKeys(http, args.nhs_login_issuer or nhs_login_issuer(settings)),
                audience=settings.nhs_login_client_id,
                directory=directory,
                clock=clock,
                lifetime=timedelta(seconds=args.token_lifetime),
                client_key=client_key,
            )
        return StandInState(directory, specifications(), tokens, clock)

    return start


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m app.standin", description="Serve the GP Connect patient-facing stand-in."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument(
        "--practice",
        action="append",
        default=[],
        metavar="ODS",
        help="a practice the sandbox seeds, to serve (repeat; default: every one)",
    )
    parser.add_argument(
        "--open-access",
        action="store_true",
        help="accept any bearer token, as the platform's sandbox (default: enforce tokens)",
    )
    parser.add_argument("--token-lifetime", type=int, default=600, metavar="SECONDS")
    parser.add_argument("--nhs-login-issuer", default=None, help="default: the service's")
    parser.add_argument(
        "--client-key",
        default=None,
        help="PEM of the client's key, to check its assertions (default: the service's)",
    )
    parser.add_argument(
        "--latency-ms", type=int, default=0, help="answer every request this much later"
    )
    args = parser.parse_args()
    try:
        # The service's public address as `python -m app` derives it (from HOST and PORT,
        # which `make run` gives both), for the dev NHS login's issuer.
        settings = read_settings().served_at(
            os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8000"))
        )
    except InvalidSettings as refused:
        sys.exit(str(refused))
    served_practices(settings, args.practice)  # refuse an unknown practice before serving
    specifications()  # load the documents before the first request
    mode = "open access" if args.open_access else f"tokens from {nhs_login_issuer(settings)}"
    print(  # the one line `make run` shows
        f"GP Connect stand-in on http://{args.host}:{args.port}/gp-connect/patient-facing/ "
        f"(token exchange /oauth2/token; {mode})",
        flush=True,
    )
    uvicorn.run(
        with_latency(create_app(build_starter(args, settings)), args.latency_ms),
        host=args.host,
        port=args.port,
        workers=1,
        # Beside the service in one terminal: the line above, then warnings and errors only.
        log_level="warning",
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
