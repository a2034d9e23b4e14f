"""`python -m app.adapters.sandbox migrate|seed|personas|dump|practice|faults`: for tests, demos.

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

from app.adapters.sandbox import sandbox_practices, schema
from app.adapters.sandbox.dump import dump
from app.adapters.sandbox.faults import switch_faults
from app.adapters.sandbox.personas import Persona, persona_catalogue
from app.adapters.sandbox.seed import bootstrap, build_seed_rows, load
from app.adapters.sandbox.switches import SERVICES, UnknownPractice, switch_services
from app.clock import clock_for, today
from app.config import Settings
from app.db import create_engine
from app.gp.registry import Faults, load_practices


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


async def _migrate(settings: Settings) -> None:
    engine = create_engine(settings.sandbox_url)
    try:
        await schema.upgrade(engine)
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


async def _switch_faults(settings: Settings, ods_code: str, faults: Faults | None) -> None:
    async with _seeded(settings) as engine:
        await switch_faults(engine, ods_code, faults)


def persona_lines(catalogue: Sequence[Persona]) -> list[str]:
    """Each persona's NHS login `sub` and tags: what signing in as them takes."""
    lines = [f"{'sub':36}  level  name (tags, practice)"]
    lines += [
        f"{p.nhs_login_claims['sub']:36}  {p.identity_proofing_level:5}  {p.label}"
        for p in catalogue
    ]
    lines.append(
        "Sign in as one with its sub or a tag (a tag picks the first listed with it), e.g. "
        "python examples/app_sign_in.py --persona adult-full"
    )
    return lines


def _faults_command(args: argparse.Namespace) -> int:
    """Switch a practice's faults for every process; `--clear` gives them back their own."""
    faults = None
    if not args.clear:
        faults = Faults(
            latency_ms=args.latency_ms,
            error_rate=args.error_rate,
            outage=args.outage,
            hang=args.hang,
            garbage=args.garbage,
        )
    try:
        asyncio.run(_switch_faults(Settings(), args.ods_code, faults))
    except UnknownPractice:
        print(f"sandbox: no practice {args.ods_code} in the sandbox", file=sys.stderr)
        return 2
    said = "cleared" if faults is None else faults.model_dump_json()
    print(f"sandbox: {args.ods_code.strip().upper()} faults {said}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.adapters.sandbox", description="The simulated GP systems."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="Upgrade the sandbox tables, keeping their rows.")
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
    faults = commands.add_parser(
        "faults",
        help="Make a practice's GP system fail for every process sharing the sandbox database "
        "(from its next call), until cleared.",
    )
    faults.add_argument("ods_code", help="The practice's ODS code, e.g. A81001.")
    faults.add_argument("--outage", action="store_true", help="Answer 'unavailable' (a 5xx).")
    faults.add_argument("--hang", action="store_true", help="Never answer.")
    faults.add_argument("--garbage", action="store_true", help="Answer what cannot be read.")
    faults.add_argument("--latency-ms", type=int, default=0, help="Answer this much later.")
    faults.add_argument("--error-rate", type=float, default=0.0, help="Fail this share of calls.")
    faults.add_argument("--clear", action="store_true", help="Back to the practices file's.")
    args = parser.parse_args(argv)

    if args.command == "faults":
        try:
            return _faults_command(args)
        except ValueError as exc:  # pydantic's ValidationError: a rate or latency out of range
            parser.error(str(exc))
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

    if args.command == "migrate":
        asyncio.run(_migrate(settings))
        print("sandbox: tables at the newest revision")
    elif args.command == "seed":
        outcome = asyncio.run(_seed(settings, reset=args.reset))
        print(f"sandbox: {outcome}")
    elif args.command == "personas":
        catalogue = persona_catalogue(today(clock_for(settings)))
        if args.json:
            json.dump([persona.to_json() for persona in catalogue], sys.stdout, indent=2)
            print()
        else:
            print("\n".join(persona_lines(catalogue)))
    else:
        json.dump(asyncio.run(_dump(settings)), sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
