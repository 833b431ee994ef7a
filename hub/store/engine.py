"""Engines for the ledger: SQLite tuned for one busy process, PostgreSQL for several.

SQLite gets WAL (readers never wait for the writer), ``synchronous=NORMAL``
(durable at each checkpoint, safe under WAL), foreign keys on and a busy timeout.
Its write transactions start with ``BEGIN IMMEDIATE``: a transaction that reads
and then writes must hold the write lock from the start, or a concurrent writer
makes it fail at commit instead of waiting its turn. Read-only work (snapshots,
the outbox relay's reads) asks for a deferred ``BEGIN`` with :data:`READ_ONLY`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

__all__ = ["READ_ONLY", "make_engine"]

#: Execution option: this connection's transactions only read (SQLite: deferred BEGIN).
READ_ONLY: Final = "sihub_read_only"
#: How long to wait for PostgreSQL to answer a connection attempt.
CONNECT_TIMEOUT: Final = timedelta(seconds=5)


def make_engine(url: str, *, busy_timeout: timedelta = timedelta(seconds=5)) -> Engine:
    """An engine for ``url`` configured as the module docstring says."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed)
        _tune_sqlite(engine, busy_timeout)
        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = int(CONNECT_TIMEOUT.total_seconds())
    # pre_ping: a replica that outlived a database restart reconnects instead of failing once.
    return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)


def _tune_sqlite(engine: Engine, busy_timeout: timedelta) -> None:
    milliseconds = int(busy_timeout.total_seconds() * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN, so we choose which kind.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {milliseconds}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
