"""`python -m app`: serve the API with uvicorn and the project's logging."""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import uvicorn

from app.config import AppEnv, InvalidSettings, Settings, UnsafeSettings, read_settings
from app.logs import access_log, logging_config
from app.public_address import (
    is_loopback,
    is_wildcard,
    keeps_sign_in_cookie,
    machine_addresses,
    reachable_host,
    url_host,
)
from app.serving import GuardedHttpToolsProtocol


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m app", description="Serve GP Online.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1")))
    args = parser.parse_args()

    try:
        # Fail before uvicorn starts, with every reason at once, a line each.
        settings = read_settings()
        settings.check_safe()
    except (InvalidSettings, UnsafeSettings) as refused:
        sys.exit(str(refused))
    settings = follow_bound_address(settings, args.host, args.port)
    prepare_metrics(settings, workers=args.workers)
    if settings.app_env is AppEnv.DEV:
        announce_when_serving(settings, args.host, args.port)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=logging_config(settings),
        access_log=access_log(settings),
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        server_header=False,
        # Header size and header read deadline (app.serving); bodies are limited in the app.
        http=GuardedHttpToolsProtocol,
    )


def follow_bound_address(settings: Settings, host: str, port: int) -> Settings:
    """`settings` with the public address `Settings.served_at` gives, which the workers
    (started from this environment) then read as PUBLIC_BASE_URL too."""
    served = settings.served_at(host, port)
    if served is not settings:
        os.environ["PUBLIC_BASE_URL"] = served.public_base_url
    return served


def start_here(settings: Settings, host: str = "127.0.0.1", port: int = 8000) -> str:
    """Where a developer starts, at the address the sign-in cookies belong to, for a
    server bound to `host`:`port`."""
    base = settings.public_base_url.rstrip("/")
    return (
        "\nGP Online is serving (APP_ENV=dev).\n"
        f"  Swagger UI   {base}/docs\n"
        f"  Sign in      {base}/v1/auth/login?return_to=/docs\n"
        f"  Staff        {base}/v1/staff/auth/login?return_to=/docs (NHS CIS2 stand-in: "
        "a GP or receptionist of each sandbox practice; Swagger UI then sends the staff cookie)\n"
        "  Personas     .venv/bin/python -m app.adapters.sandbox personas\n"
        f"  App example  .venv/bin/python examples/app_sign_in.py --base-url {base}\n"
        f"Open the site at {base} (not another name for it): the sign-in cookie is kept "
        "for that address only.\n" + from_elsewhere(base, host, port)
    )


def from_elsewhere(base: str, host: str, port: int) -> str:
    """When web sign-in cannot work at `base`; and, for a server listening on every
    address, how to sign in from another computer or a container's host."""
    if not keeps_sign_in_cookie(base):
        return (
            f"Web sign-in cannot work at {base}: browsers keep the sign-in cookie over plain "
            "http only at a loopback address (127.0.0.1, localhost). Serve it over https and "
            f"set PUBLIC_BASE_URL to that address, or use http://127.0.0.1:{port} as "
            "PUBLIC_BASE_URL and reach it through a forwarded port.\n"
        )
    if not is_wildcard(host) or not is_loopback(urlsplit(base).hostname or ""):
        return ""
    others = machine_addresses()
    elsewhere = " and ".join(f"http://{url_host(name)}:{port}" for name in others)
    return (
        f"Listening on every address (HOST={host}). "
        + (f"From another computer the API also answers at {elsewhere}, but " if others else "")
        + "browsers keep the sign-in cookie over plain http only at a loopback address. To "
        f"sign in from another computer, forward the port and open {base}/docs there:\n"
        f"  ssh -N -L {port}:127.0.0.1:{port} {others[-1] if others else 'this-computer'}\n"
        f"From a container's host, publish the same port (docker run -p {port}:{port}); "
        "or serve https and set PUBLIC_BASE_URL to its address.\n"
    )


def announce_when_serving(settings: Settings, host: str, port: int) -> None:
    """Print `start_here` once the server accepts connections, after uvicorn's own lines."""
    reach = reachable_host(host)

    def wait_then_print() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((reach, port), timeout=1):
                    print(start_here(settings, host, port), flush=True)
                    return
            except OSError:
                time.sleep(0.3)

    threading.Thread(target=wait_then_print, name="start-here", daemon=True).start()


def prepare_metrics(settings: Settings, *, workers: int) -> None:
    """Metrics from every worker (one directory, emptied now), on their own port if set."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory is None and workers > 1:
        directory = tempfile.mkdtemp(prefix="gp-online-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory  # inherited by the workers
    if directory is not None:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    if settings.metrics_port is not None:
        # Imported only now: prometheus_client reads PROMETHEUS_MULTIPROC_DIR on import.
        from prometheus_client import start_http_server

        from app.metrics import registry

        start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=registry())


if __name__ == "__main__":
    main()
