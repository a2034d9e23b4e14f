"""What the NHS login stand-in remembers between requests, shared by every worker.

`python -m app` may run several worker processes (`WEB_CONCURRENCY`), each with a
stand-in of its own, and a browser's or an app's next request may reach any of them. A
code given out by one worker must be exchanged at another, once; a client assertion seen
by one must be refused by the rest: as NHS login behaves behind any number of servers.

The entries live in one SQLite file beside the client key (under `var/` by default).
Every worker on the machine opens it, each statement is atomic across processes, and
the app's own database and migrations carry nothing that exists only for development.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

Kind = Literal["code", "access_token", "jti", "signing_key"]

MAX_PER_KIND = 1000  # the oldest go first beyond this: the file stays small
BUSY_SECONDS = 10.0  # how long a statement waits while another worker writes

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_by_expiry ON entries (kind, expires_at);
"""


def state_file_beside(key_file: Path) -> Path:
    """Where the stand-in that trusts `key_file` keeps its state: next to that key."""
    return key_file.with_name(f"{key_file.stem}.standin.sqlite3")


class StandInStore:
    """Short-lived entries by kind and key, each with its expiry, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only, like the key beside it: it holds codes and access tokens.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def add(self, kind: Kind, key: str, value: Any, *, now: datetime, expires_at: datetime) -> bool:
        """Keep `value` under `key`; False, keeping nothing, if `key` is already there."""
        with self._connect() as db:
            self._purge(db, kind, now)
            added = db.execute(
                "INSERT OR IGNORE INTO entries VALUES (?, ?, ?, ?)",
                (kind, key, json.dumps(value), expires_at.timestamp()),
            )
            return added.rowcount == 1

    def put(self, kind: Kind, key: str, value: Any, *, now: datetime, expires_at: datetime) -> None:
        """Keep `value` under `key`, replacing what was there (and its expiry)."""
        with self._connect() as db:
            self._purge(db, kind, now)
            db.execute(
                "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)",
                (kind, key, json.dumps(value), expires_at.timestamp()),
            )

    def take(self, kind: Kind, key: str, now: datetime) -> Any | None:
        """The value under `key` if it has not expired, removed for good: single use, even
        when two workers take the same key at once."""
        with self._connect() as db:
            row = db.execute(
                "DELETE FROM entries WHERE kind = ? AND key = ? RETURNING value, expires_at",
                (kind, key),
            ).fetchone()
        if row is None or row[1] <= now.timestamp():
            return None
        return json.loads(row[0])

    def get(self, kind: Kind, key: str, now: datetime) -> Any | None:
        """The value under `key` if it has not expired."""
        with self._connect() as db:
            row = db.execute(
                "SELECT value FROM entries WHERE kind = ? AND key = ? AND expires_at > ?",
                (kind, key, now.timestamp()),
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def current(self, kind: Kind, now: datetime) -> list[Any]:
        """Every value of `kind` that has not expired."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT value FROM entries WHERE kind = ? AND expires_at > ? ORDER BY key",
                (kind, now.timestamp()),
            ).fetchall()
        return [json.loads(value) for (value,) in rows]

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # A connection per call: cheap for a local file, and nothing held across requests
        # or processes. Autocommit: each statement is its own transaction.
        with closing(sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None)) as db:
            yield db

    @staticmethod
    def _purge(db: sqlite3.Connection, kind: Kind, now: datetime) -> None:
        """Drop what has expired, and the soonest to expire beyond the cap."""
        db.execute(
            "DELETE FROM entries WHERE kind = ? AND expires_at <= ?", (kind, now.timestamp())
        )
        db.execute(
            "DELETE FROM entries WHERE kind = ? AND key NOT IN ("
            " SELECT key FROM entries WHERE kind = ? ORDER BY expires_at DESC LIMIT ?)",
            (kind, kind, MAX_PER_KIND - 1),
        )
