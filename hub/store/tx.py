"""One ledger transaction: cases, deadlines, idempotency, audit and outbox, written in bulk.

Writes are buffered and flushed with one ``executemany`` per table when the
transaction commits (or before a query that must see them): a batch of a few
hundred messages costs a handful of statements, not a few per message. Reads see
the transaction's own writes: :meth:`Tx.load_case` returns the newest saved
version, :meth:`Tx.seen` counts ids marked in this transaction.

A ``Tx`` belongs to one thread; a :class:`~hub.store.store.Store` hands out one per
``transaction()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from hub.domain.model import Case, Deadline
from hub.store import bulk, codec, queries
from hub.store.audit import GENESIS, AuditEntry, entry_hash
from hub.store.case_writes import Tracked, write_cases
from hub.store.errors import Conflict, translating
from hub.store.outbox_feed import Marks
from hub.store.records import OutboxMessage, OutboxRow
from hub.store.rows import (
    audit_entry,
    deadline_from_row,
    deadline_key,
    departments_of,
)
from hub.store.schema import (
    audit_log,
    outbox,
    processed_messages,
)
from hub.store.tx_extras import TxExtras

__all__ = ["Tx"]


@dataclass
class _Pending:
    processed: dict[str, dict[str, Any]] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)  # chain heads to record
    outbox: list[OutboxMessage] = field(default_factory=list)


class Tx(TxExtras):
    """The repository inside one database transaction (see the module docstring)."""

    def __init__(self, connection: Connection, county: str) -> None:
        super().__init__(connection, county)
        self._cases: dict[str, Tracked] = {}
        self._heads: dict[str, tuple[int, str]] = {}  # known chain heads: (seq, hash)
        self._pending = _Pending()
        #: Outbox rows written so far, with their ids: the relay gets them once this commits.
        self.outbox_written: list[OutboxRow] = []

    # -- idempotency ---------------------------------------------------------------------

    @translating
    def seen(self, message_ids: Sequence[str]) -> set[str]:
        """Which of ``message_ids`` were processed already (committed, or in this transaction)."""
        wanted = set(message_ids)
        found = wanted & self._pending.processed.keys()
        rest = list(wanted - found)
        if rest:
            found.update(self._connection.scalars(queries.seen(self._dialect), {"county": self._county, "ids": rest}))
        return found

    def mark_processed(self, message_id: str, case_id: str | None, outcome: str) -> None:
        """Record ``message_id`` as processed (``applied`` or ``refused:<reason>``).

        Raises:
            Conflict: the id is already marked in this transaction; a committed mark
                surfaces as :class:`Conflict` at commit.
        """
        if message_id in self._pending.processed:
            raise Conflict(f"message {message_id} is marked processed twice in one transaction")
        self._pending.processed[message_id] = {
            "county": self._county, "message_id": message_id, "case_id": case_id,
            "processed_at": _now(), "outcome": outcome,
        }  # fmt: skip

    # -- cases ---------------------------------------------------------------------------

    def load_case(self, case_id: str, *, lock: bool = False) -> Case | None:
        """The case as this transaction sees it; ``lock`` takes a row lock on PostgreSQL."""
        return self.load_cases([case_id], lock=lock).get(case_id)

    @translating
    def load_cases(self, case_ids: Sequence[str], *, lock: bool = False) -> dict[str, Case]:
        """Several cases in one query (those that exist), as :meth:`load_case` would give them."""
        missing = [c for c in dict.fromkeys(case_ids) if c not in self._cases]
        if missing:
            self._fetch(missing, lock)
        found = {c: self._cases[c].current for c in case_ids}
        return {c: case for c, case in found.items() if case is not None}

    def _fetch(self, case_ids: list[str], lock: bool) -> None:
        query = queries.cases_with_heads(self._dialect, lock=lock and self._dialect == "postgresql")
        for case_id in case_ids:
            self._cases[case_id] = Tracked(0, {}, frozenset())
        absent = set(case_ids)
        for case_id, document, seq, head_hash in self._connection.execute(
            query, {"county": self._county, "ids": case_ids}
        ):
            case = codec.loads(document)
            deadlines_now = {deadline_key(d): d for d in case.deadlines}
            self._cases[case_id] = Tracked(case.version, deadlines_now, departments_of(case), case)
            # The head came with the case: appending to its chain needs no further query.
            self._heads.setdefault(case_id, (seq, head_hash) if seq is not None else (0, GENESIS))
            absent.discard(case_id)
        if absent:  # about to be registered, most likely: learn their chains' heads now, at once
            self._fetch_heads(sorted(absent))

    def _fetch_heads(self, case_ids: list[str]) -> None:
        wanted = [c for c in case_ids if c not in self._heads]
        if not wanted:
            return
        for case_id in wanted:
            self._heads[case_id] = (0, GENESIS)
        for case_id, seq, head_hash in self._connection.execute(
            queries.chain_heads(self._dialect), {"county": self._county, "ids": wanted}
        ):
            self._heads[case_id] = (seq, head_hash)

    def save_case(self, case: Case) -> None:
        """Save ``case``, whose ``version`` is the new one (1 for a new case).

        The write happens at commit: an ``UPDATE … WHERE version = case.version - 1`` (or
        an ``INSERT`` for version 1), with the deadline and department rows brought in
        line with the case.

        Raises:
            Conflict: the version does not follow the one this transaction holds; one
                that does not follow the database's surfaces at commit.
        """
        tracked = self._cases.get(case.case_id)
        if case.version < 1:
            raise ValueError(f"case {case.case_id}: versions start at 1, got {case.version}")
        if tracked is None:
            fresh = case.version == 1
            tracked = Tracked(case.version - 1, {} if fresh else None, frozenset() if fresh else None)
            self._cases[case.case_id] = tracked
        held = tracked.current.version if tracked.current is not None else tracked.base_version
        if case.version != held + 1:
            raise Conflict(f"case {case.case_id}: saving version {case.version} over version {held}")
        tracked.current = case
        tracked.dirty = True

    # -- audit ---------------------------------------------------------------------------

    @translating
    def append_audit(
        self,
        case_id: str,
        *,
        message_id: str,
        type: str,
        source: str,
        trigger: str,
        occurred_at: datetime,
        recorded_at: datetime,
        body: bytes,
        note: str | None = None,
        actor: str | None = None,
    ) -> None:
        """Append an entry to the case's hash chain, linked to the chain's current head."""
        seq, prev_hash = self._head(case_id)
        seq += 1
        digest = entry_hash(prev_hash, self._county, case_id, seq, message_id, type, source, trigger,
                            occurred_at, recorded_at, actor, note, body)  # fmt: skip
        self._pending.audit.append({
            "county": self._county, "case_id": case_id, "seq": seq, "message_id": message_id,
            "type": type, "source": source, "trigger": trigger, "occurred_at": occurred_at,
            "recorded_at": recorded_at, "actor": actor, "note": note, "body": body,
            "prev_hash": prev_hash, "hash": digest,
        })  # fmt: skip
        self._heads[case_id] = self._pending.heads[case_id] = (seq, digest)

    def _head(self, case_id: str) -> tuple[int, str]:
        if case_id not in self._heads:
            self._fetch_heads([case_id])
        return self._heads[case_id]

    @translating
    def audit_entries(self, case_id: str) -> list[AuditEntry]:
        """The case's chain, in order."""
        self.flush()
        query = (
            select(audit_log)
            .where(audit_log.c.county == self._county, audit_log.c.case_id == case_id)
            .order_by(audit_log.c.seq)
        )
        return [audit_entry(row._mapping) for row in self._connection.execute(query)]

    # -- outbox --------------------------------------------------------------------------

    def add_outbox(self, rows: Sequence[OutboxMessage]) -> None:
        """Queue messages for the relay; they become visible when the transaction commits."""
        self._pending.outbox.extend(rows)

    @translating
    def mark_sent(self, marks: Sequence[Marks]) -> None:
        """Mark outbox rows the broker confirmed as sent (the relay's marks, carried along)."""
        write_marks(self._connection, self._county, marks)

    # -- deadlines -----------------------------------------------------------------------

    @translating
    def claim_due_deadlines(self, now: datetime, limit: int) -> list[tuple[str, Deadline]]:
        """Up to ``limit`` deadlines with something to fire at ``now``, oldest first.

        On PostgreSQL the rows stay locked until this transaction ends, and rows other
        transactions hold are skipped: concurrent schedulers claim disjoint sets.
        """
        self.flush()
        query = queries.claim_due(self._county, now, limit, skip_locked=self._dialect == "postgresql")
        return [(row.case_id, deadline_from_row(row._mapping)) for row in self._connection.execute(query)]

    # -- writing -------------------------------------------------------------------------

    @translating
    def flush(self) -> None:
        """Write everything buffered so far (done at commit; queries do it first)."""
        dirty = [t for t in self._cases.values() if t.dirty and t.current is not None]
        if dirty:
            write_cases(self._connection, self._county, dirty, _now())
        pending, self._pending = self._pending, _Pending()
        connection = self._connection
        if pending.processed:
            bulk.execute_many(connection, queries.insert_into(processed_messages), list(pending.processed.values()))
        if pending.audit:
            bulk.execute_many(connection, queries.insert_into(audit_log), pending.audit)
            bulk.execute_many(
                connection, queries.upsert_heads(self._dialect),
                [{"county": self._county, "case_id": c, "seq": s, "hash": h}
                 for c, (s, h) in pending.heads.items()],
            )  # fmt: skip
        if pending.outbox:
            rows = [
                {"county": self._county, "created_at": m.created_at, "exchange": m.exchange,
                 "routing_key": m.routing_key, "body": m.body, "headers": dict(m.headers),
                 "message_id": m.message_id}
                for m in pending.outbox
            ]  # fmt: skip
            ids = bulk.insert_returning_ids(connection, outbox, rows)
            self.outbox_written += [
                OutboxRow(m.exchange, m.routing_key, m.body, m.headers, m.message_id, m.created_at, id=i)
                for m, i in zip(pending.outbox, ids, strict=True)
            ]


def _now() -> datetime:
    return datetime.now(UTC)


def write_marks(connection: Connection, county: str, marks: Sequence[Marks]) -> None:
    """Set ``sent_at`` on the outbox rows of each of ``marks`` (in the caller's transaction)."""
    statement = queries.mark_sent(connection.dialect.name)
    for mark in marks:
        connection.execute(statement, {"b_county": county, "ids": list(mark.ids), "b_sent_at": mark.sent_at})
