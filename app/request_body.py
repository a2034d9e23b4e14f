"""The JSON body a route takes, for the checks that run before FastAPI validates it.

FastAPI parses a request's body before any dependency runs, but validates it only
after all of them: a dependency that acts (spends a rate-limit budget, refuses
unstorable text) reads the body here.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute


def _route(request: Request) -> APIRoute | None:
    route = request.scope.get("route")
    return route if isinstance(route, APIRoute) else None


async def route_json_body(request: Request) -> Any:
    """The parsed JSON body of a route that takes one (FastAPI has read and kept it by
    now); None for a route without a body, an empty body or one that is not JSON."""
    route = _route(request)
    if route is None or route.body_field is None or not await request.body():
        return None
    try:
        return await request.json()
    except ValueError:  # not JSON, or not UTF-8: the route's own validation answers
        return None


async def body_will_be_refused(request: Request) -> bool:
    """Whether the route will refuse this body with 422 once its dependencies have run.

    Only a JSON body that fails the route's own validation is; a body this cannot judge
    (not JSON) counts as accepted, so a check relying on this never lets one through.
    """
    route = _route(request)
    if route is None or route.body_field is None:
        return False
    body = await route_json_body(request)
    if body is None:
        return False
    _, errors = route.body_field.validate(body, {}, loc=("body",))
    return bool(errors)
