"""While the app serves, start-up's objects are frozen and the young are collected less often."""

from __future__ import annotations

import gc

import httpx
from asgi_lifespan import LifespanManager

from app.config import Settings
from app.heap import YOUNG_THRESHOLD, serving_heap
from app.main import create_app
from tests.conftest import FakeClock


async def test_a_serving_app_freezes_start_up_and_collects_the_young_less_often(
    client: httpx.AsyncClient,
) -> None:
    # `client` runs the app's lifespan: it is serving now.
    assert (await client.get("/healthz")).status_code == 200
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert gc.get_freeze_count() > 0


async def test_the_collector_is_put_back_when_the_app_stops(
    settings: Settings, clock: FakeClock
) -> None:
    before = gc.get_threshold()
    async with LifespanManager(create_app(settings, clock=clock)):
        assert gc.get_threshold() != before
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_overlapping_apps_keep_it_until_the_last_one_stops() -> None:
    before = gc.get_threshold()
    first, second = serving_heap(), serving_heap()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert gc.get_freeze_count() > 0
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_it_is_put_back_when_serving_fails() -> None:
    before = gc.get_threshold()
    try:
        with serving_heap():
            raise RuntimeError("the app stopped")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
