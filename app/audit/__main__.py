"""`python -m app.audit verify`: check the audit trail's hash chain.

Prints a plain-English result; exits 0 when the chain is intact, 1 when it is
broken, 2 when the database could not be read, 3 when the tip given is not one
this service signed. `--print-tip` also prints the signed tip to keep outside
the database; `--tip TIP` checks that the trail still holds it (so that
removing the newest entries is seen too).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from sqlalchemy.exc import SQLAlchemyError

from app.audit.chain import VERIFY_BATCH_SIZE, VerificationResult, verify_chain
from app.audit.tip import InvalidTip, Tip, read_tip, sign_tip, tip_problem
from app.config import Settings
from app.db import create_engine, create_sessionmaker

EXIT_INTACT = 0
EXIT_BROKEN = 1
EXIT_UNREADABLE = 2
EXIT_BAD_TIP = 3


async def _verify(
    database_url: str, batch_size: int, kept: Tip | None
) -> tuple[VerificationResult, str | None]:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            result = await verify_chain(session, batch_size=batch_size)
            problem = None
            if kept is not None and result.ok:
                problem = await tip_problem(session, result, kept)
            return result, problem
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.audit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser(
        "verify", help="Check every entry of the audit trail (reads DATABASE_URL)."
    )
    verify.add_argument("--batch-size", type=int, default=VERIFY_BATCH_SIZE)
    verify.add_argument(
        "--print-tip", action="store_true", help="Print the signed tip to keep elsewhere."
    )
    verify.add_argument("--tip", help="A tip printed earlier: check the trail still holds it.")
    args = parser.parse_args(argv)

    settings = Settings()
    key = settings.audit_tip_secret or ""
    if (args.print_tip or args.tip) and not key:
        print("AUDIT_TIP_KEY is not set.", file=sys.stderr)
        return EXIT_BAD_TIP
    kept = None
    if args.tip:
        try:
            kept = read_tip(key, args.tip)
        except InvalidTip as invalid:
            print(f"The tip given is {invalid}.", file=sys.stderr)
            return EXIT_BAD_TIP
    try:
        result, problem = asyncio.run(_verify(settings.database_url, args.batch_size, kept))
    except (SQLAlchemyError, OSError) as exc:
        # The type only: the message may carry connection details.
        print(f"Could not read the audit trail ({type(exc).__name__}).", file=sys.stderr)
        return EXIT_UNREADABLE
    print(result.describe())
    if problem is not None:
        print(f"The audit trail is BROKEN: {problem}.")
        return EXIT_BROKEN
    if kept is not None and result.ok:
        print(f"It still holds the kept tip (entry number {kept.sequence}).")
    if args.print_tip and result.ok and result.tip_sequence and result.tip_hash:
        print(sign_tip(key, Tip(result.tip_sequence, result.tip_hash)))
    return EXIT_INTACT if result.ok else EXIT_BROKEN


if __name__ == "__main__":
    sys.exit(main())
