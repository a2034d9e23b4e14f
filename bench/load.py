"""`make bench`: drive a running GP Online from a separate load generator (wrk).

For each configuration (workers x GP latency) this starts the service as it runs in
production (`python -m app`, uvicorn, PostgreSQL, the sandbox GP systems with
`faults.latency_ms` set on every practice), warms every patient's session, then
runs each scenario with wrk and prints one table: req/s, p50, p99, the rate as a
share of `/healthz` (the ceiling: no database, no GP system), the service's own CPU
time per request (its workers' user + system time over the requests wrk completed),
GP calls per request (from the `X-GP-Calls` header that `EXPOSE_GP_CALLS=true` adds)
and the peak resident memory of the largest worker.

Then the same again with the GP system out of the service's process: the GP Connect
practice (D84004), served by the GP Connect stand-in (`python -m app.standin`, its own
process, `--latency-ms` the GP latency), reached by the service's GP Connect adapter
with the real token exchange (the patients' ID tokens signed by a key this script
makes, for an issuer it serves). `--no-gpconnect` leaves it out.

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
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from joserfc.jwk import RSAKey
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
WRK_DIR = BENCH_DIR / "wrk"
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/gp_perf_bench"
# The load-test patients' practice (C83003) asks for a note with every request.
ORDER_NOTE = "No changes since my last request"
# A cancellation's body: C83003 (Vision) asks for a reason, D84004 (GP Connect) takes none.
SANDBOX_CANCEL: dict[str, str] = {"reason_code": "CR1"}
GPCONNECT_CANCEL: dict[str, str] = {}
GPCONNECT_PRACTICE = "D84004"  # the practices file's GP Connect practice
NHS_LOGIN_CLIENT_ID = "gp-online-bench"  # the ID tokens' audience, the stand-in checks it
GPCONNECT_CLIENT_ID = "gp-online-bench"  # the service's client at the token endpoint


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

# GP Connect's prescriptions API has no cancelling of a request: a patient's repeat, once
# ordered, stays ordered, so ordering again and again cannot be measured there.
GPCONNECT_SCENARIOS = [s for s in SCENARIOS if s.script != "order_cancel.lua"]


@dataclass
class Row:
    scenario: Scenario
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    failures: int
    gp_calls: float | None
    peak_rss_mb: float
    cpu_ms_per_request: float
    gp_cpu_ms_per_request: float | None = None  # the GP Connect stand-in's, when measured


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


def service_env(
    args: argparse.Namespace, practices: Path, extra: dict[str, str] | None = None
) -> dict[str, str]:
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
        **(extra or {}),
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


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used (/proc/<pid>/stat utime + stime)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
    return ticks / CLOCK_TICKS


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


def wait_ready(
    base_url: str, process: subprocess.Popen[bytes], path: str = "/healthz", what: str = "service"
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the {what} stopped during start-up")
        try:
            if httpx.get(f"{base_url}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the {what} did not become ready in 60 s")


async def warm_and_count(
    base_url: str, users: list[dict[str, str]], scenario: Scenario, cancel: dict[str, str]
) -> float | None:
    """Send every patient's request once (a warm context), then count GP calls per request."""
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:

        def headers(user: dict[str, str]) -> dict[str, str]:
            return {} if scenario.anonymous else {"Authorization": f"Bearer {user['token']}"}

        if scenario.script == "book_cancel.lua":
            # Appointments left booked when an earlier run stopped would refuse the rebooking.
            await asyncio.gather(*(cancel_upcoming(client, u, headers(u), cancel) for u in users))
            return await count_book_cancel(client, users[0], headers(users[0]), cancel)
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
    client: httpx.AsyncClient, user: dict[str, str], headers: dict[str, str],
    cancel: dict[str, str],
) -> None:  # fmt: skip
    base = f"/v1/patients/{user['patient_id']}/appointments"
    listed = await client.get(base, headers=headers)
    listed.raise_for_status()
    for appointment in listed.json()["items"]:
        if appointment["cancellable"]:
            cancelled = await client.post(
                f"{base}/{appointment['appointment_id']}/cancel",
                json=cancel,
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
    client: httpx.AsyncClient, user: dict[str, str], headers: dict[str, str],
    cancel: dict[str, str],
) -> float | None:  # fmt: skip
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
        json=cancel,
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


