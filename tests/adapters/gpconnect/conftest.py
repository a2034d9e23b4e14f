"""Fixtures for the GP Connect adapter: its settings, one practice, and a respx router."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
import respx

from app.adapters.gpconnect import GPConnectAdapter, GPConnectSettings, create_gpconnect_factory
from app.config import Settings
from app.gp.registry import PracticeConfig, Timeouts
from tests.adapters.gpconnect.fake_server import FakeGPConnect
from tests.conftest import FakeClock

BASE_URL = "https://provider.gpconnect.test/A81001/STU3/1"
# The patient-facing prescriptions API: one national base URL, the platform routes by the
# patient's registered practice. Its path is the specification's.
PFS_URL = "https://platform.test/gp-connect/patient-facing/prescriptions-management-fhir/FHIR/R4"
ODS_CODE = "A81001"
CONSUMER_ASID = "200000000115"
PROVIDER_ASID = "918999198738"


def gpconnect_settings() -> GPConnectSettings:
    return GPConnectSettings(
        _env_file=None,
        consumer_asid=CONSUMER_ASID,
        consumer_ods_code="X26",
        consumer_name="GP Online",
        consumer_telephone="0300 303 5678",
        provider_asids={ODS_CODE: PROVIDER_ASID},
    )


def practice_config(**overrides: object) -> PracticeConfig:
    values: dict[str, object] = {
        "ods_code": ODS_CODE,
        "name": "Riverside Medical Centre",
        "adapter": "gpconnect",
        "base_url": BASE_URL,
        "endpoints": {"prescriptions": PFS_URL},
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
def fake_server(gp_clock: FakeClock, router: respx.MockRouter) -> FakeGPConnect:
    return FakeGPConnect(BASE_URL, gp_clock.now, PFS_URL).seed().install(router)
