"""Benchmark: slot search and a book-then-cancel cycle, against a bare endpoint.

Everything runs in this one process: the app (with the sandbox GP systems) is
driven through httpx's in-process ASGI transport, and a bare route added to this
app instance only gives the baseline. Same middleware, same event loop, same
client, so the ratio shows what the feature itself costs.

    python bench/appointments.py                      # SQLite files in a temp folder
    python bench/appointments.py --database-url postgresql+asyncpg://postgres@127.0.0.1/gp_bench

With a database URL the sandbox tables live beside the app's (as in `make run`);
the sandbox tables are re-seeded, the app's tables are created if missing. Not
part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from app.adapters.sandbox.personas import load_test_personas
from app.adapters.sandbox.seed import build_seed_rows, load
from app.clock import SystemClock, today
from app.config import Settings
from app.db import create_engine
from app.devtools.sessions import persona_patient_id, sign_in_persona
from app.main import create_app
from app.tables import metadata

BARE_PATH = "/bench/bare"
CANCEL_REASON = "CR1"  # the load-test practice (Vision-like) asks for one of its reasons


@dataclass(frozen=True)
class User:
    patient_id: str
    headers: dict[str, str]


@dataclass
class Result:
    name: str
    latencies: list[float]  # seconds per operation
    elapsed: float  # wall time for the measured operations
    requests_per_operation: int = 1

    @property
    def operations_per_second(self) -> float:
        return len(self.latencies) / self.elapsed

    @property
    def requests_per_second(self) -> float:
        return self.operations_per_second * self.requests_per_operation

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def prepare(database_url: str, sandbox_url: str) -> None:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    await engine.dispose()
    sandbox = create_engine(sandbox_url)
    await load(sandbox, build_seed_rows(today(SystemClock())))
    await sandbox.dispose()


async def sign_in_users(app: FastAPI, count: int) -> list[User]:
    users = []
    for persona in load_test_personas(today(SystemClock()))[:count]:
        issued = await sign_in_persona(app, persona)
        pid = persona_patient_id(app, persona)
        users.append(User(pid, {"Authorization": f"Bearer {issued.token}"}))
    return users


Operation = Callable[[int, int], Awaitable[None]]  # (worker, iteration)


async def measure(
    name: str,
    operation: Operation,
    *,
    workers: int,
    count: int,
    seconds: float,
    warmup: int,
    requests_per_operation: int = 1,
) -> Result:
    """Run `operation` from `workers` concurrent loops: at most `count` times or `seconds`."""
    for i in range(warmup):
        await operation(i % workers, -1 - i)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()

    started_operations = 0

    async def loop(worker: int) -> None:
        nonlocal started_operations
        iteration = 0
        while started_operations < count and time.perf_counter() < deadline:
            started_operations += 1
            begin = time.perf_counter()
            await operation(worker, iteration)
            latencies.append(time.perf_counter() - begin)
            iteration += 1

    await asyncio.gather(*(loop(w) for w in range(workers)))
    return Result(name, latencies, time.perf_counter() - started, requests_per_operation)


def expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise SystemExit(f"{response.request.method} {response.request.url.path}: "
                         f"{response.status_code} {response.text}")  # fmt: skip


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

        # Only on this benchmark's app instance: the baseline, through the same stack.
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

    async def search(worker: int, _: int) -> None:
        user = users[worker]
        expect(await client.get(f"/v1/patients/{user.patient_id}/slots", headers=user.headers), 200)

    # Each worker books and cancels its own slot, clear of the 24 hour cut-off.
    first = users[0]
    start = (SystemClock().now() + timedelta(days=3)).isoformat()
    listed = await client.get(
        f"/v1/patients/{first.patient_id}/slots", params={"from": start}, headers=first.headers
    )
    expect(listed, 200)
    slots = [slot["slot_id"] for slot in listed.json()["items"]][: len(users)]

    async def book_then_cancel(worker: int, _: int) -> None:
        user = users[worker]
        base = f"/v1/patients/{user.patient_id}/appointments"
        booked = await client.post(
            base,
            json={"slot_id": slots[worker]},
            headers={**user.headers, "Idempotency-Key": str(uuid.uuid4())},
        )
        expect(booked, 201)
        cancelled = await client.post(
            f"{base}/{booked.json()['appointment_id']}/cancel",
            json={"reason_code": CANCEL_REASON},
            headers=user.headers,
        )
        expect(cancelled, 200)

    return [
        await measure("bare endpoint", bare, **common),
        await measure("slot search", search, **common),
        await measure("book + cancel", book_then_cancel, requests_per_operation=2, **common),
    ]


def report(results: list[Result], backend: str, workers: int) -> str:
    bare = results[0]
    lines = [
        f"GP Online appointments benchmark — {backend}, {workers} concurrent clients, "
        "in-process ASGI",
        f"{'scenario':<16}{'n':>6}{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p50 / bare':>12}{'req/s / bare':>14}",
    ]
    for result in results:
        lines.append(
            f"{result.name:<16}{len(result.latencies):>6}{result.requests_per_second:>10.1f}"
            f"{result.percentile(50) * 1000:>9.2f}{result.percentile(95) * 1000:>9.2f}"
            f"{result.percentile(50) / bare.percentile(50):>11.1f}x"
            f"{result.requests_per_second / bare.requests_per_second:>14.4f}"
        )
    lines.append("book + cancel: one operation is two requests; latency is per operation.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temp folder)")
    parser.add_argument("--workers", type=int, default=8, help="concurrent clients (≤ 60)")
    parser.add_argument("--requests", type=int, default=400, help="operations per scenario")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit per scenario")
    parser.add_argument("--warmup", type=int, default=16, help="unmeasured operations first")
    args = parser.parse_args()
    if not 1 <= args.workers <= 60:
        parser.error("--workers must be between 1 and 60 (one load-test patient each)")
    logging.basicConfig(level=logging.WARNING)
    results = asyncio.run(run(args))
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(report(results, backend, args.workers))


if __name__ == "__main__":
    main()
