"""`make bench`: drive a running GP Online from a separate load generator (wrk).

For each configuration (workers x GP latency) this starts the service as it runs in
production (`python -m app`, uvicorn, PostgreSQL, the sandbox GP systems with
`faults.latency_ms` set on every practice), warms every patient's session, then
runs each scenario with wrk and prints one table: req/s, p50, p99, the rate as a
share of `/healthz` (the ceiling: no database, no GP system), GP calls per request
(from the `X-GP-Calls` header that `EXPOSE_GP_CALLS=true` adds) and the peak
resident memory of the largest worker.

    make bench
    .venv/bin/python bench/load.py --workers 1 2 --latency 0 200 --seconds 5
    .venv/bin/python bench/load.py --app-dir /tmp/older-checkout   # measure other code

Add a route by adding a `Scenario` line to `SCENARIOS`. The database named by
`--database-url` is dropped and created again: give the benchmark one of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
WRK_DIR = BENCH_DIR / "wrk"
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/gp_perf_bench"
# The load-test patients' practice (C83003) asks for a note with every request.
ORDER_NOTE = "No changes since my last request"


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str  # `{patient_id}` is replaced by each patient's id in turn
    script: str = "read.lua"
    anonymous: bool = False
    connections: int | None = None  # None: --connections


SCENARIOS = [
    Scenario("/healthz (ceiling)", "/healthz", anonymous=True),
    Scenario("/v1/auth/session", "/v1/auth/session"),
    Scenario("/v1/me", "/v1/me"),
    Scenario("/v1/me/patients", "/v1/me/patients"),
    Scenario("…/practice", "/v1/patients/{patient_id}/practice"),
    Scenario("…/slots?limit=20", "/v1/patients/{patient_id}/slots?limit=20"),
    Scenario("…/appointments", "/v1/patients/{patient_id}/appointments"),
    # Two requests per cycle; each patient has one slot, so fewer connections than patients.
    Scenario("book then cancel", "", script="book_cancel.lua", connections=32),
    Scenario("…/prescriptions/courses", "/v1/patients/{patient_id}/prescriptions/courses"),
    # Two requests per cycle; one course per patient, so fewer connections than patients.
    Scenario("order then cancel", "", script="order_cancel.lua", connections=32),
    Scenario("…/record", "/v1/patients/{patient_id}/record"),
    # A section page: one GP call, the visibility policy and the audit row every read writes.
    Scenario("…/record/allergies", "/v1/patients/{patient_id}/record/allergies?limit=20"),
]


@dataclass
class Row:
    scenario: Scenario
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    failures: int
    gp_calls: float | None
    peak_rss_mb: float


def run(command: list[str], **kwargs: object) -> None:
    subprocess.run(command, check=True, **kwargs)  # type: ignore[call-overload]  # noqa: S603


async def reset_database(url: str) -> None:
    parsed = make_url(url)
    server = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with server.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    await server.dispose()


def practices_file(app_dir: Path, latency_ms: int, folder: Path) -> Path:
    source = json.loads((app_dir / "app" / "gp" / "practices.json").read_text())
    for practice in source["practices"]:
        if practice.get("adapter") == "sandbox":
            practice.setdefault("faults", {})["latency_ms"] = latency_ms
    path = folder / f"practices-{latency_ms}ms.json"
    path.write_text(json.dumps(source))
    return path


def service_env(args: argparse.Namespace, practices: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(args.app_dir),
        "APP_ENV": "test",
        "DATABASE_URL": args.database_url,
        "PRACTICES_FILE": str(practices),
        "LOG_LEVEL": "WARNING",
        "EXPOSE_GP_CALLS": "true",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{args.port}",
        # The load is the measurement, not an abuse: the per-account budgets would refuse it.
        "RATE_LIMIT_ENABLED": "false",
        # More connections than the per-worker concurrency limit would turn into 503s, and
        # every connection comes from one address (the load generator, or HAProxy).
        "MAX_CONCURRENT_REQUESTS": "1000",
        "MAX_CONCURRENT_REQUESTS_PER_ADDRESS": "1000",
    }


def worker_pids(main_pid: int) -> list[int]:
    """uvicorn serves in its own process with one worker, in child processes with more."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == main_pid:
            children.append(int(stat.parent.name))
    return [pid for pid in children if "resource_tracker" not in cmdline(pid)] or [main_pid]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def peak_rss_mb(pids: list[int]) -> float:
    peaks = [0.0]
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        except OSError:
            pass
    return max(peaks)


