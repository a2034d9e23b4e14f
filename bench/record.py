"""Benchmark: the record overview and one section page, against a bare endpoint.

The same harness as `appointments.py` (in-process ASGI, sandbox GP systems, a
bare route on the same app instance as the baseline). Each concurrent client is
a different sandbox persona with record access and clinical content, across the
three supplier profiles; each section read writes its audit row, as in use.

    python bench/record.py                        # SQLite files in a temp folder
    python bench/record.py --database-url postgresql+asyncpg://postgres@127.0.0.1/gp_bench
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
from pathlib import Path

import httpx
from appointments import BARE_PATH, Result, User, expect, measure, prepare
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from app.adapters.sandbox.personas import find_persona
from app.clock import SystemClock, today
from app.config import Settings
from app.devtools.sessions import persona_patient_id, sign_in_persona
from app.main import create_app

# Personas whose own record has content, at every supplier profile.
RECORD_PERSONAS = [
    ("adult-full", "A81001"),
    ("adult-full", "B82002"),
    ("adult-full", "C83003"),
    ("historic-access", None),
    ("detailed-only", None),
    ("detailed-and-prospective", None),
    ("registered-after-rollout", None),
    ("summary-only", None),
]


async def sign_in_users(app: FastAPI, count: int) -> list[User]:
    users = []
    current = today(SystemClock())
    for tag, ods_code in RECORD_PERSONAS[:count]:
        persona = find_persona(current, tag, ods_code=ods_code)
        issued = await sign_in_persona(app, persona)
        users.append(
            User(persona_patient_id(app, persona), {"Authorization": f"Bearer {issued.token}"})
        )
    return users


async def run(args: argparse.Namespace) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="gp-bench-") as folder:
        database_url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'app.db'}"
        sandbox_url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'sandbox.db'}"
        await prepare(database_url, sandbox_url)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            app_env="test",
            database_url=database_url,
            sandbox_database_url=sandbox_url,
            log_level="WARNING",
        )
        app = create_app(settings)

        async def bare() -> dict[str, bool]:
            return {"ok": True}

        app.add_api_route(BARE_PATH, bare, methods=["GET"], include_in_schema=False)

        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                users = await sign_in_users(app, args.workers)
                return await scenarios(client, users, args)


async def scenarios(
    client: httpx.AsyncClient, users: list[User], args: argparse.Namespace
) -> list[Result]:
    common = {"workers": args.workers, "count": args.requests, "seconds": args.seconds,
              "warmup": args.warmup}  # fmt: skip

    async def bare(worker: int, _: int) -> None:
        expect(await client.get(BARE_PATH), 200)

    async def overview(worker: int, _: int) -> None:
        user = users[worker]
        expect(
            await client.get(f"/v1/patients/{user.patient_id}/record", headers=user.headers), 200
        )

    async def section_page(worker: int, _: int) -> None:
        user = users[worker]
        response = await client.get(
            f"/v1/patients/{user.patient_id}/record/allergies",
            params={"limit": 20},
            headers=user.headers,
        )
        expect(response, 200)

    return [
        await measure("bare endpoint", bare, **common),
        await measure("record overview", overview, **common),
        await measure("section page", section_page, **common),
    ]


def report(results: list[Result], backend: str, workers: int) -> str:
    bare = results[0]
    lines = [
        f"GP Online record benchmark — {backend}, {workers} concurrent clients, in-process ASGI",
        f"{'scenario':<18}{'n':>6}{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p50 / bare':>12}{'req/s / bare':>14}",
    ]
    for result in results:
        lines.append(
            f"{result.name:<18}{len(result.latencies):>6}{result.requests_per_second:>10.1f}"
            f"{result.percentile(50) * 1000:>9.2f}{result.percentile(95) * 1000:>9.2f}"
            f"{result.percentile(50) / bare.percentile(50):>11.1f}x"
            f"{result.requests_per_second / bare.requests_per_second:>14.4f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temp folder)")
    parser.add_argument(
        "--workers", type=int, default=8, help=f"concurrent clients (≤ {len(RECORD_PERSONAS)})"
    )
    parser.add_argument("--requests", type=int, default=400, help="operations per scenario")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit per scenario")
    parser.add_argument("--warmup", type=int, default=16, help="unmeasured operations first")
    args = parser.parse_args()
    if not 1 <= args.workers <= len(RECORD_PERSONAS):
        parser.error(f"--workers must be between 1 and {len(RECORD_PERSONAS)}")
    logging.basicConfig(level=logging.WARNING)
    results = asyncio.run(run(args))
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(report(results, backend, args.workers))


if __name__ == "__main__":
    main()
