"""Routes the README shows as code are routes the service has, as written there."""

from __future__ import annotations

import json
import re
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
ROUTE = re.compile(
    r'@router\.(?P<method>get|post|put|patch|delete)\(\s*"(?P<path>[^"]+)",'
    r'(?:\s*summary="(?P<summary>[^"]*)")?'
)
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_each_route_in_the_readme_exists() -> None:
    readme = (PROJECT / "README.md").read_text()
    document = json.loads((PROJECT / "openapi" / "openapi.json").read_text())
    shown = [m for block in PYTHON_BLOCK.findall(readme) for m in ROUTE.finditer(block)]
    assert shown, "the README's route example has gone: update this test"
    for route in shown:
        method, path, summary = route["method"], route["path"], route["summary"]
        # Routers carry their prefix: the snippet's path is the end of the full one.
        matches = [
            operations[method]
            for full, operations in document["paths"].items()
            if full.endswith(path) and method in operations
        ]
        assert matches, f"{method.upper()} …{path} is not a route of the service"
        if summary is not None:
            assert summary in {operation.get("summary") for operation in matches}, summary
