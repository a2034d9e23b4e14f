"""The stand-in's ASGI app: the platform's checks around each API's operations.

For every request under an API's base path, in this order:
1. `X-Request-ID` present and a UUID, else 400;
2. a bearer token: one this process issued and not expired (401), or any under
   `--open-access`, as the platform's sandbox;
3. the request allowed by the API's official OpenAPI document, else 400 naming why;
4. de-duplication: a repeated `X-Request-ID` with the same method, path and query, for
   the same patient, is answered with the first response, not acted on again;
5. the operation, whose answer is checked against the document too: a response the
   document does not allow is the stand-in's bug, answered 500 with a loud log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.clock import Clock
from app.gp.errors import GPError
from app.standin import appointments, permissions, prescriptions, record
from app.standin.calls import Answer, Call, Operation
from app.standin.outcomes import Refused, operation_outcome, refusal_for
from app.standin.patients import PatientDirectory
from app.standin.specification import API, Specifications, SpecificationViolation
from app.standin.tokens import TokenError, TokenService

logger = logging.getLogger(__name__)

OPERATIONS: Final[tuple[Operation, ...]] = (
    *appointments.OPERATIONS,
    *record.OPERATIONS,
    *permissions.OPERATIONS,
    *prescriptions.OPERATIONS,
)
MAX_REMEMBERED: Final = 10_000  # responses kept for de-duplication
FORM: Final = "application/x-www-form-urlencoded"
METHODS: Final = ["GET", "POST", "PUT", "DELETE", "PATCH"]


@dataclass(frozen=True, slots=True)
class _Sent:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass
class StandInState:
    directory: PatientDirectory
    specifications: Specifications
    tokens: TokenService | None  # None: open access
    clock: Clock


class Gateway:
    """What the platform does around each operation."""

    def __init__(self) -> None:
        self._state: StandInState | None = None
        self._sent: OrderedDict[tuple[str, ...], asyncio.Future[_Sent]] = OrderedDict()

    @property
    def state(self) -> StandInState:
        if self._state is None:
            raise RuntimeError("the stand-in has not started")
        return self._state

    def start(self, state: StandInState) -> None:
        self._state = state

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        api = self.state.specifications.api_for(path)
        if api is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        body = await request.body()
        headers = dict(request.headers)
        request_id = request.headers.get("x-request-id", "")
        try:
            if not _is_uuid(request_id):
                raise Refused(400, "BAD_REQUEST", "X-Request-ID must be a UUID")
            holder = self._holder(request.headers.get("authorization", ""))
        except Refused as refused:
            return self._response(api, self._refusal(api, refused), request)
        key = (holder or "", request_id.lower(), request.method, path, request.url.query)
        sent = self._sent.get(key)
        if sent is not None:
            self._sent.move_to_end(key)
            return self._replay(await sent)
        future: asyncio.Future[_Sent] = asyncio.get_running_loop().create_future()
        self._remember(key, future)
        try:
            answer = await self._answer(api, request, headers, body, holder)
            checked = self._checked(api, request, headers, body, answer)
        except BaseException:  # cancelled part way: a repeat is acted on afresh
            self._sent.pop(key, None)
            future.cancel()
            raise
        future.set_result(checked)
        return self._replay(checked)

    def _holder(self, authorization: str) -> str | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Refused(401, "ACCESS_DENIED", "Missing bearer token")
        tokens = self.state.tokens
        if tokens is None:
            return None
        holder = tokens.holder(token.strip())
        if holder is None:
            raise Refused(401, "ACCESS_DENIED", "Invalid or expired access token")
        return holder

    async def _answer(
        self, api: API, request: Request, headers: dict[str, str], body: bytes, holder: str | None
    ) -> Answer:
        base_path = self.state.specifications.base_path(api)
        relative = request.url.path[len(base_path) :]
        try:
            operation, params = _operation(api, request.method, relative)
            self.state.specifications.check_request(
                api, request.method, str(request.url), headers, body or None
            )
            call = Call(
                api=api,
                path_params=params,
                query=list(request.query_params.multi_items()),
                body=body,
                holder=holder,
                directory=self.state.directory,
                clock=self.state.clock,
                base_url=str(request.base_url).rstrip("/") + base_path,
            )
            return await operation.handler(call)
        except SpecificationViolation as violation:
            return self._refusal(api, Refused(400, "BAD_REQUEST", str(violation)))
        except Refused as refused:
            return self._refusal(api, refused)
        except GPError as error:
            return self._refusal(api, refusal_for(error))
        except Exception:  # the edge: any other failure is a 500 and a log line
            logger.exception("stand-in operation failed", extra={"api": api.value})
            return self._refusal(api, Refused(500, "INTERNAL_SERVER_ERROR", "Stand-in failure"))

    def _refusal(self, api: API, refused: Refused) -> Answer:
        return Answer(refused.status, operation_outcome(api, refused, self.state.clock.now()))

    def _checked(
        self, api: API, request: Request, headers: dict[str, str], body: bytes, answer: Answer
    ) -> _Sent:
        sent = _encode(answer, request)
        if answer.status >= 500:  # the platform's own; the documents describe none
            return sent
        try:
            self.state.specifications.check_response(
                api,
                request.method,
                str(request.url),
                headers,
                body or None,
                sent.status,
                sent.headers,
                sent.body,
            )
        except SpecificationViolation as violation:
            logger.error(
                "STAND-IN BUG: response not allowed by the %s document: %s",
                api.value,
                violation,
                extra={"api": api.value, "status": answer.status},
            )
            refused = Refused(500, "INTERNAL_SERVER_ERROR", f"Response not valid: {violation}")
            return _encode(self._refusal(api, refused), request)
        return sent

    def _response(self, api: API, answer: Answer, request: Request) -> Response:
        return self._replay(_encode(answer, request))

    @staticmethod
    def _replay(sent: _Sent) -> Response:
        return Response(sent.body, status_code=sent.status, headers=sent.headers)

    def _remember(self, key: tuple[str, ...], future: asyncio.Future[_Sent]) -> None:
        self._sent[key] = future
        while len(self._sent) > MAX_REMEMBERED:
            self._sent.popitem(last=False)


def _operation(api: API, method: str, relative: str) -> tuple[Operation, dict[str, str]]:
    allowed = False
    for operation in OPERATIONS:
        if operation.api is not api:
            continue
        params = operation.match(relative)
        if params is None:
            continue
        if operation.method == method:
            return operation, params
        allowed = True
    if allowed:
        raise Refused(405, "BAD_REQUEST", f"{method} is not allowed here")
    raise Refused(404, "NO_RECORD_FOUND", "No such operation")


def _encode(answer: Answer, request: Request) -> _Sent:
    headers = {"Content-Type": answer.content_type}
    for name in ("X-Request-ID", "X-Correlation-ID"):
        value = request.headers.get(name)
        if value:
            headers[name] = value
    if answer.status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return _Sent(answer.status, json.dumps(answer.body).encode(), headers)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


async def token_endpoint(request: Request) -> Response:
    state: StandInState = request.app.state.standin
    if state.tokens is None:
        return JSONResponse(
            {"access_token": "open-access", "token_type": "Bearer", "expires_in": 600}
        )
    if request.headers.get("content-type", "").split(";")[0] != FORM:
        body = {"error": "invalid_request", "error_description": f"send {FORM}"}
        return JSONResponse(body, status_code=400)
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    token_url = str(request.url.replace(query=""))
    try:
        return JSONResponse(await state.tokens.exchange(form, token_url.rstrip("?")))
    except TokenError as refused:
        logger.info("token exchange refused", extra={"oauth_error": refused.error})
        refusal: dict[str, Any] = {"error": refused.error, "error_description": refused.description}
        return JSONResponse(refusal, status_code=refused.status)


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app(start: Callable[[AsyncExitStack], Awaitable[StandInState]]) -> Starlette:
    """The app; `start` builds its state when it starts (closed with `stack` when it stops)."""
    gateway = Gateway()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            state = await start(stack)
            gateway.start(state)
            app.state.standin = state
            yield

    return Starlette(
        routes=[
            Route("/oauth2/token", token_endpoint, methods=["POST"]),
            Route("/_health", health, methods=["GET"]),
            Route("/{path:path}", gateway.handle, methods=METHODS),
        ],
        lifespan=lifespan,
    )
