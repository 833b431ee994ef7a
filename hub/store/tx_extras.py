"""The transaction's less frequent work: listing, id counters, payment batches, replays.

These run at once (no buffering): they are rare next to the message path, and
their answers (a sequence number, a batch's state) are needed straight away.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from hub.domain.model import Case
from hub.store import codec, queries
from hub.store.errors import translating
from hub.store.rows import parts_awaiting
from hub.store.schema import case_sequences, payment_batch_targets, payment_batches, replays

__all__ = ["TxExtras"]


class TxExtras:
    """Methods of :class:`~hub.store.tx.Tx` that do not touch its write buffers."""

    def __init__(self, connection: Connection, county: str) -> None:
        self._connection = connection
        self._county = county
        self._dialect = connection.dialect.name

    def flush(self) -> None:
        """Write buffered changes (the subclass buffers; queries call this first)."""

    @translating
    def list_cases(
        self,
        *,
        department: str | None = None,
        stage: str | None = None,
        tier: str | None = None,
        overdue_at: datetime | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[Case]:
        """Cases matching every filter given, ordered by case id, the page after ``after``.

        ``department`` matches the owner, a participant, the coordinator or the intake;
        ``overdue_at`` keeps cases with an SLA deadline due at or before that instant.
        """
        self.flush()
        query = queries.list_cases(
            self._county, department=department, stage=stage, tier=tier, overdue_at=overdue_at,
            limit=limit, after=after,
        )  # fmt: skip
        return [codec.loads(document) for document in self._connection.scalars(query)]

    @translating
    def next_case_sequence(self, department: str, year: int, count: int = 1) -> int:
        """Reserve the next ``count`` numbers of ``<department>-<year>-<seq>`` ids (1, 2, …); the last.

        The block is ``last - count + 1 … last``, unique under concurrency: one statement, whose
        row lock (``ON CONFLICT … SET value = value + count``) serializes concurrent callers.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        statement = queries.upsert(
            self._dialect, case_sequences, ("county", "department", "year"),
            also={"value": case_sequences.c.value + count},
        ).values(county=self._county, department=department, year=year, value=count)  # fmt: skip
        value = self._connection.scalar(statement.returning(case_sequences.c.value))
        assert value is not None
        return int(value)

    # -- payment batches -------------------------------------------------------------------

    @translating
    def load_batch(self, batch_id: str, *, lock: bool = True) -> dict[str, Any] | None:
        """The state a payment batch was saved with, or None; locked on PostgreSQL by default.

        The lock makes two receipts for one batch (from hrss and medins, handled by two
        hubs) apply one after the other instead of one overwriting the other.
        """
        query = select(payment_batches.c.state).where(
            payment_batches.c.county == self._county, payment_batches.c.batch_id == batch_id
        )
        if lock and self._dialect == "postgresql":
            query = query.with_for_update()
        state = self._connection.scalar(query)
        return dict(state) if state is not None else None

    @translating
    def save_batch(self, batch_id: str, state: Mapping[str, Any]) -> None:
        """Save a payment batch's plain JSON state (see ``docs/storage.md`` for the keys read).

        Raises:
            ValueError: the state lacks ``source``, ``received_at`` or ``due_at``, or its
                ``parts`` are not ``{target: {"receipt": …}}``.
        """
        try:
            row = {
                "county": self._county, "batch_id": batch_id, "source": str(state["source"]),
                "received_at": _instant(state["received_at"]), "due_at": _instant(state["due_at"]),
                "completed_at": _instant(state["completed_at"]) if state.get("completed_at") else None,
                "updated_at": datetime.now(UTC), "state": dict(state),
            }  # fmt: skip
        except KeyError as missing:
            raise ValueError(f"payment batch {batch_id}: state lacks {missing}") from None
        targets = [
            {"county": self._county, "batch_id": batch_id, "target": target, "due_at": row["due_at"],
             "receipted": receipted}
            for target, receipted in parts_awaiting(state)
        ]  # fmt: skip
        changing = [c for c in row if c not in ("county", "batch_id")]
        self._connection.execute(
            queries.upsert(self._dialect, payment_batches, ("county", "batch_id"), changing), row
        )
        self._connection.execute(
            payment_batch_targets.delete().where(
                payment_batch_targets.c.county == self._county,
                payment_batch_targets.c.batch_id == batch_id,
            )
        )
        if targets:
            self._connection.execute(insert(payment_batch_targets), targets)

    # -- replays ---------------------------------------------------------------------------

    @translating
    def record_replay(
        self, message_id: str, *, actor: str, reason: str, outcome: str,
        replayed_at: datetime | None = None,
    ) -> int:  # fmt: skip
        """Record that ``actor`` replayed a quarantined message, and why; the record's id."""
        return insert_replay(self._connection, self._county, message_id, actor, reason, outcome,
                             replayed_at or datetime.now(UTC))  # fmt: skip


def insert_replay(
    connection: Connection, county: str, message_id: str, actor: str, reason: str, outcome: str,
    replayed_at: datetime,
) -> int:  # fmt: skip
    """Insert one ``replays`` row; its id."""
    result = connection.execute(
        insert(replays).values(
            county=county, message_id=message_id, replayed_at=replayed_at,
            actor=actor, reason=reason, outcome=outcome,
        )  # fmt: skip
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _instant(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    raise ValueError(f"expected an ISO datetime, got {value!r}")
