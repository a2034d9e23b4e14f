"""Fault injection: the service in real processes, made to meet misbehaving clients and
failing dependencies, on loopback only.

Every test in this directory is marked `chaos`. `make test` leaves them out (the
`-m "not chaos"` in pyproject's addopts); `make chaos`, which `.ci/run` calls after
`make test`, runs them. To add a case, add a module here: one failure per module,
each test bounded in seconds by small limits set on its server, never by sleeping
for a production timeout. The README's "What happens when things fail" table gets
a row for it. Run one case with `make chaos CHAOS_ARGS="-k drip"`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHAOS_TESTS = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if CHAOS_TESTS in item.path.parents:
            item.add_marker(pytest.mark.chaos)
