"""The one instant the whole test suite runs at: every clock, the sandbox seed, and the
servers started in processes of their own (`FROZEN_NOW`).

23:30 UTC on Wednesday 14 October 2026 is 00:30 BST on Thursday 15 October in England:
the UTC date and the date at the practice differ, so anything that takes "today" from
UTC instead of Europe/London (a child's 16th birthday, a proxy's end date) is a day out
and a test says so. UK clocks go back (BST to GMT) on Sunday 25 October, ten days later:
inside every sandbox practice's booking window and default slot search, so slots and
appointments on both sides of the change are listed, booked and shown. The instant is in
the past, and stays on the same side of the wall clock for good, so nothing that leaks
the real time can pass today and fail on a later date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from app.clock import LONDON

SUITE_NOW = datetime(2026, 10, 14, 23, 30, tzinfo=UTC)
SUITE_TODAY: date = SUITE_NOW.astimezone(LONDON).date()  # 15 October 2026
# The Sunday UK clocks go back: 02:00 BST becomes 01:00 GMT.
CLOCKS_GO_BACK = date(2026, 10, 25)
