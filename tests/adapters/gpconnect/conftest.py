"""Fixtures for the GP Connect adapter: its settings, one practice, and a respx router."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime

import pytest
import respx

from app.adapters.gpconnect import GPConnectAdapter, GPConnectSettings, create_gpconnect_factory
from app.config import Settings
from app.gp.registry import PracticeConfig, Timeouts
from tests.adapters.gpconnect.fake_server import FakeGPConnect
from tests.conftest import FakeClock

# NHS England's patient-facing APIs: one national base URL each (the platform routes by
# the patient's registered practice), with the specifications' paths.
PLATFORM = "https://platform.test/gp-connect/patient-facing"
BASE_URL = f"{PLATFORM}/appointments-management-fhir/FHIR/STU3"
RECORD_URL = f"{PLATFORM}/access-record-fhir/FHIR/STU3"
PFS_URL = f"{PLATFORM}/prescriptions-management-fhir/FHIR/R4"
PERMISSIONS_URL = f"{PLATFORM}/user-permissions"  # derived from RECORD_URL
ODS_CODE = "A81001"
ENDPOINTS = {"appointments": BASE_URL, "record": RECORD_URL, "prescriptions": PFS_URL}


def gpconnect_settings() -> GPConnectSettings:
    return GPConnectSettings(
        _env_file=None,
        consumer_ods_code="X26",
        consumer_name="GP Online",
        consumer_telephone="0300 303 5678",
    )


def provider(now: Callable[[], datetime]) -> FakeGPConnect:
    """The fake provider at the practice's endpoints, seeded (not yet installed)."""
    return FakeGPConnect(
        BASE_URL, now, PFS_URL, record_url=RECORD_URL, permissions_url=PERMISSIONS_URL
    ).seed()


def practice_config(**overrides: object) -> PracticeConfig:
    values: dict[str, object] = {
        "ods_code": ODS_CODE,
        "name": "Riverside Medical Centre",
        "adapter": "gpconnect",
        "endpoints": ENDPOINTS,
        "timeouts": Timeouts(connect=0.5, read=1.0),
    }
    values.update(overrides)
    return PracticeConfig.model_validate(values)


@contextlib.asynccontextmanager
async def open_adapter(clock: FakeClock) -> AsyncIterator[GPConnectAdapter]:
    settings = Settings(_env_file=None, app_env="test")
    async with contextlib.AsyncExitStack() as stack:
        factory = await create_gpconnect_factory(
            settings, clock, stack, gpconnect=gpconnect_settings()
        )
        adapter = factory(practice_config())
        assert isinstance(adapter, GPConnectAdapter)
        yield adapter


@pytest.fixture
def gp_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


@pytest.fixture
async def adapter(gp_clock: FakeClock, router: respx.MockRouter) -> AsyncIterator[GPConnectAdapter]:
    async with open_adapter(gp_clock) as built:
        yield built


@pytest.fixture
def fake_server(gp_clock: FakeClock, router: respx.MockRouter) -> Iterator[FakeGPConnect]:
    server = provider(gp_clock.now).install(router)
    yield server
    # A violation fails the test where the request is made; this catches one the code
    # under test swallowed.
    assert not server.violations, "\n".join(server.violations)
