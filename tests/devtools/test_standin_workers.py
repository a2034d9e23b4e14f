"""The stand-in with several workers: one key on a fresh checkout, one memory for sign-ins.

Each worker builds its own app, so each has its own stand-in. What one worker gives out
(a code, an access token) another must honour, and what one has seen (a code, a client
assertion's jti) another must refuse, as NHS login does behind any number of servers.
"""

from __future__ import annotations

import base64
import hashlib
import multiprocessing
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy.ext.asyncio import AsyncEngine

from app.adapters.sandbox.personas import Persona, find_persona
from app.config import Settings
from app.devtools.keys import ensure_dev_key
from app.devtools.standin_store import StandInStore
from app.main import create_app
from tests.auth.conftest import _serve, query_of
from tests.auth.test_end_to_end import native_code
from tests.conftest import FakeClock
from tests.devtools.test_nhs_login_standin import (
    ISSUER,
    TOKEN_URL,
    _assertion,
    _code,
    _token_form,
)
from tests.frozen import SUITE_NOW, SUITE_TODAY
from tests.live_server import LiveServer, live_server

# --- two workers in one process: two apps over the same settings --------------------------


@pytest.fixture
async def two_workers(
    standin_settings: Settings, engine: AsyncEngine, clock: FakeClock
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    first, second = (create_app(standin_settings, clock=clock) for _ in range(2))
    async for one in _serve(first):
        async for other in _serve(second):
            yield one, other


async def test_a_code_given_by_one_worker_is_exchanged_at_another_once(
    two_workers: tuple[httpx.AsyncClient, httpx.AsyncClient],
    persona: Callable[[str], Persona],
) -> None:
    one, other = two_workers
    exchange = await native_code(one, persona("adult-full"))
    created = await other.post("/v1/auth/session", json=exchange)
    assert created.status_code == 201, created.text
    for worker in (one, other):
        replay = await worker.post("/v1/auth/session", json=exchange)
        assert replay.status_code == 401, replay.text


async def test_a_client_assertion_seen_by_one_worker_is_refused_at_another(
    two_workers: tuple[httpx.AsyncClient, httpx.AsyncClient],
    clock: FakeClock,
    client_key_file: Path,
    persona: Callable[[str], Persona],
) -> None:
    one, other = two_workers
    assertion = _assertion(client_key_file, clock)
    first = await _code(one, persona("adult-full"), None)
    assert (await one.post(TOKEN_URL, data=_token_form(first, assertion, None))).status_code == 200
    second = await _code(other, persona("adult-full"), None)
    replay = await other.post(TOKEN_URL, data=_token_form(second, assertion, None))
    assert replay.json() == {"error": "invalid_client"}


async def test_tokens_from_any_worker_are_good_at_every_worker(
    two_workers: tuple[httpx.AsyncClient, httpx.AsyncClient],
    clock: FakeClock,
    client_key_file: Path,
    persona: Callable[[str], Persona],
) -> None:
    one, other = two_workers
    code = await _code(other, persona("adult-full"), None)
    form = _token_form(code, _assertion(client_key_file, clock), None)
    tokens = (await other.post(TOKEN_URL, data=form)).json()
    # Whichever worker answers the keys request, the ID token's key is among them.
    jwks = await one.get(f"{ISSUER}/.well-known/jwks.json")
    published = KeySet.import_key_set(jwks.json())
    id_token = jwt.decode(tokens["id_token"], published, algorithms=["RS512"])
    assert id_token.claims["sub"] == persona("adult-full").nhs_login_claims["sub"]
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    userinfo = await one.get(f"{ISSUER}/userinfo", headers=bearer)
    assert userinfo.status_code == 200, userinfo.text


def _take_at_once(store: StandInStore, start: Any, results: Any) -> None:
    start.wait(timeout=60)
    results.put(store.take("code", "the-code", SUITE_NOW))


def test_a_code_taken_by_two_workers_at_once_is_given_to_one(tmp_path: Path) -> None:
    store = StandInStore(tmp_path / "standin.sqlite3")
    later = SUITE_NOW + timedelta(seconds=60)
    assert store.add("code", "the-code", {"n": 1}, now=SUITE_NOW, expires_at=later)
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(4), context.Queue()
    processes = [context.Process(target=_take_at_once, args=(store, start, results))
                 for _ in range(4)]  # fmt: skip
    for process in processes:
        process.start()
    taken = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert sorted(taken, key=str) == [None, None, None, {"n": 1}]


# --- the key made on a fresh checkout -------------------------------------------------------


def _make_key_at_once(path: Path, start: Any, results: Any) -> None:
    start.wait(timeout=60)
    try:
        results.put(ensure_dev_key(path).read_bytes())
    except Exception as error:  # the failure itself is what the test reports
        results.put(repr(error))


def test_workers_starting_together_agree_on_one_dev_key(tmp_path: Path) -> None:
    path = tmp_path / "var" / "dev-nhs-login-key.pem"
    # Forked, so each starts at once without importing the app again; the race is the
    # same as between uvicorn's workers: several processes, one file system.
    context = multiprocessing.get_context("fork")
    workers, start, results = 4, context.Barrier(4), context.Queue()
    processes = [context.Process(target=_make_key_at_once, args=(path, start, results))
                 for _ in range(workers)]  # fmt: skip
    for process in processes:
        process.start()
    keys = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert len(set(keys)) == 1, keys
    assert keys[0] == path.read_bytes()
    public = RSAKey.import_key(keys[0]).as_pem(private=False)
    assert RSAKey.import_key(path.with_suffix(".pub.pem").read_bytes()).as_pem() == public
    # No half-written or temporary files left behind.
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, "dev-nhs-login-key.pub.pem"]


