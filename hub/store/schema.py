"""The ledger's tables (SQLAlchemy Core); ``migrations/versions`` must create exactly these.

Every table that holds a county's data carries ``county`` (GB/T 2260 code) as the
first column of its key and of its indexes: several hub replicas can serve many
counties from one PostgreSQL database, and case ids (``tax-2026-000123``), which
each county's departments choose, only need to be unique within a county.

Times are stored in UTC (:class:`UtcDateTime`): SQLite has no time-zone type, and
comparing deadlines in SQL needs one clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
)
from sqlalchemy.types import TypeDecorator

from contracts.values import DEFAULT_COUNTY_CODE

__all__ = [
    "DEFAULT_COUNTY_CODE",
    "UtcDateTime",
    "audit_heads",
    "audit_log",
    "case_departments",
    "case_sequences",
    "cases",
    "deadlines",
    "metadata",
    "outbox",
    "payment_batch_targets",
    "payment_batches",
    "processed_messages",
    "replays",
]


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored in UTC; read back aware (UTC) on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"the ledger stores aware datetimes only, got {value!r}")
        utc = value.astimezone(UTC)
        # SQLite's DATETIME drops the offset silently: hand it the UTC wall time.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Autoincrementing 64-bit ids; SQLite only aliases the rowid for ``INTEGER PRIMARY KEY``.
BigId: Final = BigInteger().with_variant(Integer(), "sqlite")
#: Short codes: departments, tiers, stages, kinds.
Code: Final = String(32)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _county(*, key: bool = True) -> Column[str]:
    """The county column; first in the primary key of every table keyed by case or batch."""
    return Column(
        "county", String(12), primary_key=key, nullable=False, server_default=DEFAULT_COUNTY_CODE
    )


def _case_fk(table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["county", "case_id"], ["cases.county", "cases.case_id"], ondelete="CASCADE",
        name=f"fk_{table}_case",
    )  # fmt: skip


cases = Table(
    "cases", metadata,
    _county(),
    Column("case_id", String(64), primary_key=True),
    Column("kind", Code, nullable=False),
    Column("stage", Code, nullable=False),
    Column("tier", Code, nullable=False),
    Column("owner", Code, nullable=False),
    Column("intake", Code, nullable=False),
    Column("coordinator", Code),
    Column("participants", JSON, nullable=False),
    Column("mode", Code, nullable=False),
    Column("registered_at", UtcDateTime, nullable=False),
    Column("stage_since", UtcDateTime),
    Column("closed_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("document", Text, nullable=False),
    Index(None, "county", "stage", "case_id"),
    Index(None, "county", "tier", "case_id"),
    Index(None, "county", "owner", "case_id"),
    Index(None, "county", "intake", "case_id"),
)  # fmt: skip

#: Who may see a case: owner, participants, coordinator and intake (one row each).
case_departments = Table(
    "case_departments", metadata,
    _county(),
    Column("case_id", String(64), primary_key=True),
    Column("department", Code, primary_key=True),
    _case_fk("case_departments"),
    Index(None, "county", "department", "case_id"),
)  # fmt: skip

deadlines = Table(
    "deadlines", metadata,
    _county(),
    Column("case_id", String(64), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("department", Code, primary_key=True),
    Column("tier", Code, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("warn_at", UtcDateTime),
    Column("warned", Boolean, nullable=False, server_default=false()),
    # timers.next_fire_time(deadline): what is due costs what is due, not what is open.
    Column("fire_at", UtcDateTime, nullable=False),
    _case_fk("deadlines"),
    Index(None, "county", "fire_at"),
    Index(None, "county", "due_at"),
)  # fmt: skip

#: Idempotency. The key leads with the message id: a lookup of a batch of ids reads the
#: key whatever the planner believes about counties (one county matches every row).
processed_messages = Table(
    "processed_messages", metadata,
    Column("message_id", String(64), primary_key=True),
    _county(),
    Column("case_id", String(64)),
    Column("processed_at", UtcDateTime, nullable=False),
    Column("outcome", String(200), nullable=False),
    Index(None, "county", "processed_at"),
)  # fmt: skip

audit_log = Table(
    "audit_log", metadata,
    _county(),
    Column("case_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("message_id", String(64), nullable=False),
    Column("type", String(64), nullable=False),
    Column("source", Code, nullable=False),
    Column("trigger", String(200), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("actor", String(200)),
    Column("note", Text),
    Column("body", LargeBinary, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index(None, "message_id"),
)  # fmt: skip

#: The last entry of each chain: where the next append links, and what truncation would break.
audit_heads = Table(
    "audit_heads", metadata,
    _county(),
    Column("case_id", String(64), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)  # fmt: skip

outbox = Table(
    "outbox", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _county(key=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("exchange", String(255), nullable=False),
    Column("routing_key", String(255), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("message_id", String(64), nullable=False),
    Column("sent_at", UtcDateTime),
)  # fmt: skip
#: Unsent rows in id order: the relay's query reads only what it will publish.
Index(
    "ix_outbox_unsent", outbox.c.county, outbox.c.id,
    sqlite_where=outbox.c.sent_at.is_(None), postgresql_where=outbox.c.sent_at.is_(None),
)  # fmt: skip

payment_batches = Table(
    "payment_batches", metadata,
    _county(),
    Column("batch_id", String(64), primary_key=True),
    Column("source", Code, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("completed_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("state", JSON, nullable=False),
)  # fmt: skip

#: One row per recipient of a batch, so that "awaiting receipt" is an aggregate, not a JSON scan.
payment_batch_targets = Table(
    "payment_batch_targets", metadata,
    _county(),
    Column("batch_id", String(64), primary_key=True),
    Column("target", Code, primary_key=True),
    Column("due_at", UtcDateTime, nullable=False),
    Column("receipted", Boolean, nullable=False),
    ForeignKeyConstraint(
        ["county", "batch_id"], ["payment_batches.county", "payment_batches.batch_id"],
        ondelete="CASCADE", name="fk_payment_batch_targets_batch",
    ),
    Index(None, "county", "receipted", "target"),
)  # fmt: skip

#: Counters for hub-assigned case ids ``<dept>-<yyyy>-<seq>``.
case_sequences = Table(
    "case_sequences", metadata,
    _county(),
    Column("department", Code, primary_key=True),
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("value", Integer, nullable=False),
)  # fmt: skip

replays = Table(
    "replays", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _county(key=False),
    Column("message_id", String(64), nullable=False),
    Column("replayed_at", UtcDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("outcome", String(200), nullable=False),
    Index(None, "message_id"),
)  # fmt: skip


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC (as the store reads it back); refuses a naive datetime."""
    if moment.utcoffset() is None:
        raise ValueError(f"the ledger stores aware datetimes only, got {moment!r}")
    return moment.astimezone(UTC)
