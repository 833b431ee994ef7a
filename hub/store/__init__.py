"""Persistence of the case ledger (SQLAlchemy 2 Core, Alembic), on SQLite or PostgreSQL.

``Store.open(url)`` migrates and returns the repository; ``store.transaction()``
yields a ``Tx`` for one batch. See ``docs/storage.md``.
"""

from hub.store.audit import AuditEntry, AuditReport, Tampered
from hub.store.errors import Conflict, StoreError, Unavailable
from hub.store.records import OutboxMessage, OutboxRow, ReplayRecord
from hub.store.store import Store
from hub.store.tx import Tx

__all__ = [
    "AuditEntry",
    "AuditReport",
    "Conflict",
    "OutboxMessage",
    "OutboxRow",
    "ReplayRecord",
    "Store",
    "StoreError",
    "Tampered",
    "Tx",
    "Unavailable",
]