def wrk(
    args: argparse.Namespace, scenario: Scenario, users_file: Path, cancel: dict[str, str]
) -> dict[str, int]:
    connections = scenario.connections or args.connections
    command = [
        shutil.which("wrk") or "wrk", "-t1", f"-c{connections}", f"-d{args.seconds}s",
        "--timeout", "30s",
        "-s", str(WRK_DIR / scenario.script), f"http://127.0.0.1:{args.port}",
        "--", str(users_file), scenario.path or "-", "anonymous" if scenario.anonymous else "",
        *([json.dumps(cancel)] if scenario.script == "book_cancel.lua" else []),
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
                 practices: Path, folder: Path,
                 extra_env: dict[str, str] | None = None) -> None:  # fmt: skip
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
                    env=service_env(args, practices, extra_env),
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


class Issuer:
    """NHS login's discovery document and keys, for the ID tokens `bench/prepare.py` signs:
    what the GP Connect stand-in checks them against, as the platform checks NHS login's."""

    def __init__(self, folder: Path) -> None:
        key = RSAKey.generate_key(2048)
        self.key_file = folder / "nhs-login-key.pem"
        self.key_file.write_bytes(key.as_pem(private=True))
        public = {**key.as_dict(private=False), "kid": key.thumbprint(), "alg": "RS512"}
        documents: dict[str, bytes] = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = documents.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body or b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        documents["/.well-known/openid-configuration"] = json.dumps(
            {"issuer": self.url, "jwks_uri": f"{self.url}/jwks"}
        ).encode()
        documents["/jwks"] = json.dumps({"keys": [public]}).encode()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class GPConnect:
    """The GP Connect practice for the service: its stand-in's database and port, the
    client key both sides hold, the issuer, and the patients once signed in there."""

    def __init__(self, args: argparse.Namespace, folder: Path) -> None:
        self.folder = folder
        self.port = args.port + 50
        self.database_url = make_url(args.database_url)
        self.database_url = self.database_url.set(database=f"{self.database_url.database}_standin")
        self.issuer = Issuer(folder)
        self.client_key = folder / "gpconnect-client-key.pem"
        self.client_key.write_bytes(RSAKey.generate_key(2048).as_pem(private=True))
        self.practices = self._practices_file(args.app_dir)
        self.users: list[dict[str, str]] = []
        self.users_file = folder / "users-gpconnect.txt"
        asyncio.run(reset_database(self.database_url.render_as_string(hide_password=False)))

    def _practices_file(self, app_dir: Path) -> Path:
        """The service's practices file, its GP Connect practice at the stand-in."""
        source = json.loads((app_dir / "app" / "gp" / "practices.json").read_text())
        [practice] = [p for p in source["practices"] if p["ods_code"] == GPCONNECT_PRACTICE]
        base = f"http://127.0.0.1:{self.port}"
        practice["endpoints"] = {
            name: base + urlsplit(url).path for name, url in practice["endpoints"].items()
        }
        path = self.folder / "practices-gpconnect.json"
        path.write_text(json.dumps(source))
        return path

    def service_env(self) -> dict[str, str]:
        return {
            "NHS_LOGIN_CLIENT_ID": NHS_LOGIN_CLIENT_ID,
            "GPCONNECT_PFS_TOKEN_URL": f"http://127.0.0.1:{self.port}/oauth2/token",
            "GPCONNECT_PFS_CLIENT_ID": GPCONNECT_CLIENT_ID,
            "GPCONNECT_PFS_PRIVATE_KEY_FILE": str(self.client_key),
            "GPCONNECT_PFS_KEY_ID": "bench",
        }

    def start_standin(self, args: argparse.Namespace, latency_ms: int) -> StandIn:
        return StandIn(args, self, latency_ms)

    def prepare(self, args: argparse.Namespace) -> None:
        """Sign the practice's load-test patients in (once), the stand-in running."""
        if self.users:
            return
        prepared = self.folder / "users-gpconnect.json"
        env = service_env(args, self.practices, self.service_env())
        run([sys.executable, str(BENCH_DIR / "prepare.py"), str(prepared),
             "--practice", GPCONNECT_PRACTICE, "--issuer", self.issuer.url,
             "--id-token-key", str(self.issuer.key_file)], cwd=args.app_dir, env=env)  # fmt: skip
        self.users = json.loads(prepared.read_text())["users"]
        write_users(self.users_file, self.users)

    def stop(self) -> None:
        self.issuer.stop()


