"""Text a GP system can store: anything else is refused at the edge, in every string.

GP systems keep what a request carries in databases and exchange it as FHIR and XML
documents. None of those can hold every Python string: PostgreSQL refuses NUL, XML 1.0
refuses the other C0 controls, U+FFFE and U+FFFF, FHIR strings refuse the C0 controls
but tab, newline and carriage return, and a lone surrogate is not text at all (it cannot
be written as UTF-8). Sent on, such a string makes the GP system refuse the call: an
answer no patient can act on, and one that must never look like an outage.

So `refuse_unstorable_text`, a dependency of the whole app that runs before any other,
answers 422 `validation_failed` for a path parameter, a query parameter (its name too)
or any string in a JSON body (keys too) that holds:

- a control character (Unicode `Cc`: U+0000 to U+001F, U+007F to U+009F), except
  tab, newline and carriage return in a body, where free text may run over lines;
- a surrogate (U+D800 to U+DFFF), or U+FFFE or U+FFFF.

Before any other dependency means before the session, the rate limits and the
acting-for context: such a request makes no GP call and spends no budget. The OpenAPI
document states the rule as a `pattern` on each string a request carries
(`LINE_PATTERN`, `TEXT_PATTERN`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from app.request_body import route_json_body

_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # Cc but tab, newline, carriage return
_NOT_TEXT = "\ufffe\uffff"
_SURROGATES = "\ud800-\udfff"

# A value on one line (a path or query parameter): no control character at all.
UNSTORABLE_IN_LINE = re.compile(f"[\t\n\r{_CONTROLS}{_NOT_TEXT}{_SURROGATES}]")
# A string in a body: free text may hold tabs and line breaks.
UNSTORABLE_IN_TEXT = re.compile(f"[{_CONTROLS}{_NOT_TEXT}{_SURROGATES}]")

# The same rules as JSON Schema patterns (ECMA-262, no `u` flag) for the OpenAPI document.
# Surrogates are left out: written there they would match each half of an emoji, and no
# UTF-8 request can carry a lone one (the service refuses one sent as a JSON escape).
LINE_PATTERN = r"^[^\u0000-\u001F\u007F-\u009F\uFFFE\uFFFF]*$"
TEXT_PATTERN = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFE\uFFFF]*$"

MESSAGE = (
    "Contains a character that cannot be accepted, such as an invisible control "
    "character. Remove it and try again."
)

Location = tuple[str | int, ...]


def _shown(name: str) -> str:
    """A name for the error's location, with its unstorable characters replaced."""
    return UNSTORABLE_IN_LINE.sub("\ufffd", name)


def _error(location: Location) -> dict[str, Any]:
    return {"type": "unstorable_text", "loc": location, "msg": MESSAGE, "input": None}


def unstorable_in_json(value: Any, location: Location) -> Iterator[dict[str, Any]]:
    """An error for each string in a parsed JSON value (object keys included) that holds
    a character no GP system can store."""
    if isinstance(value, str):
        if UNSTORABLE_IN_TEXT.search(value):
            yield _error(location)
    elif isinstance(value, dict):
        for key, item in value.items():
            key_location = (*location, _shown(str(key)))
            if isinstance(key, str) and UNSTORABLE_IN_TEXT.search(key):
                yield _error(key_location)
            yield from unstorable_in_json(item, key_location)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from unstorable_in_json(item, (*location, index))


def unstorable_in_request(
    path_params: dict[str, Any], query: list[tuple[str, str]], body: Any
) -> list[dict[str, Any]]:
    """The errors, in FastAPI's shape, for every unstorable string in a request."""
    errors = [
        _error(("path", _shown(name)))
        for name, value in path_params.items()
        if isinstance(value, str) and UNSTORABLE_IN_LINE.search(value)
    ]
    errors += [
        _error(("query", _shown(name)))
        for name, value in query
        if UNSTORABLE_IN_LINE.search(name) or UNSTORABLE_IN_LINE.search(value)
    ]
    errors += unstorable_in_json(body, ("body",))
    return errors


async def refuse_unstorable_text(request: Request) -> None:
    """Raise 422 `validation_failed` naming each string no GP system can store."""
    body = await route_json_body(request)
    errors = unstorable_in_request(
        dict(request.path_params), request.query_params.multi_items(), body
    )
    if errors:
        raise RequestValidationError(errors)
