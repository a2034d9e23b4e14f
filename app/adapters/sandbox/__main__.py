"""`python -m app.adapters.sandbox seed|personas|dump|practice`: tools for tests and demos.

All of them use the sandbox database from the settings (`SANDBOX_DATABASE_URL`,
else `DATABASE_URL`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sandbox import sandbox_practices
from app.adapters.sandbox.dump import dump
from app.adapters.sandbox.personas import persona_catalogue
from app.adapters.sandbox.seed import bootstrap, build_seed_rows, load
from app.adapters.sandbox.switches import SERVICES, UnknownPractice, switch_services
from app.clock import clock_for, today
from app.config import Settings
from app.db import create_engine
from app.gp.registry import load_practices


async def _seed(settings: Settings, *, reset: bool) -> str:
    day = today(clock_for(settings))
    practices = sandbox_practices(load_practices(settings.practices_file))
    engine = create_engine(settings.sandbox_url)
    try:
        if reset:
            await load(engine, build_seed_rows(day, practices), reset=True)
            return "reset"
        return await bootstrap(engine, day, practices)
    finally:
        await engine.dispose()


@asynccontextmanager
async def _seeded(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The sandbox database, seeded first if it is new."""
    engine = create_engine(settings.sandbox_url)
    try:
        await bootstrap(
            engine,
            today(clock_for(settings)),
            sandbox_practices(load_practices(settings.practices_file)),
        )
        yield engine
    finally:
        await engine.dispose()


async def _dump(settings: Settings) -> dict[str, Any]:
    async with _seeded(settings) as engine:
        return await dump(engine)


async def _switch(settings: Settings, ods_code: str, switches: dict[str, bool]) -> None:
    async with _seeded(settings) as engine:
        await switch_services(engine, ods_code, switches)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.adapters.sandbox", description="The simulated GP systems."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    seed = commands.add_parser("seed", help="Seed the sandbox (or top it up) for today.")
    seed.add_argument("--reset", action="store_true", help="Wipe everything and seed afresh.")
    personas = commands.add_parser("personas", help="Who to sign in as, with NHS login claims.")
    personas.add_argument("--json", action="store_true", help="Print JSON.")
    dumped = commands.add_parser("dump", help="Print the whole simulated GP data.")
    dumped.add_argument("--json", action="store_true", help="Print JSON (the only format).")
    practice = commands.add_parser(
        "practice",
        help="Switch a practice's online services on or off, as the practice would in its "
        "GP system (each worker sees it within PRACTICE_SETTINGS_SECONDS).",
    )
    practice.add_argument("ods_code", help="The practice's ODS code, e.g. A81001.")
    for service in SERVICES:
        practice.add_argument(f"--{service}", choices=("on", "off"), help=f"Offer {service}?")
    args = parser.parse_args(argv)
    settings = Settings()

    if args.command == "practice":
        switches = {s: getattr(args, s) == "on" for s in SERVICES if getattr(args, s)}
        if not switches:
            parser.error("say which service to switch, e.g. --record off")
        try:
            asyncio.run(_switch(settings, args.ods_code, switches))
        except UnknownPractice:
            print(f"sandbox: no practice {args.ods_code} in the sandbox", file=sys.stderr)
            return 2
        said = ", ".join(f"{s} {'on' if on else 'off'}" for s, on in switches.items())
        print(f"sandbox: {args.ods_code.strip().upper()} {said}")
        return 0

    if args.command == "seed":
        outcome = asyncio.run(_seed(settings, reset=args.reset))
        print(f"sandbox: {outcome}")
    elif args.command == "personas":
        catalogue = persona_catalogue(today(clock_for(settings)))
        if args.json:
            json.dump([persona.to_json() for persona in catalogue], sys.stdout, indent=2)
            print()
        else:
            for persona in catalogue:
                print(f"{persona.nhs_number}  {persona.identity_proofing_level}  {persona.label}")
    else:
        json.dump(asyncio.run(_dump(settings)), sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
