"""`python -m app.audit verify`: check the audit trail's hash chain.

Prints a plain-English result; exits 0 when the chain is intact, 1 when it is
broken, 2 when the database could not be read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from sqlalchemy.exc import SQLAlchemyError

from app.audit.chain import VERIFY_BATCH_SIZE, VerificationResult, verify_chain
from app.config import Settings
from app.db import create_engine, create_sessionmaker

EXIT_INTACT = 0
EXIT_BROKEN = 1
EXIT_UNREADABLE = 2


async def _verify(database_url: str, batch_size: int) -> VerificationResult:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return await verify_chain(session, batch_size=batch_size)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.audit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser(
        "verify", help="Check every entry of the audit trail (reads DATABASE_URL)."
    )
    verify.add_argument("--batch-size", type=int, default=VERIFY_BATCH_SIZE)
    args = parser.parse_args(argv)

    try:
        result = asyncio.run(_verify(Settings().database_url, args.batch_size))
    except (SQLAlchemyError, OSError) as exc:
        # The type only: the message may carry connection details.
        print(f"Could not read the audit trail ({type(exc).__name__}).", file=sys.stderr)
        return EXIT_UNREADABLE
    print(result.describe())
    return EXIT_INTACT if result.ok else EXIT_BROKEN


if __name__ == "__main__":
    sys.exit(main())
