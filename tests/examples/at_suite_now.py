"""`python -m tests.examples.at_suite_now SCRIPT ARGS…`: run a client script whose wall
clock reads the suite's instant (and ticks on from it), as a device's clock agrees with
the service it talks to; the server under test stands at the same instant (FROZEN_NOW).
"""

from __future__ import annotations

import runpy
import sys

import time_machine

from tests.frozen import SUITE_NOW

if __name__ == "__main__":
    script, *arguments = sys.argv[1:]
    sys.argv = [script, *arguments]
    with time_machine.travel(SUITE_NOW, tick=True):
        runpy.run_path(script, run_name="__main__")
