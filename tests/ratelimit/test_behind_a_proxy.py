"""Behind a reverse proxy, the client is the address the proxy saw, never what the client
wrote into `X-Forwarded-For` itself.

uvicorn walks `X-Forwarded-For` from the right, past the proxies named in
`FORWARDED_ALLOW_IPS`, to the first address it does not trust: the one the proxy
appended. Naming the proxies is what makes this hold; `*` trusts every hop, so the
leftmost entry (the client's own invention) would become its address, and a new
invention for each try would be a new sign-in budget.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

import pytest

from tests.live_server import PROJECT, LiveServer, live_server

SIGN_INS = 3
PROXY = "127.0.0.1"  # the test's client plays the proxy: it connects from loopback
CLIENT, NEIGHBOUR = "198.51.100.7", "198.51.100.8"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {"FORWARDED_ALLOW_IPS": PROXY, "RATE_LIMIT_SIGN_IN": f"{SIGN_INS}/minute"}
    with live_server(tmp_path_factory.mktemp("proxy"), env=env) as running:
        yield running


def _sign_in_through_the_proxy(server: LiveServer, forwarded_for: str) -> int:
    with server.client(headers={"X-Forwarded-For": forwarded_for}) as client:
        return client.post("/v1/auth/session", json={"code": "bad"}).status_code


def test_an_invented_forwarded_address_gains_no_budget(server: LiveServer) -> None:
    # The client writes a new address of its own each time; the proxy appends the real one.
    statuses = [
        _sign_in_through_the_proxy(server, f"203.0.113.{attempt}, {CLIENT}")
        for attempt in range(SIGN_INS + 1)
    ]
    assert 429 not in statuses[:SIGN_INS]
    assert statuses[SIGN_INS] == 429
    # Another client behind the same proxy has a budget of its own.
    assert _sign_in_through_the_proxy(server, NEIGHBOUR) != 429


def test_the_deployment_names_the_proxies_it_trusts() -> None:
    manifest = (PROJECT / "deploy" / "kubernetes.yaml").read_text()
    values = re.findall(r"name: FORWARDED_ALLOW_IPS, value: \"([^\"]*)\"", manifest)
    assert len(values) == 1, "the deployment must set FORWARDED_ALLOW_IPS once"
    trusted = [entry.strip() for entry in values[0].split(",")]
    for entry in trusted:
        ipaddress.ip_network(entry)  # an address or a network: never `*` nor a name
