"""`make soak`: an hour (or more) of mixed load, watching each worker's memory level off.

A short soak saw worker memory grow by about 0.3 MiB a minute without levelling off.
A leak grows with the requests served for as long as the service runs; a cache still
filling (SQLAlchemy's compiled statements, asyncpg's prepared statements per pooled
connection, the acting-for contexts kept per session) grows quickly, then stops once
every distinct statement and connection has been seen. So this runs the benchmark's
scenarios in turn for `--minutes`, samples every worker's resident memory, file
descriptors and threads and the database's connections between rounds, and compares
the growth in the first half with the second: a leak grows as much in both halves.

    make soak                                              # 60 minutes, 2 workers
    make soak SOAK_ARGS="--minutes 120 --workers 1"
    .venv/bin/python bench/soak.py --minutes 5 --round-seconds 10   # a quick look

Not part of `make test` or CI (it takes an hour). The database named by
`--database-url` is dropped and created again, as for `make bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from load import (  # bench/ is on the path: soak.py runs as a script beside load.py
    BENCH_DIR,
    DEFAULT_DATABASE_URL,
    PROJECT_DIR,
    SANDBOX_CANCEL,
    SCENARIOS,
    Service,
    practices_file,
    reset_database,
    run,
    service_env,
    warm_and_count,
    wrk,
)
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

# Every scenario but the ceiling: a mix of reads, bookings, orders and the record.
MIX = [scenario for scenario in SCENARIOS if not scenario.anonymous]


@dataclass
class Sample:
    minute: float
    requests: int  # served so far, every scenario
    failures: int
    rss_mib: list[float]  # per worker
    fds: list[int]
    threads: list[int]
    database_connections: int


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


async def _database_connections(url: str) -> int:
    parsed = make_url(url)
    engine = create_async_engine(parsed.set(database="postgres"))
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name"),
                {"name": parsed.database},
            )
    finally:
        await engine.dispose()
    return int(count or 0)


def sample(pids: list[int], started: float, requests: int, failures: int, url: str) -> Sample:
    return Sample(
        minute=(time.monotonic() - started) / 60,
        requests=requests,
        failures=failures,
        rss_mib=[_status(pid, "VmRSS") / 1024 for pid in pids],
        fds=[len(os.listdir(f"/proc/{pid}/fd")) for pid in pids],
        threads=[_status(pid, "Threads") for pid in pids],
        database_connections=asyncio.run(_database_connections(url)),
    )


def growth_per_minute(samples: list[Sample], worker: int) -> float:
    """Least-squares slope of one worker's memory over the samples, in MiB a minute."""
    if len(samples) < 2:
        return 0.0
    xs = [s.minute for s in samples]
    ys = [s.rss_mib[worker] for s in samples]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def report(samples: list[Sample], workers: int) -> str:
    half = len(samples) // 2
    first, second = samples[: half + 1], samples[half:]
    lines = [
        "| minute | requests | failures | RSS per worker (MiB) | fds | threads | db conns |",
        "|---:|---:|---:|---|---|---|---:|",
    ]
    step = max(1, len(samples) // 12)
    for s in samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else []):
        lines.append(
            f"| {s.minute:.0f} | {s.requests:,} | {s.failures} | "
            f"{', '.join(f'{r:.1f}' for r in s.rss_mib)} | "
            f"{', '.join(map(str, s.fds))} | {', '.join(map(str, s.threads))} | "
            f"{s.database_connections} |"
        )
    lines.append("")
    for worker in range(workers):
        start, end = samples[0].rss_mib[worker], samples[-1].rss_mib[worker]
        served = max(1, samples[-1].requests - samples[0].requests)
        lines.append(
            f"worker {worker + 1}: {start:.1f} → {end:.1f} MiB; growth "
            f"{growth_per_minute(first, worker):+.3f} MiB/min in the first half, "
            f"{growth_per_minute(second, worker):+.3f} MiB/min in the second; "
            f"{(end - start) * 1024 * 100_000 / served / workers:,.0f} KiB per 100,000 requests"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                 DEFAULT_DATABASE_URL))  # fmt: skip
    parser.add_argument("--app-dir", type=Path, default=PROJECT_DIR, help="checkout to serve")
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--latency", type=int, default=0, help="GP latency, ms")
    parser.add_argument("--round-seconds", type=int, default=20, help="per scenario, per round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--port", type=int, default=8098)
    parser.add_argument("--json", type=Path, help="also write every sample here")
    args = parser.parse_args()
    args.app_dir = args.app_dir.resolve()
    args.seconds, args.profile = args.round_seconds, None  # what load.py's helpers read
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make soak installs it)")

    with tempfile.TemporaryDirectory(prefix="gp-soak-") as name:
        folder = Path(name)
        asyncio.run(reset_database(args.database_url))
        practices = practices_file(args.app_dir, args.latency, folder)
        env = service_env(args, practices)
        run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=args.app_dir, env=env,
            stdout=subprocess.DEVNULL)  # fmt: skip
        prepared = folder / "users.json"
        run([sys.executable, str(BENCH_DIR / "prepare.py"), str(prepared)], cwd=args.app_dir,
            env=env)  # fmt: skip
        users = json.loads(prepared.read_text())["users"]
        users_file = folder / "users.txt"
        users_file.write_text(
            "".join(
                f"{u['patient_id']} {u['token']} {u['slot_id']} {u['course_id']}\n" for u in users
            )
        )
        begun = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        print(
            f"GP Online soak, {begun}, {os.cpu_count()} CPUs, {args.workers} workers, "
            f"{args.minutes:g} min, wrk -c{args.connections} per scenario",
            flush=True,
        )
        service = Service(args, args.workers, None, practices, folder)
        base_url = f"http://127.0.0.1:{args.port}"
        requests = failures = 0
        try:
            for scenario in MIX:  # every session and context made before the first sample
                asyncio.run(warm_and_count(base_url, users, scenario, SANDBOX_CANCEL))
            started = time.monotonic()
            samples = [sample(service.pids, started, 0, 0, args.database_url)]
            while time.monotonic() - started < args.minutes * 60:
                for scenario in MIX:
                    if scenario.script != "read.lua":  # leave nothing booked or ordered
                        asyncio.run(warm_and_count(base_url, users, scenario, SANDBOX_CANCEL))
                    result = wrk(args, scenario, users_file, SANDBOX_CANCEL)
                    requests += result["requests"]
                    failures += result["non_2xx"] + result["socket_errors"] + result["fallbacks"]
                samples.append(sample(service.pids, started, requests, failures, args.database_url))
                latest = samples[-1]
                print(
                    f"minute {latest.minute:.0f}: {latest.requests:,} requests, "
                    f"RSS {', '.join(f'{r:.1f}' for r in latest.rss_mib)} MiB",
                    flush=True,
                )
        finally:
            service.stop()
        print()
        print(report(samples, len(service.pids)))
        if args.json:
            args.json.write_text(json.dumps([s.__dict__ for s in samples], indent=1))


if __name__ == "__main__":
    main()
