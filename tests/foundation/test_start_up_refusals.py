"""Settings that cannot work stop the service before it starts: one readable line per
setting, no traceback, a non-zero exit, and never a secret echoed back."""

from __future__ import annotations

import inspect
import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import (
    DEFAULT_PRACTICES_FILE,
    InvalidSettings,
    Settings,
    UnsafeSettings,
    read_settings,
)
from app.health.schema import SCHEMA_HEAD
from app.logs import access_log, logging_config
from tests.foundation.test_quiet_logs import configured
from tests.foundation.test_settings import make, safe_prod

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-never-printed"
SETTING_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def _environment(**values: str) -> dict[str, str]:
    """This process's environment without any setting, plus `values`."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if name.lower() not in Settings.model_fields and not name.startswith("NHS_LOGIN")
    }
    return {**kept, **values}


# --- DATABASE_URL ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "read"),
    [
        ("postgresql://gp@db.internal:5432/gp", "postgresql+asyncpg://gp@db.internal:5432/gp"),
        ("postgres://gp:pw@db.internal/gp", "postgresql+asyncpg://gp:pw@db.internal/gp"),
        ("postgresql+asyncpg://gp@db/gp", "postgresql+asyncpg://gp@db/gp"),
        ("sqlite:///var/x.db", "sqlite+aiosqlite:///var/x.db"),
        ("sqlite+aiosqlite:///var/x.db", "sqlite+aiosqlite:///var/x.db"),
    ],
)
def test_a_database_url_without_the_async_driver_is_read_with_it(given: str, read: str) -> None:
    settings = make(database_url=given, sandbox_database_url=given)
    assert settings.database_url == read
    assert settings.sandbox_url == read


@pytest.mark.parametrize(
    ("given", "says"),
    [
        (f"mysql://gp:{PASSWORD}@db/gp", "mysql:// is not supported"),
        (f"postgresql+psycopg2://gp:{PASSWORD}@db/gp", "postgresql+psycopg2:// is not supported"),
        (f"postgresql+asyncpg://gp:{PASSWORD}@db:port/gp", "cannot be read as a URL"),
        ("db.internal/gp", "is not a URL"),
    ],
)
def test_any_other_database_url_is_refused_naming_the_fix(
    monkeypatch: pytest.MonkeyPatch, given: str, says: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", given)
    with pytest.raises(InvalidSettings) as refused:
        read_settings()
    message = str(refused.value)
    assert f"  DATABASE_URL: {says}" in message
    assert "postgresql+asyncpg://" in message
    assert PASSWORD not in message


# --- LOG_LEVEL ------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["debug", "Info", "WARNING", "error", "critical"])
def test_log_level_is_any_standard_level_in_any_case(level: str) -> None:
    settings = make(log_level=level)
    assert settings.log_level == level.upper()
    config = logging_config(settings)
    with configured(config):  # raised "Unable to configure logger 'app'" on lower case
        assert logging.getLogger("app").level == logging.getLevelNamesMapping()[level.upper()]
    assert access_log(settings) is (level.upper() in {"DEBUG", "INFO"})


@pytest.mark.parametrize("level", ["verbose", "trace", ""])
def test_any_other_log_level_is_refused_listing_the_levels(level: str) -> None:
    with pytest.raises(ValidationError) as refused:
        make(log_level=level)
    assert "must be one of debug, info, warning, error, critical" in str(refused.value)


# --- at the command line --------------------------------------------------------------


def _run(*command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, the test's own arguments
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_python_m_app_names_each_bad_setting_on_a_line_of_its_own() -> None:
    result = _run(
        sys.executable,
        "-m",
        "app",
        env=_environment(
            LOG_LEVEL="verbose",
            DATABASE_URL=f"mysql://gp:{PASSWORD}@db/gp",
            SESSION_IDLE_MINUTES="99",
        ),
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("Cannot start: fix these settings")
    assert sorted(line.split(":")[0].strip() for line in lines[1:]) == [
        "DATABASE_URL",
        "LOG_LEVEL",
        "SESSION_IDLE_MINUTES",
    ]
    assert PASSWORD not in result.stderr


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("LOG_LEVEL", "verbose", "LOG_LEVEL: must be one of"),
        (
            "DATABASE_URL",
            f"postgres://gp:{PASSWORD}@127.0.0.1:9/gp",
            "DATABASE_URL: cannot reach the database at postgresql+asyncpg://gp:***@127.0.0.1:9/gp",
        ),
    ],
)
def test_migrating_as_make_run_does_names_the_setting_without_a_traceback(
    setting: str, value: str, says: str
) -> None:
    """`make run` migrates first (`make migrate`): its first words must be these."""
    result = _run(
        sys.executable, "-m", "alembic", "upgrade", "head", env=_environment(**{setting: value})
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert says in result.stderr
    assert PASSWORD not in result.stderr + result.stdout


def test_migrating_reads_a_url_without_the_async_driver(tmp_path: Path) -> None:
    database = tmp_path / "gp.db"
    result = _run(
        sys.executable,
        "-m",
        "alembic",
        "upgrade",
        "head",
        env=_environment(DATABASE_URL=f"sqlite:///{database}"),
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(database) as connection:
        [(revision,)] = connection.execute("SELECT version_num FROM alembic_version")
    assert revision == SCHEMA_HEAD


# --- production -----------------------------------------------------------------------


def _practices(tmp_path: Path, adapters: dict[str, str]) -> Path:
    practices = [
        {"ods_code": code, "name": code, "adapter": adapter} for code, adapter in adapters.items()
    ]
    path = tmp_path / "real-practices.json"
    path.write_text(json.dumps({"practices": practices}))
    return path


def test_prod_refuses_a_copy_of_the_demo_practices_whatever_its_name(tmp_path: Path) -> None:
    copy = tmp_path / "practices-prod.json"
    copy.write_text(DEFAULT_PRACTICES_FILE.read_text())
    assert safe_prod(tmp_path, practices_file=copy).unsafe_for_production() == [
        "PRACTICES_FILE serves A81001, B82002, C83003 from the sandbox adapter "
        "(simulated GP systems)"
    ]


def test_prod_refuses_any_practice_on_the_sandbox(tmp_path: Path) -> None:
    path = _practices(tmp_path, {"A12345": "gpconnect", "B23456": "sandbox"})
    problems = safe_prod(tmp_path, practices_file=path).unsafe_for_production()
    assert problems == [
        "PRACTICES_FILE serves B23456 from the sandbox adapter (simulated GP systems)"
    ]
    real = _practices(tmp_path, {"A12345": "gpconnect"})
    assert safe_prod(tmp_path, practices_file=real).unsafe_for_production() == []


@pytest.mark.parametrize("content", [None, "{not json", '{"practices": "none"}'])
def test_prod_refuses_a_practices_file_it_cannot_read(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "practices-prod.json"
    if content is not None:
        path.write_text(content)
    [problem] = safe_prod(tmp_path, practices_file=path).unsafe_for_production()
    assert problem.startswith(f"PRACTICES_FILE {path} cannot be read: ")


def test_prod_names_each_problem_on_a_line_of_its_own(tmp_path: Path) -> None:
    settings = safe_prod(tmp_path, secret_key="short", dev_login_enabled=True)
    with pytest.raises(UnsafeSettings) as refused:
        settings.check_safe()
    lines = str(refused.value).splitlines()
    assert lines[0] == "Refusing to start with APP_ENV=prod:"
    assert [line.split()[0] for line in lines[1:]] == ["SECRET_KEY", "DEV_LOGIN_ENABLED"]


def test_the_readme_lists_every_setting_prod_refuses() -> None:
    """The operator's list (README, Configuration) and the code's refusals agree."""
    code = inspect.getsource(Settings.unsafe_for_production) + inspect.getsource(
        Settings._practices_file_problems
    )
    refused_in_code = set(re.findall(r'f?"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)', code))
    readme = (ROOT / "README.md").read_text()
    start = readme.index("With `APP_ENV=prod` the service also refuses to start")
    bullets = re.match(r"[^\n]*\n(?:[^\n]*\n)*?\n((?:- [^\n]*\n(?:  [^\n]*\n)*)+)", readme[start:])
    assert bullets is not None
    listed = set(SETTING_NAME.findall(bullets.group(1)))
    assert refused_in_code >= {"PRACTICES_FILE", "SECRET_KEY", "FROZEN_NOW"}
    assert listed == refused_in_code