def wait_ready(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the service stopped during start-up")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the service did not become ready in 60 s")


async def warm_and_count(
    base_url: str, users: list[dict[str, str]], scenario: Scenario
) -> float | None:
    """Send every patient's request once (a warm context), then count GP calls per request."""
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:

        def headers(user: dict[str, str]) -> dict[str, str]:
            return {} if scenario.anonymous else {"Authorization": f"Bearer {user['token']}"}

        if scenario.script == "book_cancel.lua":
            # Appointments left booked when an earlier run stopped would refuse the rebooking.
            await asyncio.gather(*(cancel_upcoming(client, u, headers(u)) for u in users))
            return await count_book_cancel(client, users[0], headers(users[0]))
        if scenario.script == "order_cancel.lua":
            await asyncio.gather(*(cancel_pending_orders(client, u, headers(u)) for u in users))
            return await count_order_cancel(client, users[0], headers(users[0]))
        paths = [scenario.path.replace("{patient_id}", u["patient_id"]) for u in users]
        await asyncio.gather(
            *(client.get(p, headers=headers(u)) for p, u in zip(paths, users, strict=True))
        )
        counts = []
        for path, user in list(zip(paths, users, strict=True))[:5]:
            response = await client.get(path, headers=headers(user))
            if response.status_code != 200:
                raise SystemExit(f"GET {scenario.path}: {response.status_code} {response.text}")
            if "x-gp-calls" not in response.headers:
                return None
            counts.append(int(response.headers["x-gp-calls"]))
        return statistics.median(counts)  # a context that expired mid-count is the odd one out


async def cancel_upcoming(
    client: httpx.AsyncClient, user: dict[str, str], headers: dict[str, str]
) -> None:
    base = f"/v1/patients/{user['patient_id']}/appointments"
    listed = await client.get(base, headers=headers)
    listed.raise_for_status()
    for appointment in listed.json()["items"]:
        if appointment["cancellable"]:
            cancelled = await client.post(
                f"{base}/{appointment['appointment_id']}/cancel",
                json={"reason_code": "CR1"},
                headers=headers,
            )
            cancelled.raise_for_status()


async def cancel_pending_orders(
    client: httpx.AsyncClient, user: dict[str, str], headers: dict[str, str]
) -> None:
    base = f"/v1/patients/{user['patient_id']}/prescriptions/requests"
    listed = await client.get(base, params={"limit": 100}, headers=headers)
    listed.raise_for_status()
    for request in listed.json()["items"]:
        if request["cancellable"]:
            cancelled = await client.post(f"{base}/{request['request_id']}/cancel", headers=headers)
            cancelled.raise_for_status()


async def count_order_cancel(
    client: httpx.AsyncClient, user: dict[str, str], headers: dict[str, str]
) -> float | None:
    base = f"/v1/patients/{user['patient_id']}/prescriptions/requests"
    ordered = await client.post(
        base,
        json={"course_ids": [user["course_id"]], "note": ORDER_NOTE},
        headers={**headers, "Idempotency-Key": f"bench-warm-{time.time_ns()}"},
    )
    if ordered.status_code != 201:
        raise SystemExit(f"ordering: {ordered.status_code} {ordered.text}")
    cancelled = await client.post(f"{base}/{ordered.json()['request_id']}/cancel", headers=headers)
    if cancelled.status_code != 200:
        raise SystemExit(f"cancelling the request: {cancelled.status_code} {cancelled.text}")
    if "x-gp-calls" not in ordered.headers:
        return None
    return (int(ordered.headers["x-gp-calls"]) + int(cancelled.headers["x-gp-calls"])) / 2


