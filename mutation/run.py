"""`make mutation`: mutmut over the security- and safety-critical modules, one at a time.

Each module is mutated on its own with only the tests written for it (fast, SQLite),
so a module takes minutes and its score says how well *those* tests pin it down.
Survivors that are only log text or truly equivalent are listed, with the reason, in
`mutation/allowlist.txt`; the report shows the raw score and the score without them.

    python mutation/run.py                      # every module
    python mutation/run.py oidc rules           # some of them
    python mutation/run.py --max-children 1     # one worker (a busy machine)

mutmut keeps its work in `mutants/` (fixed by mutmut, git-ignored) and this script
keeps each module's log and results in `var/mutation/`.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWLIST = ROOT / "mutation" / "allowlist.txt"
WORK = ROOT / "var" / "mutation"
MUTANTS = ROOT / "mutants"
TARGET_SCORE = 90.0
POSTGRES_VARIABLES = frozenset({"TEST_DATABASE_URL", "REQUIRE_POSTGRES"})


@dataclass(frozen=True)
class Target:
    path: str
    tests: tuple[str, ...]


# Each module and the tests written to pin it down. Keep each selection to seconds:
# every surviving mutant runs all the selected tests that reach its function.
MODULES: dict[str, Target] = {
    "oidc": Target(
        "app/auth/oidc.py",
        ("tests/auth/test_oidc_relying_party.py",),
    ),
    "auth-deps": Target(
        "app/auth/deps.py",
        ("tests/auth/test_auth_deps.py",),
    ),
    "rules": Target(
        "app/patients/rules.py",
        ("tests/patients/test_rules.py", "tests/patients/test_rule_boundaries.py"),
    ),
    "patient-deps": Target(
        "app/patients/deps.py",
        ("tests/patients/test_acting_for.py",),
    ),
    "appointments": Target(
        "app/appointments/service.py",
        ("tests/appointments/test_service_on_its_own.py", "tests/appointments/test_paginate.py"),
    ),
    "idempotency": Target(
        "app/idempotency/service.py",
        ("tests/idempotency/test_run_once.py",),
    ),
    "record-policy": Target(
        "app/records/policy.py",
        ("tests/records/test_policy.py", "tests/records/test_policy_pages.py"),
    ),
}


# --- allow-list -----------------------------------------------------------------------


def function_of(mutant: str) -> str:
    """`app.x.x_f__mutmut_3` → `app.x.x_f`: mutants are numbered per function."""
    return mutant.partition("__mutmut_")[0]


def module_of(mutant: str) -> str:
    """`app.x.x_f__mutmut_3` → `app.x`."""
    return function_of(mutant).rpartition(".")[0]


def digest(diff: str) -> str:
    """What the mutant changes, without line numbers or context: survives unrelated edits."""
    changed = [
        line[0] + line[1:].strip()
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    return hashlib.sha256("\n".join(changed).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class Allowed:
    mutant: str
    digest: str
    reason: str


def read_allowlist() -> list[Allowed]:
    """`<mutant> <digest> <why>` per line; `#` starts a comment."""
    entries = []
    for number, raw in enumerate(ALLOWLIST.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(maxsplit=2)
        if len(parts) < 3:
            sys.exit(f"{ALLOWLIST.name}:{number}: expected '<mutant> <digest> <why>'")
        entries.append(Allowed(*parts))
    return entries


# --- one module, in a child process ---------------------------------------------------


def run_child(name: str, max_children: int) -> None:
    """Run mutmut over one module and write every mutant's status (and diff) as JSON."""
    from mutmut import configuration
    from mutmut.__main__ import cli
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    target = MODULES[name]
    # mutmut reads its settings from pyproject.toml; the module and its tests are set here.
    configuration._config = dataclasses.replace(
        configuration.config(),
        only_mutate=[target.path],
        pytest_add_cli_args_test_selection=list(target.tests),
    )
    cli.main(["run", "--max-children", str(max_children)], standalone_mode=False)

    data = SourceFileMutationData(path=target.path)
    data.load()
    results = {}
    for mutant, exit_code in data.exit_code_by_key.items():
        status = status_by_exit_code[exit_code]
        diff = "" if status == "killed" else get_diff_for_mutant(mutant, path=target.path)
        results[mutant] = {"status": status, "diff": diff}
    (WORK / f"{name}.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))


def run_module(name: str, max_children: int) -> float:
    """mutmut over one module from a clean `mutants/`; returns the seconds it took."""
    shutil.rmtree(MUTANTS, ignore_errors=True)
    (WORK / f"{name}.json").unlink(missing_ok=True)
    # SQLite only: a mutant run is about the module's logic, not the database.
    env = {k: v for k, v in os.environ.items() if k not in POSTGRES_VARIABLES}
    command = [sys.executable, __file__, "--child", name, "--max-children", str(max_children)]
    started = time.monotonic()
    with (WORK / f"{name}.log").open("w") as log:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    seconds = time.monotonic() - started
    if done.returncode != 0 or not (WORK / f"{name}.json").exists():
        tail = (WORK / f"{name}.log").read_text()[-3000:]
        sys.exit(f"mutmut failed on {name} (exit {done.returncode}); the end of its log:\n{tail}")
    return seconds


# --- the report -------------------------------------------------------------------------


@dataclass
class Score:
    name: str
    total: int
    killed: int
    allowed: int
    survivors: dict[str, str]  # not killed and not allow-listed: mutant → diff
    seconds: float | None

    @property
    def raw(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 100.0

    @property
    def adjusted(self) -> float:
        needed = self.total - self.allowed
        return 100.0 * self.killed / needed if needed else 100.0


# A timeout means the mutant hung the tests: detected, as a kill is.
DETECTED = {"killed", "timeout"}


def score(name: str, allowlist: list[Allowed], used: set[Allowed], seconds: float | None) -> Score:
    results = json.loads((WORK / f"{name}.json").read_text())
    by_change = {(function_of(a.mutant), a.digest): a for a in allowlist}
    killed = allowed = 0
    survivors = {}
    for mutant, result in results.items():
        entry = by_change.get((function_of(mutant), digest(result["diff"])))
        if result["status"] in DETECTED:
            killed += 1
        elif entry is not None:
            allowed += 1
            used.add(entry)
        else:
            survivors[mutant] = f"{result['status']}\n{result['diff']}"
    return Score(name, len(results), killed, allowed, survivors, seconds)


def report(scores: list[Score], allowlist: list[Allowed], used: set[Allowed]) -> bool:
    for s in scores:
        for mutant, detail in s.survivors.items():
            status, _, diff = detail.partition("\n")
            print(f"\n--- {status}: {mutant}\n{diff}")
            print(f"allow-list line, if truly equivalent: {mutant} {digest(diff)} <why>")
    modules = {MODULES[s.name].path.removesuffix(".py").replace("/", ".") for s in scores}
    stale = [a for a in allowlist if a not in used and module_of(a.mutant) in modules]
    for entry in stale:
        print(
            "\nallow-list entry matches no surviving mutant (killed now, or the code changed): "
            f"{entry.mutant} {entry.digest}"
        )
    print(
        f"\n{'module':<30}{'killed':>14}{'allow-listed':>14}{'raw':>9}{'adjusted':>10}{'time':>8}"
    )
    ok = True
    for s in scores:
        took = f"{s.seconds:.0f}s" if s.seconds is not None else "-"
        print(
            f"{MODULES[s.name].path:<30}{f'{s.killed}/{s.total}':>14}{s.allowed:>14}"
            f"{s.raw:>8.1f}%{s.adjusted:>9.1f}%{took:>8}"
        )
        ok = ok and s.adjusted >= TARGET_SCORE
    print(f"\ntarget: {TARGET_SCORE:.0f}% of the mutants that need a kill, on each module")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "modules", nargs="*", metavar="MODULE", help=f"any of: {', '.join(MODULES)} (default: all)"
    )
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="score the last results in var/mutation/ again, without running mutmut",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    unknown = set(args.modules) - set(MODULES)
    if unknown:
        parser.error(f"unknown {', '.join(sorted(unknown))}; choose from {', '.join(MODULES)}")
    if args.child:
        run_child(args.child, args.max_children)
        return
    WORK.mkdir(parents=True, exist_ok=True)
    allowlist = read_allowlist()
    used: set[Allowed] = set()
    scores = []
    for name in args.modules or list(MODULES):
        seconds = None if args.report_only else run_module(name, args.max_children)
        scores.append(score(name, allowlist, used, seconds))
        print(f"{name}: {scores[-1].killed}/{scores[-1].total} killed", flush=True)
    if not report(scores, allowlist, used):
        sys.exit(1)


if __name__ == "__main__":
    main()
