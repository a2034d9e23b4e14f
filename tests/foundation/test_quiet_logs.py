"""Log lines an operator can use: no terminal colour codes in JSON, no pool internals,
and one traceback per unexpected error."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.db import create_engine
from app.logs import DropRepeatedTracebacks, logging_config
from tests.foundation.test_settings import make


@contextmanager
def configured(config: dict[str, Any]) -> Iterator[None]:
    """`config` applied, then every logger it names put back as it was, so that the
    tests after this one capture what they expect."""
    loggers = [logging.getLogger(name) for name in config["loggers"]] + [logging.getLogger()]
    kept = [(logger, logger.level, logger.filters[:], logger.handlers[:]) for logger in loggers]
    logging.config.dictConfig(config)
    try:
        yield
    finally:
        for logger, level, filters, handlers in kept:
            logger.setLevel(level)
            logger.filters[:] = filters
            logger.handlers[:] = handlers


@pytest.fixture
def prod_log() -> Iterator[io.StringIO]:
    """The production logging configuration, writing to a string."""
    config = logging_config(make(app_env="prod"))
    stream = io.StringIO()
    config["handlers"]["default"]["stream"] = stream
    with configured(config):
        yield stream


def test_json_lines_carry_no_terminal_colours(prod_log: io.StringIO) -> None:
    # As uvicorn logs its start-up lines.
    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 42, extra={"color_message": "\x1b[36m%d\x1b[0m"}
    )
    [line] = [json.loads(line) for line in prod_log.getvalue().splitlines()]
    assert line["message"] == "Started server process [42]"
    assert "color_message" not in line
    assert "\x1b" not in prod_log.getvalue() and "\\u001b" not in prod_log.getvalue()


async def test_shutting_down_logs_no_pool_internals(prod_log: io.StringIO) -> None:
    engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:9/none")
    await engine.dispose()  # as the lifespan does on shutdown
    assert "Pool" not in prod_log.getvalue()


def _uvicorn_record(error: BaseException) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.error",
        logging.ERROR,
        __file__,
        1,
        "Exception in ASGI application\n",
        None,
        (type(error), error, error.__traceback__),
    )


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    @app.get("/_test/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    return app


async def test_an_unexpected_error_is_logged_once(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The app logs it with its request id; uvicorn's copy, which follows, is left out."""
    response = await client.get("/_test/boom")
    assert response.status_code == 500
    [logged] = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert logged.exc_info is not None
    error = logged.exc_info[1]
    assert error is not None
    assert not DropRepeatedTracebacks().filter(_uvicorn_record(error))


def test_an_error_the_app_did_not_log_keeps_uvicorns_traceback() -> None:
    try:
        raise RuntimeError("after the response started")
    except RuntimeError:
        error = sys.exc_info()[1]
    assert error is not None
    assert DropRepeatedTracebacks().filter(_uvicorn_record(error))
    config = logging_config(make())
    assert "drop_repeated_tracebacks" in config["loggers"]["uvicorn.error"]["filters"]
