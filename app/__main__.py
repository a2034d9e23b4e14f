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

import uvicorn

from app.config import AppEnv, Settings, UnsafeSettings
from app.logs import access_log, logging_config
from app.serving import GuardedHttpToolsProtocol


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m app", description="Serve GP Online.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1")))
    args = parser.parse_args()

    settings = Settings()
    try:
        settings.check_safe()  # fail before uvicorn starts, with every reason at once
    except UnsafeSettings as unsafe:
        sys.exit(str(unsafe))
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


def start_here(settings: Settings) -> str:
    """Where a developer starts, at the address the sign-in cookies belong to."""
    base = settings.public_base_url.rstrip("/")
    return (
        "\nGP Online is serving (APP_ENV=dev).\n"
        f"  Swagger UI   {base}/docs\n"
        f"  Sign in      {base}/v1/auth/login?return_to=/docs\n"
        "  Personas     .venv/bin/python -m app.adapters.sandbox personas\n"
        f"  App example  .venv/bin/python examples/app_sign_in.py --base-url {base}\n"
        f"Open the site at {base} (not another name for it): the sign-in cookie is kept "
        "for that address only.\n"
    )


def announce_when_serving(settings: Settings, host: str, port: int) -> None:
    """Print `start_here` once the server accepts connections, after uvicorn's own lines."""

    def wait_then_print() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((host, port), timeout=1):
                    print(start_here(settings), flush=True)
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