async def count_book_cancel(
    client: httpx.AsyncClient, user: dict[str, str], headers: dict[str, str]
) -> float | None:
    base = f"/v1/patients/{user['patient_id']}/appointments"
    booked = await client.post(
        base,
        json={"slot_id": user["slot_id"]},
        headers={**headers, "Idempotency-Key": f"bench-warm-{time.time_ns()}"},
    )
    if booked.status_code != 201:
        raise SystemExit(f"booking: {booked.status_code} {booked.text}")
    cancelled = await client.post(
        f"{base}/{booked.json()['appointment_id']}/cancel",
        json={"reason_code": "CR1"},
        headers=headers,
    )
    if cancelled.status_code != 200:
        raise SystemExit(f"cancelling: {cancelled.status_code} {cancelled.text}")
    if "x-gp-calls" not in booked.headers:
        return None
    return (int(booked.headers["x-gp-calls"]) + int(cancelled.headers["x-gp-calls"])) / 2


def profile(args: argparse.Namespace, pids: list[int], name: str) -> list[subprocess.Popen[bytes]]:
    """py-spy samples each worker while wrk runs: collapsed stacks, one file per worker."""
    if args.profile is None:
        return []
    py_spy = shutil.which("py-spy", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    if py_spy is None:
        raise SystemExit("--profile needs py-spy (make install puts it in .venv)")
    args.profile.mkdir(parents=True, exist_ok=True)
    slug = "".join(ch if ch.isalnum() else "-" for ch in name).strip("-")
    samplers = []
    for pid in pids:
        output = args.profile / f"{slug}-{pid}.txt"
        command = [py_spy, "record", "--pid", str(pid), "--duration", str(args.seconds),
                   "--format", "raw", "--nonblocking", "--output", str(output)]  # fmt: skip
        samplers.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        )
    return samplers


def wrk(args: argparse.Namespace, scenario: Scenario, users_file: Path) -> dict[str, int]:
    connections = scenario.connections or args.connections
    command = [
        shutil.which("wrk") or "wrk", "-t1", f"-c{connections}", f"-d{args.seconds}s",
        "--timeout", "30s",
        "-s", str(WRK_DIR / scenario.script), f"http://127.0.0.1:{args.port}",
        "--", str(users_file), scenario.path or "-", "anonymous" if scenario.anonymous else "",
    ]  # fmt: skip
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    result: dict[str, int] = json.loads(line.removeprefix("BENCH "))
    return result


HAPROXY_CONFIG = """\
global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend gp_online
    bind 127.0.0.1:{port}
    default_backend instances
backend instances
    balance roundrobin
    option httpchk GET /healthz
{servers}
"""


