"""The stand-in fixtures are shared with the sign-in tests."""

from tests.auth.conftest import (
    client_key_file,
    persona,
    standin_app,
    standin_settings,
    web,
)

__all__ = ["client_key_file", "persona", "standin_app", "standin_settings", "web"]
