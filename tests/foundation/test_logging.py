"""Log lines carry the request id; production logs are JSON."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.logs import DropQueryStrings, access_log, logging_config

log = logging.getLogger("app.tests")


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    @app.get("/_test/log")
    async def log_something() -> dict[str, str]:
        log.info("something happened")
        return {}

    return app


def _capture(settings: Settings) -> io.StringIO:
    config = logging_config(settings)
    stream = io.StringIO()
    config["handlers"]["default"] = {
        "class": "logging.StreamHandler",
        "stream": stream,
        "filters": ["request_id"],
        "formatter": "default",
    }
    config["loggers"]["app"]["level"] = "INFO"
    logging.config.dictConfig(config)
    return stream


async def test_json_logs_in_prod_carry_the_request_id(client: httpx.AsyncClient) -> None:
    stream = _capture(Settings(_env_file=None, app_env="prod"))  # type: ignore[call-arg]
    try:
        await client.get("/_test/log", headers={"X-Request-ID": "req-42"})
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    ours = [line for line in lines if line["message"] == "something happened"]
    assert ours and ours[0]["request_id"] == "req-42"
    assert ours[0]["level"] == "INFO"


async def test_readable_logs_in_dev_carry_the_request_id(client: httpx.AsyncClient) -> None:
    stream = _capture(Settings(_env_file=None, app_env="dev"))  # type: ignore[call-arg]
    try:
        await client.get("/_test/log", headers={"X-Request-ID": "req-43"})
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
    assert "[req-43] app.tests: something happened" in stream.getvalue()


def test_access_log_lines_drop_query_strings() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/v1/auth/callback?code=secret-code&state=s", "1.1", 302),
        None,
    )
    assert DropQueryStrings().filter(record)
    message = record.getMessage()
    assert "secret-code" not in message
    assert "/v1/auth/callback" in message


def test_uvicorn_access_logger_is_configured_with_the_filter() -> None:
    config = logging_config(Settings(_env_file=None))  # type: ignore[call-arg]
    assert "drop_query_strings" in config["loggers"]["uvicorn.access"]["filters"]


@pytest.mark.parametrize(
    ("level", "logged"), [("DEBUG", True), ("INFO", True), ("WARNING", False), ("ERROR", False)]
)
def test_request_lines_follow_the_log_level(level: str, logged: bool) -> None:
    settings = Settings(_env_file=None, log_level=level)  # type: ignore[call-arg]
    assert access_log(settings) is logged
    assert logging_config(settings)["loggers"]["uvicorn.access"]["level"] == level


def test_outbound_request_urls_are_not_logged() -> None:
    config = logging_config(Settings(_env_file=None))  # type: ignore[call-arg]
    assert config["loggers"]["httpx"]["level"] == "WARNING"
