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
        description="A new key (a UUID) for each action you intend, such as one booking. "
        "Retrying with the same key and body returns the first answer and never acts "
        "twice, even when that answer was a refusal. So after changing anything in the "
        "body (a refused booking you fix, say), send a new key: the same key with another "
        "body is `422 idempotency_key_reused`. Keys are kept for 24 hours.",
        examples=["6f1c2a1e-8d3b-4c55-9a8e-2b7f0c9d4e21"],
    ),
]