# --- a real server with two workers ---------------------------------------------------------

LOOPBACK_REDIRECT = "http://127.0.0.1:8765/callback"  # the apps' default redirect in dev
SIGN_INS = 16
STARTED = "Application startup complete"


@pytest.fixture(scope="module")
def two_worker_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("two-workers")
    env = {
        "APP_ENV": "dev",
        "WEB_CONCURRENCY": "2",
        "LOG_LEVEL": "INFO",  # each worker says when it has started
        # A fresh checkout: no key yet, so both workers find none.
        "NHS_LOGIN_PRIVATE_KEY_FILE": str(directory / "var" / "dev-nhs-login-key.pem"),
        "NHS_LOGIN_APP_REDIRECT_URIS": "",
    }
    with live_server(directory, env=env) as running:
        deadline = time.monotonic() + 60
        while running.log.read_text(errors="replace").count(STARTED) < 2:
            assert time.monotonic() < deadline, running.log.read_text(errors="replace")
            time.sleep(0.2)
        yield running


def test_two_workers_on_a_fresh_checkout_start_without_dying(
    two_worker_server: LiveServer,
) -> None:
    log = two_worker_server.log.read_text(errors="replace")
    # (uvicorn also replaces a worker that boots too slowly to answer its health check,
    # logging "died" with no error: that is the machine's load, not the key.)
    assert "FileExistsError" not in log, log
    assert "Traceback" not in log, log


def _app_sign_in(base_url: str, sub: str) -> httpx.Response:
    """An app's sign-in, each request over a new connection (so any worker may answer)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    request = {
        "client_id": "gp-online-dev",
        "redirect_uri": LOOPBACK_REDIRECT,
        "response_type": "code",
        "scope": "openid profile gp_registration_details gp_integration_credentials",
        "state": state,
        "nonce": nonce,
        "vtr": '["P9.Cp.Cd"]',
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    authorize = f"{base_url}/dev/nhs-login/authorize"
    with httpx.Client(timeout=10) as fresh:
        assert fresh.get(f"{authorize}?{urlencode(request)}").status_code == 200
    with httpx.Client(timeout=10) as fresh:
        back = fresh.post(authorize, data={**request, "persona": sub})
    assert back.status_code == 302, back.text
    returned = query_of(back.headers["location"])
    assert returned["state"] == state
    exchange = {"code": returned["code"], "redirect_uri": LOOPBACK_REDIRECT,
                "code_verifier": verifier, "nonce": nonce}  # fmt: skip
    with httpx.Client(timeout=10) as fresh:
        return fresh.post(f"{base_url}/v1/auth/session", json=exchange)


def test_every_app_sign_in_succeeds_whichever_worker_answers(
    two_worker_server: LiveServer,
) -> None:
    sub = str(find_persona(SUITE_TODAY, "adult-full").nhs_login_claims["sub"])
    answers = [_app_sign_in(two_worker_server.base_url, sub) for _ in range(SIGN_INS)]
    failed = [(a.status_code, a.text) for a in answers if a.status_code != 201]
    assert not failed, f"{len(failed)} of {SIGN_INS} sign-ins failed: {failed[:3]}"
