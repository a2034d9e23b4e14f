"""Structured logging: JSON in production, readable lines in development.

Every record carries the request id. Log messages name events and opaque ids,
never patient data (NHS numbers, names, dates of birth, free text).
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS

from app.config import AppEnv, Settings

READABLE_FORMAT = "%(asctime)s %(levelname)-7s [%(correlation_id)s] %(name)s: %(message)s"
JSON_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s"


class DropQueryStrings(logging.Filter):
    """Access log lines keep the path but never the query string.

    Query strings carry NHS login authorisation codes, state and nonces on the
    sign-in callback, and search terms elsewhere: none of it belongs in logs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn.access logs (client, method, path with query, http version, status).
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            if isinstance(args[2], str):
                args[2] = args[2].split("?", 1)[0]
                record.args = tuple(args)
        return True


# Set on an exception the app has logged with its request id (app.problems' 500 handler).
_LOGGED = "_gp_online_logged"


def logged_with_request_id(exc: BaseException) -> None:
    """Note that `exc` is in the log already, with its request id and traceback."""
    vars(exc)[_LOGGED] = True


class DropRepeatedTracebacks(logging.Filter):
    """uvicorn logs "Exception in ASGI application" for every error that reached it, the
    ones the app has answered with a 500 and logged included: one traceback is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not getattr(error, "__dict__", {}).get(_LOGGED, False)


def logging_config(settings: Settings) -> dict[str, Any]:
    formatter: dict[str, Any]
    if settings.app_env is AppEnv.PROD:
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": JSON_FORMAT,
            "rename_fields": {
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "correlation_id": "request_id",
            },
            # uvicorn adds the message again with terminal colours (ANSI escapes) for its
            # own formatter; in JSON it is noise a log search trips over.
            "reserved_attrs": [*RESERVED_ATTRS, "color_message"],
        }
    else:
        formatter = {"format": READABLE_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "drop_query_strings": {"()": "app.logs.DropQueryStrings"},
            "drop_repeated_tracebacks": {"()": "app.logs.DropRepeatedTracebacks"},
            "request_id": {
                "()": "asgi_correlation_id.CorrelationIdFilter",
                "uuid_length": None,
                "default_value": "-",
            },
        },
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "filters": ["request_id"],
                "formatter": "default",
            }
        },
        "loggers": {
            "app": {"level": settings.log_level},
            "uvicorn": {"level": "INFO"},
            "uvicorn.error": {"level": "INFO", "filters": ["drop_repeated_tracebacks"]},
            # One line per request at INFO: LOG_LEVEL=WARNING turns them off (`access_log`).
            "uvicorn.access": {"level": settings.log_level, "filters": ["drop_query_strings"]},
            # httpx logs every outbound URL at INFO; GP Connect URLs can hold NHS numbers.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
            # SQLAlchemy names a pool's logger after its class (app.pool.FairAsyncPool): its
            # INFO lines ("Pool disposed", "Pool recreating") are internals, not events.
            "app.pool": {"level": "WARNING"},
        },
        "root": {"handlers": ["default"], "level": "WARNING"},
    }


def access_log(settings: Settings) -> bool:
    """Whether uvicorn writes a line per request: only where LOG_LEVEL lets INFO through.

    Off, uvicorn does not even build the line (it is ~9 % of a cheap request's CPU);
    a load balancer in front usually logs requests anyway.
    """
    return logging.getLevelNamesMapping()[settings.log_level.upper()] <= logging.INFO


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
