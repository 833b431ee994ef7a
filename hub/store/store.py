"""The case ledger's repository: one :class:`Store` per process, a :class:`Tx` per transaction.

``Store`` is thread-safe (it holds an engine and its connection pool); each
``transaction()`` gives a :class:`Tx` for one thread. Everything the store raises
for a database fault is a :class:`StoreError` (see :mod:`hub.store.errors` for the
tree): callers retry :class:`Conflict` by re-applying the batch and
:class:`Unavailable` after a pause, and never see a driver's exception.

The outbox relay works outside case transactions: :meth:`Store.pending_outbox`,
:meth:`Store.mark_sent`, :meth:`Store.outbox_backlog`. What this process commits to
the outbox also reaches the relay in memory through :attr:`Store.outbox_feed`, and
the relay's confirmed ids are marked sent by the next write transaction in passing
(see :mod:`hub.store.outbox_feed`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from alembic.util import CommandError
from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.engine import make_url

from hub.domain.calendar import WorkCalendar
from hub.domain.durations import COUNTY_TZ
from hub.metrics import LedgerSnapshot
from hub.store import migrate as migrations
from hub.store import queries
from hub.store.audit import AuditReport, Tampered
from hub.store.chains import read_report
from hub.store.engine import READ_ONLY, make_engine
from hub.store.errors import Conflict, StoreError, Unavailable, translated, translating
from hub.store.outbox_feed import Marks, OutboxFeed
from hub.store.records import OutboxMessage, OutboxRow, ReplayRecord
from hub.store.schema import (
    DEFAULT_COUNTY_CODE,
    deadlines,
    outbox,
    processed_messages,
    replays,
)
from hub.store.snapshot import next_workday_end, read_snapshot
from hub.store.tx import Tx, write_marks
from hub.store.tx_extras import insert_replay

#: Tables read by key on the message path: the planner needs statistics for them early.
HOT_TABLES: Final = (
    "cases", "audit_heads", "audit_log", "processed_messages", "deadlines", "case_departments", "outbox",
    "payment_batches", "payment_batch_targets",
)  # fmt: skip
#: Rows a never-analyzed table holds before :meth:`Store.refresh_statistics` analyzes it.
STATISTICS_MIN_ROWS: Final = 200

__all__ = [
    "Conflict",
    "OutboxClaim",
    "OutboxMessage",
    "OutboxRow",
    "ReplayRecord",
    "Store",
    "StoreError",
    "Tx",
    "Unavailable",
]

_COUNTY: Final = re.compile(r"\d{6}")
_BACKENDS: Final = frozenset({"sqlite", "postgresql"})


class Store:
    """The ledger of one county in one database (see the module docstring)."""

    def __init__(
        self, engine: Engine, *, county: str, calendar: WorkCalendar, tz: ZoneInfo, owns_engine: bool
    ) -> None:
        _check_county(county)
        self._engine = engine
        self._county = county
        self._calendar = calendar
        self._tz = tz
        self._owns_engine = owns_engine
        #: Committed outbox rows for this process's relay, and its confirmed ids to mark.
        self.outbox_feed = OutboxFeed()

    @classmethod
    def open(
        cls,
        url: str,
        *,
        migrate: bool = True,
        county: str = DEFAULT_COUNTY_CODE,
        calendar: WorkCalendar | None = None,
        tz: ZoneInfo = COUNTY_TZ,
        busy_timeout: timedelta = timedelta(seconds=5),
    ) -> Store:
        """Connect to ``url`` and bring its schema to the head revision (unless ``migrate=False``,
        in which case a schema that is not at head is refused).

        ``calendar`` counts "the next working day" for the gauges (default: the
        ``chinesecalendar`` seed); ``busy_timeout`` is how long SQLite waits for a lock.

        Raises:
            Unavailable: the database cannot be reached.
            StoreError: the schema cannot be migrated, or is not at head.
            ValueError: ``url`` is not SQLite or PostgreSQL, or ``county`` is malformed.
        """
        backend = make_url(url).get_backend_name()
        if backend not in _BACKENDS:
            raise ValueError(f"the ledger runs on SQLite or PostgreSQL, not {backend!r}")
        _check_county(county)
        engine = make_engine(url, busy_timeout=busy_timeout)
        store = cls(engine, county=county, calendar=calendar or WorkCalendar.from_chinesecalendar(),
                    tz=tz, owns_engine=True)  # fmt: skip
        try:
            with translated():
                if migrate:
                    migrations.upgrade(engine)
                else:
                    migrations.check_current(engine)
        except CommandError as error:
            engine.dispose()
            raise StoreError(f"migrating the ledger failed: {error}") from error
        except BaseException:
            engine.dispose()
            raise
        return store

    def for_county(self, county: str) -> Store:
        """The ledger of another county in the same database, sharing this store's connections."""
        return Store(self._engine, county=county, calendar=self._calendar, tz=self._tz, owns_engine=False)

    @property
    def county(self) -> str:
        """The GB/T 2260 code of the county this store reads and writes."""
        return self._county

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for operators' tools and tests; the API is this class)."""
        return self._engine

    def close(self) -> None:
        """Close every pooled connection (a store made by :meth:`for_county` leaves them open)."""
        if self._owns_engine:
            self._engine.dispose()

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Tx]:
        """One database transaction, committed when the block ends without an exception.

        A ``read_only`` transaction (listing for the API, reports) does not queue
        behind writers on SQLite; writing in one fails.

        Raises:
            Conflict: at commit, a case saved in the block changed under it (retry the batch).
            Unavailable: the database is unreachable or locked.
        """
        marking: AbstractContextManager[list[Marks]] = nullcontext([]) if read_only else self._carrying_marks()
        with (
            marking as marks,
            translated(),
            self._connect(read_only) as connection,
            connection.begin(),
        ):
            tx = Tx(connection, self._county)
            yield tx
            tx.flush()
            if marks:
                tx.mark_sent(marks)
        if tx.outbox_written:
            self.outbox_feed.offer(tx.outbox_written)

    @contextmanager
    def _carrying_marks(self) -> Iterator[list[Marks]]:
        """The relay's confirmed ids, for the block to mark sent: forgotten by the feed once the
        block has committed them, given back to it if the block fails."""
        marks = self.outbox_feed.take_marks()
        try:
            yield marks
        except BaseException:
            self.outbox_feed.restore_marks(marks)
            raise
        self.outbox_feed.marked(marks)

    @contextmanager
    def _connect(self, read_only: bool) -> Iterator[Connection]:
        with self._engine.connect() as plain:
            # SQLite: a deferred BEGIN (engine.py); PostgreSQL: SET TRANSACTION READ ONLY.
            options = {READ_ONLY: True, "postgresql_readonly": True} if read_only else {}
            yield plain.execution_options(**options) if options else plain

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._connect(read_only=True) as connection, connection.begin():
            yield connection

    # -- gauges --------------------------------------------------------------------------

    @translating
    def ledger_snapshot(self, now: datetime) -> LedgerSnapshot:
        """The ledger gauges as of ``now`` (implements ``hub.metrics.LedgerGaugeSource``)."""
        horizon = next_workday_end(now, self._calendar, self._tz)
        with self._reading() as connection:
            return read_snapshot(connection, self._county, now, horizon, self._calendar.fallback_years)

    # -- outbox (the relay) ----------------------------------------------------------------

    @translating
    def pending_outbox(self, limit: int) -> list[OutboxRow]:
        """Up to ``limit`` unsent outbox rows, in id order."""
        with self._reading() as connection:
            return [_outbox_row(row) for row in connection.execute(queries.unsent_outbox(self._county).limit(limit))]

    @translating
    def unsent_outbox_ids(self, limit: int, *, after_id: int = 0) -> list[int]:
        """Up to ``limit`` ids of unsent outbox rows above ``after_id``, in order (no bodies read)."""
        query = queries.unsent_outbox(self._county, outbox.c.id, after_id=after_id).limit(limit)
        with self._reading() as connection:
            return list(connection.scalars(query))

    @translating
    def outbox_rows(self, ids: Sequence[int]) -> list[OutboxRow]:
        """The unsent outbox rows among ``ids``, whole, in id order."""
        if not ids:
            return []
        with self._reading() as connection:
            return [_outbox_row(row) for row in connection.execute(queries.unsent_outbox(self._county, ids=ids))]

    @translating
    def mark_sent(self, ids: Sequence[int], sent_at: datetime | None = None) -> None:
        """Mark outbox rows as confirmed by the broker."""
        if not ids:
            return
        with self._engine.begin() as connection:
            write_marks(connection, self._county, [Marks(sent_at or datetime.now(UTC), tuple(ids))])

    def mark_confirmed(self) -> int:
        """Mark the relay's confirmed rows sent now, in a transaction of their own; how many.

        Raises:
            Unavailable: the database is unreachable or locked (the marks are kept).
        """
        with self._carrying_marks() as marks:
            if marks:
                with translated(), self._engine.begin() as connection:
                    write_marks(connection, self._county, marks)
        return sum(len(m.ids) for m in marks)

    @property
    def locks_outbox(self) -> bool:
        """Whether relays claim outbox rows with row locks (PostgreSQL: several hubs may share
        the ledger) rather than trusting the in-memory feed of one process (SQLite)."""
        return self._engine.dialect.name == "postgresql"

    @contextmanager
    def claim_outbox(self, ids: Sequence[int] | None = None, limit: int = 500) -> Iterator[OutboxClaim]:
        """Lock unsent outbox rows for the block (PostgreSQL); mark the ones it reports sent.

        ``ids``: of these rows (the feed's), the ones still unsent and held by no other
        relay; ``None``: up to ``limit`` of the oldest such rows, read whole (a sweep).
        The rows stay locked, so no other hub publishes them, until the block ends; the
        ids given to :meth:`OutboxClaim.sent` are marked sent in the same transaction.
        If the block raises, nothing is marked and the rows are unlocked for a later try.

        Raises:
            Unavailable: the database is unreachable.
            StoreError: not PostgreSQL (see :attr:`locks_outbox`).
        """
        if not self.locks_outbox:
            raise StoreError("outbox rows are claimed with row locks on PostgreSQL only")
        with translated(), self._engine.connect() as connection, connection.begin():
            query = queries.claim_outbox(self._county, ids, limit if ids is None else max(1, len(ids)))
            if ids is not None:
                claim = OutboxClaim(frozenset(connection.scalars(query)), [])
            else:
                rows = [_outbox_row(row) for row in connection.execute(query)]
                claim = OutboxClaim(frozenset(r.id for r in rows), rows)
            yield claim
            write_marks(connection, self._county, claim.marks)

    @translating
    def outbox_backlog(self) -> tuple[int, datetime | None]:
        """How many outbox rows are unsent, and when the oldest of them was written."""
        query = select(func.count(), func.min(outbox.c.created_at)).where(
            outbox.c.county == self._county, outbox.c.sent_at.is_(None)
        )
        with self._reading() as connection:
            count, oldest = connection.execute(query).one()
        return int(count), oldest

    @translating
    def next_fire_time(self) -> datetime | None:
        """The earliest time a deadline of the county has something to fire (None: no deadline)."""
        query = select(func.min(deadlines.c.fire_at)).where(deadlines.c.county == self._county)
        with self._reading() as connection:
            earliest: datetime | None = connection.execute(query).scalar_one()
        return earliest

    @translating
    def refresh_statistics(self, min_rows: int = STATISTICS_MIN_ROWS) -> list[str]:
        """ANALYZE the ledger's tables PostgreSQL has never analyzed, once they hold ``min_rows``.

        Until a table has statistics the planner takes ``county = $1`` for a selective
        condition, and psycopg's prepared statements keep the generic plans made then:
        case, chain-head and processed-id lookups scanned every row of the county, so a
        fresh ledger got slower with each message (``python -m bench api`` on PostgreSQL:
        p99 29 ms after 10 s, 101 ms after 60 s) until autovacuum's first ANALYZE, a
        minute or more later. ANALYZE invalidates the cached plans. Autovacuum keeps the
        statistics from then on; this only closes that first gap (a new ledger, or one
        restored from a dump). Nothing to do on SQLite. The names analyzed.
        """
        if self._engine.dialect.name != "postgresql":
            return []
        with self._engine.connect() as connection:
            names = list(connection.scalars(queries.never_analyzed(), {"names": list(HOT_TABLES), "min_rows": min_rows}))
            for name in names:  # names of our own tables, from the catalogue: safe to quote
                connection.exec_driver_sql(f'ANALYZE "{name}"')
            connection.commit()
        return names

    @translating
    def purge(self, before: datetime) -> tuple[int, int]:
        """Delete outbox rows sent and message ids processed before ``before``; the counts.

        A message id purged here is no longer recognised as a duplicate: keep ``before``
        well beyond any redelivery window.
        """
        with self._engine.begin() as connection:
            sent = connection.execute(
                delete(outbox).where(outbox.c.county == self._county, outbox.c.sent_at < before)
            ).rowcount
            processed = connection.execute(
                delete(processed_messages).where(
                    processed_messages.c.county == self._county, processed_messages.c.processed_at < before
                )
            ).rowcount
        return int(sent), int(processed)

    # -- audit -----------------------------------------------------------------------------

    @translating
    def audit_report(self, case_id: str | None = None) -> AuditReport:
        """Verify one case's chain, or every chain of the county, reading one chain at a time."""
        with self._reading() as connection:
            return read_report(connection, self._county, case_id)

    def verify_audit(self, case_id: str | None = None) -> list[Tampered]:
        """The first tampered entry of each chain that does not verify (empty when all do)."""
        return list(self.audit_report(case_id).tampered)

    # -- replays ---------------------------------------------------------------------------

    @translating
    def record_replay(
        self, message_id: str, *, actor: str, reason: str, outcome: str,
        replayed_at: datetime | None = None,
    ) -> int:  # fmt: skip
        """Record, in a transaction of its own, that ``actor`` replayed a message and why; its id."""
        with self._engine.begin() as connection:
            return insert_replay(connection, self._county, message_id, actor, reason, outcome,
                                 replayed_at or datetime.now(UTC))  # fmt: skip

    @translating
    def replays_of(self, message_id: str) -> list[ReplayRecord]:
        """Every recorded replay of ``message_id``, oldest first."""
        query = (
            select(replays)
            .where(replays.c.county == self._county, replays.c.message_id == message_id)
            .order_by(replays.c.id)
        )
        with self._reading() as connection:
            return [
                ReplayRecord(row.id, row.message_id, row.replayed_at, row.actor, row.reason, row.outcome)
                for row in connection.execute(query)
            ]


