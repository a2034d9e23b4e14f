"""The app's clock: the real one, or (outside prod) one stopped at FROZEN_NOW."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from app.clock import FrozenClock, SystemClock, clock_for, today
from app.config import Settings, UnsafeSettings
from app.main import create_app
from tests.foundation.test_settings import safe_prod

BST = "2026-10-15T00:30:00+01:00"


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_without_frozen_now_the_clock_is_the_real_one() -> None:
    assert isinstance(clock_for(make(app_env="dev")), SystemClock)


@pytest.mark.parametrize("app_env", ["dev", "test"])
def test_frozen_now_stops_the_clock_outside_prod(app_env: str) -> None:
    clock = clock_for(make(app_env=app_env, frozen_now=BST))
    assert isinstance(clock, FrozenClock)
    assert clock.now() == clock.now() == datetime(2026, 10, 14, 23, 30, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    assert today(clock).isoformat() == "2026-10-15"  # England's date, not UTC's


def test_the_app_runs_on_frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROZEN_NOW", BST)
    app = create_app(make(app_env="test"))
    assert app.state.clock.now() == datetime(2026, 10, 14, 23, 30, tzinfo=UTC)


def test_frozen_now_needs_an_offset() -> None:
    with pytest.raises(ValidationError, match="frozen_now"):
        make(frozen_now="2026-10-15T00:30:00")


def test_production_refuses_frozen_now(tmp_path: object) -> None:
    settings = safe_prod(tmp_path, frozen_now=BST)  # type: ignore[arg-type]
    assert settings.unsafe_for_production() == [
        "FROZEN_NOW is set; production runs on the real clock"
    ]
    with pytest.raises(UnsafeSettings, match="FROZEN_NOW"):
        create_app(settings)
    # The commands that build a clock without the app (housekeeping, the sandbox tools).
    with pytest.raises(UnsafeSettings, match="FROZEN_NOW"):
        clock_for(settings)
