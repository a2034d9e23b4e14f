"""`python -m app.standin`: serve the GP Connect patient-facing stand-in (one worker).

It reads the service's settings (the same environment and `.env`): the sandbox
database, the practices file, the clock (`FROZEN_NOW` outside prod) and the NHS login
issuer, `NHS_LOGIN_ISSUER` or, without one, the dev NHS login stand-in the service
mounts at `PUBLIC_BASE_URL/dev/nhs-login`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import httpx
import uvicorn
from joserfc.jwk import RSAKey

from app.adapters.sandbox import create_sandbox_factory
from app.clock import clock_for
from app.config import InvalidSettings, Settings, read_settings
from app.gp.port import GPSystem
from app.gp.registry import load_practices
from app.standin.app import StandInState, create_app
from app.standin.patients import PatientDirectory
from app.standin.specification import specifications
from app.standin.tokens import IssuerKeys, TokenService

DEV_LOGIN_PATH = "/dev/nhs-login"  # where the service mounts its dev NHS login stand-in

logger = logging.getLogger("app.standin")


def nhs_login_issuer(settings: Settings) -> str:
    """The issuer the service signs patients in with, whichever it is."""
    return settings.nhs_login_issuer or settings.public_base_url.rstrip("/") + DEV_LOGIN_PATH


def served_practices(settings: Settings, wanted: list[str]) -> list[str]:
    """The sandbox practices to serve: those named, or every one. Exits on an unknown one."""
    sandbox = [p for p in load_practices(settings.practices_file) if p.adapter == "sandbox"]
    codes = [p.ods_code for p in sandbox]
    unknown = sorted(set(wanted) - set(codes))
    if unknown:
        sys.exit(f"--practice {', '.join(unknown)}: not a sandbox practice in the practices file")
    return wanted or codes


def build_starter(
    args: argparse.Namespace, settings: Settings
) -> Callable[[AsyncExitStack], Awaitable[StandInState]]:
    # Read before serving: the key file is not read inside the event loop.
    client_key = RSAKey.import_key(Path(args.client_key).read_bytes()) if args.client_key else None

    async def start(stack: AsyncExitStack) -> StandInState:
        clock = clock_for(settings)
        factory = await create_sandbox_factory(settings, clock, stack)
        practices = {p.ods_code: p for p in load_practices(settings.practices_file)}
        systems: dict[str, GPSystem] = {
            code: factory(practices[code]) for code in served_practices(settings, args.practice)
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
        help="a sandbox practice to serve (repeat; default: every sandbox practice)",
    )
    parser.add_argument(
        "--open-access",
        action="store_true",
        help="accept any bearer token, as the platform's sandbox (default: enforce tokens)",
    )
    parser.add_argument("--token-lifetime", type=int, default=600, metavar="SECONDS")
    parser.add_argument("--nhs-login-issuer", default=None, help="default: the service's")
    parser.add_argument(
        "--client-key", default=None, help="PEM of the client's key, to check its assertions"
    )
    args = parser.parse_args()
    try:
        settings = read_settings()
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
        create_app(build_starter(args, settings)),
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
