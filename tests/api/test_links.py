"""The OpenAPI document's links (app.api_links) lead where they say, with values that
exist: each names an operation, fills only its parameters and body fields, and takes
its values from fields the answer (or the request) it leaves from really has."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.api_links import JOURNEYS, Link

DOCUMENT: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "openapi" / "openapi.json").read_text()
)
OPERATIONS: dict[str, dict[str, Any]] = {
    operation["operationId"]: operation
    for path_item in DOCUMENT["paths"].values()
    for operation in path_item.values()
}


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def at_pointer(schema: dict[str, Any], pointer: str) -> dict[str, Any]:
    """The schema of the value `pointer` (`/items/0/slot_id`) names in an instance."""
    for part in pointer.strip("/").split("/"):
        schema = resolve(schema)
        if part.isdigit():
            schema = schema["items"]
        else:
            assert part in schema.get("properties", {}), f"no {part!r} in {pointer}"
            schema = schema["properties"][part]
    return resolve(schema)


def check_expression(expression: str, link: Link) -> None:
    source = OPERATIONS[link.source]
    if expression.startswith("$response.body#"):
        body = source["responses"][link.status]["content"]["application/json"]["schema"]
        assert at_pointer(body, expression.split("#", 1)[1]).get("type") == "string"
    else:
        location, name = expression.removeprefix("$request.").split(".", 1)
        assert {"in": location, "name": name} in [
            {"in": p["in"], "name": p["name"]} for p in source["parameters"]
        ], expression


def expressions(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [e for item in value.values() for e in expressions(item)]
    if isinstance(value, list):
        return [e for item in value for e in expressions(item)]
    return [value] if isinstance(value, str) else []


def documented(link: Link) -> Any:
    """The link as the committed document has it."""
    return OPERATIONS[link.source]["responses"][link.status]["links"][link.name]


@pytest.mark.parametrize("link", JOURNEYS, ids=lambda link: link.name)
def test_each_link_leads_where_it_says(link: Link) -> None:
    target = OPERATIONS[link.target]
    assert documented(link) == link.definition()
    names = {p["name"] for p in target.get("parameters", [])}
    required = {p["name"] for p in target.get("parameters", []) if p["in"] == "path"}
    assert required <= set(link.parameters) <= names
    for expression in link.parameters.values():
        check_expression(expression, link)
    if link.request_body is not None:
        body = resolve(target["requestBody"]["content"]["application/json"]["schema"])
        assert set(link.request_body) <= set(body["properties"])
        for expression in expressions(link.request_body):
            check_expression(expression, link)
    assert link.status.startswith("2")


def test_the_journeys_are_linked_end_to_end() -> None:
    """From the people one may act for to reading and cancelling what was made."""
    edges = {(link.source, link.target) for link in JOURNEYS}
    assert {
        ("list_linked_profiles", "search_slots"),
        ("search_slots", "book_appointment"),
        ("book_appointment", "get_appointment"),
        ("book_appointment", "cancel_appointment"),
        ("list_linked_profiles", "list_courses"),
        ("list_courses", "request_repeats"),
        ("request_repeats", "get_request"),
    } <= edges