class StandIn:
    """`python -m app.standin` serving the GP Connect practice, as its own process."""

    def __init__(self, args: argparse.Namespace, gp: GPConnect, latency_ms: int) -> None:
        self.log = (gp.folder / f"standin-{latency_ms}ms.log").open("wb")
        database = gp.database_url.render_as_string(hide_password=False)
        env = {
            **os.environ,
            "PYTHONPATH": str(args.app_dir),
            "APP_ENV": "test",
            "DATABASE_URL": database,
            "SANDBOX_DATABASE_URL": database,
            "PRACTICES_FILE": str(gp.practices),
            "NHS_LOGIN_CLIENT_ID": NHS_LOGIN_CLIENT_ID,
            "LOG_LEVEL": "WARNING",
        }
        command = [
            sys.executable, "-m", "app.standin", "--port", str(gp.port),
            "--practice", GPCONNECT_PRACTICE, "--client-key", str(gp.client_key),
            "--nhs-login-issuer", gp.issuer.url, "--latency-ms", str(latency_ms),
        ]  # fmt: skip
        self.process = subprocess.Popen(  # noqa: S603
            command, cwd=args.app_dir, env=env, start_new_session=True,
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_ready(f"http://127.0.0.1:{gp.port}", self.process, "/_health", "GP Connect stand-in")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


def write_users(path: Path, users: list[dict[str, str]]) -> None:
    path.write_text(
        "".join(f"{u['patient_id']} {u['token']} {u['slot_id']} {u['course_id']}\n" for u in users)
    )


def measure(args: argparse.Namespace, service: Service, label: str,
            users: list[dict[str, str]], users_file: Path, cancel: dict[str, str],
            gp_pids: list[int] | None = None,
            scenarios: list[Scenario] = SCENARIOS) -> list[Row]:  # fmt: skip
    base_url = f"http://127.0.0.1:{args.port}"
    rows = []
    try:
        for scenario in scenarios:
            if (
                args.only
                and scenario is not SCENARIOS[0]
                and not any(w in scenario.name for w in args.only)
            ):
                continue
            gp_calls = asyncio.run(warm_and_count(base_url, users, scenario, cancel))
            samplers = profile(args, service.pids, f"{label}-{scenario.name}")
            cpu_before, gp_before = cpu_seconds(service.pids), cpu_seconds(gp_pids or [])
            result = wrk(args, scenario, users_file, cancel)
            cpu_used = cpu_seconds(service.pids) - cpu_before
            gp_used = cpu_seconds(gp_pids or []) - gp_before
            completed = max(result["requests"], 1)
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
                    cpu_ms_per_request=1000 * cpu_used / completed,
                    gp_cpu_ms_per_request=1000 * gp_used / completed if gp_pids else None,
                )
            )
    finally:
        service.stop()
    return rows


