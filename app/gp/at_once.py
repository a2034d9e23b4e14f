"""GP calls made at once, failing as one GP error.

Reads the GP system answers independently (a patient's courses and their requests)
are asked at once. `asyncio.TaskGroup` reports failures as an `ExceptionGroup`;
here it becomes the one GP error that tells the patient most (`most_telling`), so
callers and the problem handlers see a domain error as from any other call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from app.gp.errors import most_telling

A = TypeVar("A")
B = TypeVar("B")


async def both(first: Coroutine[Any, Any, A], second: Coroutine[Any, Any, B]) -> tuple[A, B]:
    """Both results, or the most telling GP error when either call fails."""
    try:
        async with asyncio.TaskGroup() as group:
            first_task = group.create_task(first)
            second_task = group.create_task(second)
    except ExceptionGroup as failed:
        error = most_telling(failed)
        if error is None:
            raise
        raise error from failed
    return first_task.result(), second_task.result()
