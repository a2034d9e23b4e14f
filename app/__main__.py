"""`python -m app`: serve the API with uvicorn and the project's logging."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import uvicorn

from app.config import Settings, UnsafeSettings
from app.logs import logging_config
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
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=logging_config(settings),
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        server_header=False,
        # Header size and header read deadline (app.serving); bodies are limited in the app.
        http=GuardedHttpToolsProtocol,
    )


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
