"""No test reads the wall clock: the whole suite runs at one instant (tests/frozen.py).

A test that takes "today" from the machine passes or fails with the date it runs on;
this scan of tests/ and e2e/ stops one coming back. Use the `clock` fixture (a
`FakeClock`, at `SUITE_NOW` unless moved), `SUITE_NOW` / `SUITE_TODAY`, and
`app.clock.today(clock)` for the practice's date.
"""

from __future__ import annotations

import ast
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
SCANNED = ("tests", "e2e")
WALL_CLOCK = {"date.today", "datetime.today", "datetime.now", "datetime.utcnow"}
# These test the app's own choice of clock (the real one, FROZEN_NOW) on purpose.
CLOCK_OF_ITS_OWN = {"tests/foundation/test_clock.py"}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def wall_clock_reads(source: str, *, app_clock_may_default: bool = False) -> list[str]:
    """`line: what` for each read of the machine's clock in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        last_two = ".".join(name.split(".")[-2:])
        problem = None
        if last_two in WALL_CLOCK or name in {"time.time", "time.time_ns"}:
            problem = f"{name}() reads the machine's clock"
        elif name.split(".")[-1] == "SystemClock":
            problem = "SystemClock() is the machine's clock"
        elif (
            isinstance(node.func, ast.Attribute)
            and node.func.attr == "date"
            and isinstance(node.func.value, ast.Call)
            and _dotted(node.func.value.func).endswith(".now")
        ):
            problem = ".now().date() is UTC's date, not the practice's: use today(clock)"
        elif (
            name.split(".")[-1] == "create_app"
            and not app_clock_may_default
            and not any(keyword.arg == "clock" for keyword in node.keywords)
        ):
            problem = "create_app() without clock= runs on the machine's clock"
        if problem:
            found.append(f"{node.lineno}: {problem}")
    return found


def test_no_test_reads_the_wall_clock() -> None:
    offences = []
    for folder in SCANNED:
        for path in sorted((PROJECT / folder).rglob("*.py")):
            relative = path.relative_to(PROJECT).as_posix()
            reads = wall_clock_reads(
                path.read_text(), app_clock_may_default=relative in CLOCK_OF_ITS_OWN
            )
            offences += [f"{relative}:{read}" for read in reads]
    assert offences == [], "\n".join(offences)


def test_the_scan_finds_each_way_of_reading_the_clock() -> None:
    source = """
import datetime as dt
import time
from datetime import UTC, date, datetime
from app.clock import SystemClock
date.today()
datetime.now(UTC)
dt.datetime.utcnow()
datetime.today()
time.time()
SystemClock()
clock.now().date()
create_app(settings)
create_app(settings, clock=clock)
today(clock)
clock.now()
"""
    found = wall_clock_reads(source)
    assert [line.split(":")[0] for line in found] == [str(n) for n in range(6, 14)]
    assert wall_clock_reads("create_app(settings)", app_clock_may_default=True) == []
