"""The adapter's local state: one small SQLite file (``SIHUB_ADAPTER_STATE``).

The hub delivers at least once, so the runtime remembers what it has delivered:
``delivered`` rows move from ``delivered`` (the department system has it) to
``done`` (receipts sent, broker acked). A repeat of a ``done`` message is acked
without touching the department system; a repeat of a ``delivered`` one only
re-sends its receipts, whose ids are derived from the message (the hub drops the
second copy). Adapters keep their own small records in the ``records`` table
(tax batches and arrears files, petition time limits, case-number sequences).

Several processes may share the file (``sihub adapter run tax`` and ``sihub tax
status``): WAL mode and a busy timeout let them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

DeliveryStatus = Literal["delivered", "done"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS delivered (
    message_id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
"""
#: How long a writer waits for another process holding the file.
BUSY_TIMEOUT_SECONDS = 10.0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class StateDB:
    """The SQLite file, shared by the runtime's threads (one lock) and by other processes (WAL)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False, isolation_level=None
        )
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (``BEGIN IMMEDIATE``) so sequences cannot race."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only statement."""
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    def get(self, kind: str, key: str) -> Any:
        """The JSON value stored under ``(kind, key)``, or ``None``."""
        rows = self.query("SELECT value FROM records WHERE kind = ? AND key = ?", (kind, key))
        return json.loads(rows[0][0]) if rows else None

    def put(self, kind: str, key: str, value: Any) -> None:
        """Store ``value`` (JSON-able) under ``(kind, key)``, replacing what was there."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO records (kind, key, value, at) VALUES (?, ?, ?, ?)",
                (kind, key, json.dumps(value, ensure_ascii=False), _now()),
            )

    def update(self, kind: str, key: str, change: Callable[[Any], Any]) -> Any:
        """Replace the value under ``(kind, key)`` with ``change(old)`` (old: ``None`` if absent), atomically."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT value FROM records WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
            new = change(json.loads(row[0]) if row else None)
            db.execute(
                "INSERT OR REPLACE INTO records (kind, key, value, at) VALUES (?, ?, ?, ?)",
                (kind, key, json.dumps(new, ensure_ascii=False), _now()),
            )
        return new

    def items(self, kind: str, prefix: str = "") -> list[tuple[str, Any]]:
        """``(key, value)`` of ``kind`` whose key starts with ``prefix``, by key."""
        rows = self.query(
            "SELECT key, value FROM records WHERE kind = ? AND substr(key, 1, ?) = ? ORDER BY key",
            (kind, len(prefix), prefix),
        )
        return [(key, json.loads(value)) for key, value in rows]

    def next_number(self, sequence: str) -> int:
        """The next number of ``sequence`` (1, 2, ...), safe across threads and processes."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT value FROM records WHERE kind = 'sequence' AND key = ?", (sequence,)
            ).fetchone()
            number = (json.loads(row[0]) if row else 0) + 1
            db.execute(
                "INSERT OR REPLACE INTO records (kind, key, value, at) VALUES ('sequence', ?, ?, ?)",
                (sequence, json.dumps(number), _now()),
            )
        return number

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()


class DeliveryLog:
    """Which inbound ``message_id`` s reached the department system (dedup of at-least-once)."""

    def __init__(self, state: StateDB) -> None:
        self._state = state

    def status(self, message_id: str) -> DeliveryStatus | None:
        """``None`` (never delivered), ``delivered`` (receipts pending) or ``done``."""
        rows = self._state.query("SELECT status FROM delivered WHERE message_id = ?", (message_id,))
        if not rows:
            return None
        status: DeliveryStatus = "done" if rows[0][0] == "done" else "delivered"
        return status

    def mark(self, message_id: str, type_: str, status: DeliveryStatus) -> None:
        """Record that ``message_id`` reached ``status``."""
        with self._state.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO delivered (message_id, type, status, at) VALUES (?, ?, ?, ?)",
                (message_id, type_, status, _now()),
            )

    def count(self) -> int:
        """Messages remembered."""
        [(number,)] = self._state.query("SELECT count(*) FROM delivered")
        return int(number)