class Service:
    """`python -m app` (one or more instances; behind HAProxy when balanced)."""

    def __init__(self, args: argparse.Namespace, workers: int, instances: int | None,
                 practices: Path, folder: Path) -> None:  # fmt: skip
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs = []
        ports = [args.port] if instances is None else [args.port + 1 + n for n in range(instances)]
        for port in ports:
            log = (folder / f"service-{port}-{workers}w.log").open("wb")
            self.logs.append(log)
            command = [sys.executable, "-m", "app", "--port", str(port), "--workers", str(workers)]
            self.processes.append(
                subprocess.Popen(  # noqa: S603
                    command,
                    cwd=args.app_dir,
                    env=service_env(args, practices),
                    start_new_session=True,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        for port, process in zip(ports, self.processes, strict=True):
            wait_ready(f"http://127.0.0.1:{port}", process)
        self.pids = [pid for process in self.processes for pid in worker_pids(process.pid)]
        if instances is not None:
            haproxy = shutil.which("haproxy", path=f"/usr/sbin:{os.environ['PATH']}")
            if haproxy is None:
                raise SystemExit("--instances needs HAProxy (make bench-scale installs it)")
            servers = "\n".join(f"    server app{port} 127.0.0.1:{port} check" for port in ports)
            config = folder / "haproxy.cfg"
            config.write_text(HAPROXY_CONFIG.format(port=args.port, servers=servers))
            balancer = subprocess.Popen(  # noqa: S603
                [haproxy, "-db", "-f", str(config)], start_new_session=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            self.processes.append(balancer)
            wait_ready(f"http://127.0.0.1:{args.port}", balancer)

    def stop(self) -> None:
        for process in reversed(self.processes):
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        for log in self.logs:
            log.close()


def measure(args: argparse.Namespace, workers: int, instances: int | None, latency_ms: int,
            users: list[dict[str, str]], users_file: Path, folder: Path) -> list[Row]:  # fmt: skip
    service = Service(args, workers, instances, practices_file(args.app_dir, latency_ms, folder),
                      folder)  # fmt: skip
    base_url = f"http://127.0.0.1:{args.port}"
    rows = []
    try:
        for scenario in SCENARIOS:
            if (
                args.only
                and scenario is not SCENARIOS[0]
                and not any(w in scenario.name for w in args.only)
            ):
                continue
            gp_calls = asyncio.run(warm_and_count(base_url, users, scenario))
            samplers = profile(args, service.pids, f"{workers}w-{latency_ms}ms-{scenario.name}")
            result = wrk(args, scenario, users_file)
            for sampler in samplers:
                sampler.wait()
            seconds = result["duration_us"] / 1e6
            rows.append(
                Row(
                    scenario=scenario,
                    requests_per_second=result["requests"] / seconds,
                    p50_ms=result["p50_us"] / 1000,
                    p99_ms=result["p99_us"] / 1000,
                    failures=result["non_2xx"] + result["socket_errors"] + result["fallbacks"],
                    gp_calls=gp_calls,
                    peak_rss_mb=peak_rss_mb(service.pids),
                )
            )
    finally:
        service.stop()
    return rows


def table(rows: list[Row], *, workers: int, instances: int | None, latency_ms: int,
          connections: int) -> str:  # fmt: skip
    ceiling = rows[0].requests_per_second
    behind = "" if instances is None else f"{instances} instance(s) behind HAProxy, "
    each = "" if instances is None else " each"
    lines = [
        f"### {behind}{workers} worker{'s' if workers > 1 else ''}{each}, "
        f"GP latency {latency_ms} ms, "
        f"{connections} connections",
        "",
        "| route | req/s | ÷ /healthz | p50 | p99 | GP calls/req | peak RSS/worker | failed |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        calls = "n/a" if row.gp_calls is None else f"{row.gp_calls:g}"
        conns = f" (c{row.scenario.connections})" if row.scenario.connections else ""
        lines.append(
            f"| {row.scenario.name}{conns} | {row.requests_per_second:,.0f} | "
            f"{row.requests_per_second / ceiling:.3f} | {row.p50_ms:,.1f} ms | "
            f"{row.p99_ms:,.1f} ms | {calls} | {row.peak_rss_mb:.0f} MB | {row.failures} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                 DEFAULT_DATABASE_URL))  # fmt: skip
    parser.add_argument("--app-dir", type=Path, default=PROJECT_DIR, help="checkout to serve")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--latency", type=int, nargs="+", default=[0, 200], help="GP latency, ms")
    parser.add_argument("--seconds", type=int, default=5, help="per scenario")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--profile", type=Path, help="folder for py-spy samples of each worker")
    parser.add_argument("--only", nargs="+", help="only scenarios whose name holds one of these")
    parser.add_argument("--instances", type=int, nargs="+",
                        help="run this many instances behind HAProxy (e.g. 1 2)")  # fmt: skip
    args = parser.parse_args()
    args.app_dir = args.app_dir.resolve()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (make bench installs it)")

    with tempfile.TemporaryDirectory(prefix="gp-bench-") as name:
        folder = Path(name)
        asyncio.run(reset_database(args.database_url))
        env = service_env(args, practices_file(args.app_dir, 0, folder))
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
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        print(f"GP Online benchmark, {started}, {os.cpu_count()} CPUs, code in {args.app_dir}")
        print(f"wrk -t1 -c{args.connections} -d{args.seconds}s per route\n")
        for latency_ms in args.latency:
            for instances in args.instances or [None]:
                for workers in args.workers:
                    rows = measure(args, workers, instances, latency_ms, users, users_file, folder)
                    print(table(rows, workers=workers, instances=instances, latency_ms=latency_ms,
                                connections=args.connections), "\n", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
