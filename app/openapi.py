"""`python -m app.openapi`: print the OpenAPI document the app serves."""

from __future__ import annotations

import json
import sys

from app.config import Settings
from app.main import create_app


def openapi_document() -> str:
    app = create_app(Settings(app_env="test", _env_file=None))
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(openapi_document())
