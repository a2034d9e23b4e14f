"""The garbage collector, set for a long-running server.

Measured under load on one worker (`make bench`): CPython's default collector spent
about 7 % of the worker's CPU collecting, and each full collection walked every
object built at start-up (modules, routes, schemas), stopping the event loop for
up to 117 ms, which was most of `/healthz`'s p99. While the app serves:

- what start-up built is frozen (`gc.freeze`): it is never garbage, and no
  collection walks it again;
- the youngest generation is collected after `YOUNG_THRESHOLD` new objects rather
  than 700, so a request's short-lived objects are mostly freed by reference
  counting before any collection looks at them.

Both are undone when the app stops, so that an app started and stopped inside
another program (the tests) leaves its collector as it found it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 20_000

_before = gc.get_threshold()  # the collector's settings before the first app served
_serving = 0


@contextmanager
def serving_heap() -> Iterator[None]:
    """Freeze what exists now and collect the young less often, until the block ends.

    Apps may overlap in one process (two instances in a test): the first to start
    keeps the collector's settings and the last to stop puts them back.
    """
    global _before, _serving
    if _serving == 0:
        _before = gc.get_threshold()
        gc.set_threshold(YOUNG_THRESHOLD, *_before[1:])
    _serving += 1
    gc.freeze()
    try:
        yield
    finally:
        _serving -= 1
        if _serving == 0:
            gc.set_threshold(*_before)
            gc.unfreeze()
