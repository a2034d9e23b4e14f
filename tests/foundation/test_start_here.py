"""`make run` says where to start, at the address the cookies belong to."""

from __future__ import annotations

from collections.abc import Callable

from app.__main__ import start_here
from app.config import Settings


def test_start_here_names_docs_sign_in_and_personas_at_the_public_address(
    make_settings: Callable[..., Settings],
) -> None:
    text = start_here(make_settings(app_env="dev", public_base_url="http://127.0.0.1:9000"))
    assert "http://127.0.0.1:9000/docs" in text
    assert "http://127.0.0.1:9000/v1/auth/login?return_to=/docs" in text
    assert "python -m app.adapters.sandbox personas" in text
    assert "examples/app_sign_in.py" in text