def table(rows: list[Row], *, workers: int, instances: int | None, latency_ms: int,
          connections: int, gp_system: str = "") -> str:  # fmt: skip
    ceiling = rows[0].requests_per_second
    gp_cpu = rows[0].gp_cpu_ms_per_request is not None
    behind = "" if instances is None else f"{instances} instance(s) behind HAProxy, "
    each = "" if instances is None else " each"
    lines = [
        f"### {gp_system}{behind}{workers} worker{'s' if workers > 1 else ''}{each}, "
        f"GP latency {latency_ms} ms, "
        f"{connections} connections",
        "",
        "| route | req/s | ÷ /healthz | p50 | p99 | CPU ms/req | "
        + ("stand-in CPU ms/req | " if gp_cpu else "")
        + "GP calls/req | peak RSS/worker | failed |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|" + ("--:|" if gp_cpu else ""),
    ]
    for row in rows:
        calls = "n/a" if row.gp_calls is None else f"{row.gp_calls:g}"
        conns = f" (c{row.scenario.connections})" if row.scenario.connections else ""
        lines.append(
            f"| {row.scenario.name}{conns} | {row.requests_per_second:,.0f} | "
            f"{row.requests_per_second / ceiling:.3f} | {row.p50_ms:,.1f} ms | "
            f"{row.p99_ms:,.1f} ms | {row.cpu_ms_per_request:.2f} | "
            + (f"{row.gp_cpu_ms_per_request or 0:.2f} | " if gp_cpu else "")
            + f"{calls} | "
            f"{row.peak_rss_mb:.0f} MB | {row.failures} |"
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
    parser.add_argument("--gpconnect", action=argparse.BooleanOptionalAction, default=True,
                        help="also the GP Connect practice, its stand-in a process of its own "
                        "(not with --instances)")  # fmt: skip
    parser.add_argument("--sandbox", action=argparse.BooleanOptionalAction, default=True,
                        help="the sandbox practices (--no-sandbox: GP Connect alone)")  # fmt: skip
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
        write_users(users_file, users)
        # The stand-in only with one instance: the scale-out compares instances, not GP systems.
        gpconnect = GPConnect(args, folder) if args.gpconnect and not args.instances else None
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        print(f"GP Online benchmark, {started}, {os.cpu_count()} CPUs, code in {args.app_dir}")
        print(f"wrk -t1 -c{args.connections} -d{args.seconds}s per route\n")
        try:
            for latency_ms in args.latency:
                practices = practices_file(args.app_dir, latency_ms, folder)
                for instances in (args.instances or [None]) if args.sandbox else []:
                    for workers in args.workers:
                        service = Service(args, workers, instances, practices, folder)
                        rows = measure(args, service, f"{workers}w-{latency_ms}ms", users,
                                       users_file, SANDBOX_CANCEL)  # fmt: skip
                        print(table(rows, workers=workers, instances=instances,
                                    latency_ms=latency_ms, connections=args.connections),
                              "\n", flush=True)  # fmt: skip
                if gpconnect is not None:
                    for workers in args.workers:
                        print(measure_gpconnect(args, gpconnect, workers, latency_ms, folder),
                              "\n", flush=True)  # fmt: skip
        finally:
            if gpconnect is not None:
                gpconnect.stop()


def measure_gpconnect(args: argparse.Namespace, gpconnect: GPConnect, workers: int,
                      latency_ms: int, folder: Path) -> str:  # fmt: skip
    """One table with the GP Connect practice, its stand-in answering `latency_ms` late."""
    standin = gpconnect.start_standin(args, latency_ms)
    try:
        gpconnect.prepare(args)
        service = Service(args, workers, None, gpconnect.practices, folder,
                          gpconnect.service_env())  # fmt: skip
        rows = measure(args, service, f"gpconnect-{workers}w-{latency_ms}ms", gpconnect.users,
                       gpconnect.users_file, GPCONNECT_CANCEL, [standin.process.pid],
                       GPCONNECT_SCENARIOS)  # fmt: skip
    finally:
        standin.stop()
    return table(rows, workers=workers, instances=None, latency_ms=latency_ms,
                 connections=args.connections,
                 gp_system="GP Connect (stand-in process), ")  # fmt: skip


if __name__ == "__main__":
    main()