@dataclass
class OutboxClaim:
    """Outbox rows locked by :meth:`Store.claim_outbox`, and those the holder got confirmed."""

    ids: frozenset[int]  # the rows held
    rows: list[OutboxRow]  # read whole (a sweep), in id order; empty when claimed by id
    marks: list[Marks] = field(default_factory=list)  # marked sent when the claim ends

    def sent(self, ids: Sequence[int], sent_at: datetime) -> None:
        """The broker confirmed these rows: mark them sent when the claim ends.

        Raises:
            ValueError: an id is not one of the rows held.
        """
        strays = set(ids) - self.ids
        if strays:
            raise ValueError(f"outbox rows {sorted(strays)} are not held by this claim")
        if ids:
            self.marks.append(Marks(sent_at, tuple(ids)))


def _outbox_row(row: Any) -> OutboxRow:
    return OutboxRow(
        exchange=row.exchange, routing_key=row.routing_key, body=bytes(row.body),
        headers=dict(row.headers), message_id=row.message_id, created_at=row.created_at,
        id=row.id, sent_at=row.sent_at,
    )  # fmt: skip


def _check_county(county: str) -> None:
    if not _COUNTY.fullmatch(county):
        raise ValueError(f"county must be a six-digit GB/T 2260 code, not {county!r}")
