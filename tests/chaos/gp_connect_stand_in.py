"""A GP Connect provider in a process of its own, on loopback, that can be made to misbehave.

It serves the suite's fake provider (`tests/adapters/gpconnect/fake_server.py`: one
practice, one patient, free slots, repeat courses, the patient's permissions, with the
platform's header and token checks) over real HTTP, each patient-facing API at its
specification's path (`endpoints`), so the service reaches it through its own httpx
client, timeouts and parsing.
`PUT /_chaos/fault` with `{"mode": …}` switches how every later request is answered:

- `none`: as the provider would;
- `hang`: the request is read and never answered (until the mode changes);
- `error`: 5xx answers of the kinds met in the wild, in turn: an OperationOutcome 500,
  a proxy's HTML 502, a 503 with Retry-After, an empty 504;
- `garbage`: 200 answers that are not FHIR, in turn: an HTML page, truncated JSON, JSON
  of the wrong shape, bytes that are not UTF-8.

`GET /_chaos/requests` counts the requests that reached the provider, whatever the mode.

    python -m tests.chaos.gp_connect_stand_in --port 8123
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import respx
from respx.models import AllMockedAssertionError

from tests.adapters.gpconnect.fake_server import FakeGPConnect, outcome
from tests.frozen import SUITE_NOW

CONTROL = "/_chaos/"
MODES = ("none", "hang", "error", "garbage")
HANG_LIMIT_SECONDS = 60  # a hung request gives up at last, so the process can stop

FHIR_JSON = "application/fhir+json"
HTML = "text/html; charset=utf-8"


def endpoints(port: int) -> dict[str, str]:
    """Each patient-facing API's base URL, as a practices file's `endpoints` names them:
    the platform's paths, on loopback (one provider for every practice, as the platform
    routes by the patient's registration)."""
    platform = f"http://127.0.0.1:{port}/gp-connect/patient-facing"
    return {
        "appointments": f"{platform}/appointments-management-fhir/FHIR/STU3",
        "record": f"{platform}/access-record-fhir/FHIR/STU3",
        "permissions": f"{platform}/user-permissions",
        "prescriptions": f"{platform}/prescriptions-management-fhir/FHIR/R4",
    }


def _errors() -> Iterator[httpx.Response]:
    outage = outcome(500, "INTERNAL_SERVER_ERROR", "the database is not responding")
    page = b"<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>"
    return itertools.cycle(
        [
            outage,
            httpx.Response(502, content=page, headers={"Content-Type": HTML}),
            httpx.Response(503, headers={"Retry-After": "7"}),
            httpx.Response(504),
        ]
    )


def _garbage() -> Iterator[httpx.Response]:
    page = b"<!DOCTYPE html><html><body><p>Scheduled maintenance. Back soon.</p></body></html>"
    truncated = b'{"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {"reso'
    return itertools.cycle(
        [
            httpx.Response(200, content=page, headers={"Content-Type": HTML}),
            httpx.Response(200, content=truncated, headers={"Content-Type": FHIR_JSON}),
            httpx.Response(200, json=[{"status": "ok"}], headers={"Content-Type": FHIR_JSON}),
            httpx.Response(200, content=b"\xff\xfe\x00\x81", headers={"Content-Type": FHIR_JSON}),
        ]
    )


class StandIn:
    """The provider's state and the current fault, shared by the server's threads."""

    def __init__(self, port: int) -> None:
        self.router = respx.Router(assert_all_mocked=True)
        urls = endpoints(port)
        FakeGPConnect(
            urls["appointments"],
            lambda: SUITE_NOW,
            urls["prescriptions"],
            record_url=urls["record"],
            permissions_url=urls["permissions"],
        ).seed().install(self.router)  # type: ignore[arg-type]
        self.mode = "none"
        self.requests = 0
        self.changed = threading.Condition()
        self._lock = threading.Lock()  # the fake provider is not thread-safe
        self._errors = _errors()
        self._garbage = _garbage()

    def switch(self, mode: str) -> None:
        with self.changed:
            self.mode = mode
            self.changed.notify_all()

    def answer(self, request: httpx.Request) -> httpx.Response | None:
        """The answer to one request; None to leave it unanswered."""
        with self.changed:
            self.requests += 1
            mode = self.mode
            if mode == "hang":
                self.changed.wait_for(lambda: self.mode != "hang", timeout=HANG_LIMIT_SECONDS)
                return None
        with self._lock:
            if mode == "error":
                return next(self._errors)
            if mode == "garbage":
                return next(self._garbage)
            try:
                return self.router.handler(request)
            except AllMockedAssertionError:
                return outcome(404, "REFERENCE_NOT_FOUND")


class Handler(BaseHTTPRequestHandler):
    server: StandInServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads answers, not logs."""

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, response: httpx.Response) -> None:
        self.send_response(response.status_code)
        for name, value in response.headers.items():
            if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.content)))
        self.end_headers()
        self.wfile.write(response.content)

    def _control(self, body: bytes) -> None:
        stand_in = self.server.stand_in
        if self.command == "PUT" and self.path == f"{CONTROL}fault":
            mode = json.loads(body)["mode"]
            if mode not in MODES:
                self._send(httpx.Response(422, json={"modes": MODES}))
                return
            stand_in.switch(mode)
            self._send(httpx.Response(204))
        elif self.command == "GET" and self.path == f"{CONTROL}requests":
            self._send(httpx.Response(200, json={"count": stand_in.requests}))
        else:
            self._send(httpx.Response(404))

    def _serve(self) -> None:
        body = self._body()
        if self.path.startswith(CONTROL):
            self._control(body)
            return
        request = httpx.Request(
            self.command,
            f"http://127.0.0.1:{self.server.server_port}{self.path}",
            headers=list(self.headers.items()),
            content=body,
        )
        response = self.server.stand_in.answer(request)
        if response is None:
            self.close_connection = True
            return
        self._send(response)

    do_GET = do_POST = do_PUT = do_DELETE = _serve


class StandInServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int) -> None:
        self.stand_in = StandIn(port)
        super().__init__(("127.0.0.1", port), Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with StandInServer(args.port) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
