"""The committed official documents, checked against themselves: every request and
response example each one publishes is allowed by it (where openapi-core can check it),
and the check refuses what a document does not allow."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.standin.specification import (
    API,
    SpecificationViolation,
    specifications,
)

REQUEST_ID = "5b2c1f0e-8a3b-4e6f-9c1d-2a3b4c5d6e7f"
NHS_NUMBER = "9000000009"
METHODS = ("get", "post", "put", "delete", "patch")


class _Loader(yaml.SafeLoader):
    """YAML without its timestamp type: an example's dates stay the strings sent."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@cache
def _load(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 (a SafeLoader)


def _resolve(node: Any, document: Any, here: Path) -> Any:
    """`node` with its `$ref` followed (within the document or to a file beside it)."""
    while isinstance(node, dict) and "$ref" in node:
        target, _, pointer = str(node["$ref"]).partition("#")
        if target:
            here = (here.parent / target).resolve()
            document = _load(here)
        node = document
        for part in [p for p in pointer.split("/") if p]:
            node = node[part]
    return node


def _parameters(
    operation: dict[str, Any], path_item: dict[str, Any], doc: Any, here: Path
) -> Iterator[dict[str, Any]]:
    for raw in [*path_item.get("parameters", []), *operation.get("parameters", [])]:
        yield _resolve(raw, doc, here)


def _request(api: API, path: str, method: str) -> tuple[str, dict[str, str]]:
    document = api.document
    doc = _load(document)
    path_item = doc["paths"][path]
    operation = path_item[method]
    query = []
    for parameter in _parameters(operation, path_item, doc, document):
        if parameter["in"] == "query" and parameter.get("required"):
            schema = _resolve(parameter.get("schema", {}), doc, document)
            value = parameter.get("example") or schema.get("default") or "x"
            values = value if isinstance(value, list) else [value]
            query += [f"{parameter['name']}={item}" for item in values]
    concrete = path.replace("{id}", NHS_NUMBER)
    base = specifications().base_path(api)
    url = f"http://127.0.0.1:8010{base}{concrete}" + (f"?{'&'.join(query)}" if query else "")
    headers = {"Authorization": "Bearer token", "X-Request-ID": REQUEST_ID}
    return url, headers


def _examples(content: dict[str, Any], doc: Any, here: Path) -> Iterator[tuple[str, Any]]:
    for media_type, body in content.items():
        if "example" in body:
            yield media_type, body["example"]
        for example in (body.get("examples") or {}).values():
            resolved = _resolve(example, doc, here)
            if "value" in resolved:
                yield media_type, _resolve(resolved["value"], doc, here)


def _cases() -> Iterator[Any]:
    for api in API:
        doc = _load(api.document)
        for path, path_item in doc["paths"].items():
            for method in METHODS:
                operation = path_item.get(method)
                if operation is None:
                    continue
                request_body = _resolve(operation.get("requestBody", {}), doc, api.document)
                request_examples = list(
                    _examples(request_body.get("content", {}), doc, api.document)
                )
                for index, (media_type, example) in enumerate(request_examples):
                    yield pytest.param(
                        api,
                        path,
                        method,
                        "request",
                        None,
                        media_type,
                        example,
                        id=f"{api.value}-{method}-{path}-request-{index}",
                    )
                sample = request_examples[0] if request_examples else None
                for status, response in operation.get("responses", {}).items():
                    response = _resolve(response, doc, api.document)
                    for index, (media_type, example) in enumerate(
                        _examples(response.get("content", {}), doc, api.document)
                    ):
                        code = 400 if str(status).upper() == "4XX" else int(status)
                        yield pytest.param(
                            api,
                            path,
                            method,
                            "response",
                            (code, sample),
                            media_type,
                            example,
                            id=f"{api.value}-{method}-{path}-{status}-{index}",
                        )


CASES = list(_cases())


@pytest.mark.parametrize(
    ("api", "path", "method", "kind", "response", "media_type", "example"), CASES
)
def test_every_example_is_allowed_by_its_own_document(
    api: API,
    path: str,
    method: str,
    kind: str,
    response: tuple[int, tuple[str, Any] | None] | None,
    media_type: str,
    example: Any,
) -> None:
    url, headers = _request(api, path, method)
    body = json.dumps(example).encode()
    if kind == "request":
        specifications().check_request(
            api, method, url, {**headers, "Content-Type": media_type}, body
        )
        return
    assert response is not None
    status, sample = response
    request_body = None
    if sample is not None:
        headers["Content-Type"] = sample[0]
        request_body = json.dumps(sample[1]).encode()
    specifications().check_response(
        api, method, url, headers, request_body, status, {"Content-Type": media_type}, body
    )


def test_there_are_examples_of_each_api() -> None:
    assert {case.values[0] for case in CASES} == set(API)


def test_a_response_the_document_does_not_allow_is_refused() -> None:
    url, headers = _request(API.USER_PERMISSIONS, "/Patient/{id}", "get")
    permissions = {
        "medicalRecord": {"effectiveDate": "2023-11-01", "current": {"accessLevel": "all"}},
        "prescriptions": {"accessLevel": "manage"},
    }
    with pytest.raises(SpecificationViolation, match="'all' is not one of"):
        specifications().check_response(
            API.USER_PERMISSIONS,
            "GET",
            url,
            headers,
            None,
            200,
            {"Content-Type": "application/json"},
            json.dumps(permissions).encode(),
        )


def test_a_request_the_document_does_not_allow_is_refused() -> None:
    url, headers = _request(API.PRESCRIPTIONS, "/Task", "post")
    with pytest.raises(SpecificationViolation, match="mimetype"):
        specifications().check_request(
            API.PRESCRIPTIONS, "POST", url, {**headers, "Content-Type": "text/plain"}, b"{}"
        )
    with pytest.raises(SpecificationViolation, match="X-Request-ID"):
        specifications().check_request(
            API.PRESCRIPTIONS,
            "GET",
            url.replace("/Task", f"/Patient/{NHS_NUMBER}/MedicationRequest"),
            {**headers, "X-Request-ID": "not-a-uuid"},
        )
