from __future__ import annotations

from typing import Annotated

from fastapi import Header

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=255,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="A unique key per intended action (a UUID is ideal). Retrying with the "
        "same key and body returns the first result and never acts twice.",
    ),
]
