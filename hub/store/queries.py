"""Statements the store runs, built as plain SQLAlchemy Core values (so tests can EXPLAIN them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Delete,
    Insert,
    Select,
    Table,
    TextClause,
    Update,
    and_,
    any_,
    bindparam,
    delete,
    exists,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from hub.store.schema import (
    audit_heads,
    case_departments,
    cases,
    deadlines,
    outbox,
    processed_messages,
)

__all__ = [
    "cases_with_heads",
    "chain_heads",
    "claim_due",
    "delete_rows",
    "insert_into",
    "list_cases",
    "mark_sent",
    "seen",
    "update_case",
    "upsert",
    "upsert_heads",
]


# Statements of the message path, built once per dialect: building and caching a statement
# costs more than running it on SQLite. Bind ``county`` and ``ids`` (a list of strings).
# PostgreSQL gets ``= ANY(:ids)``, one array parameter: psycopg parses a query with two
# hundred ``IN`` parameters in Python, which costs more than the query itself.


def _among(column: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return column == any_(bindparam("ids", type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam("ids", expanding=True))


@cache
def cases_with_heads(dialect: str, *, lock: bool = False) -> Select[Any]:
    """Cases by id, each with its audit chain's head (seq, hash) if it has one.

    ``lock`` (PostgreSQL) locks the case rows; the heads are on the nullable side.
    """
    query = (
        select(cases.c.case_id, cases.c.document, audit_heads.c.seq, audit_heads.c.hash)
        .outerjoin(audit_heads, and_(audit_heads.c.county == cases.c.county,
                                     audit_heads.c.case_id == cases.c.case_id))
        .where(cases.c.county == bindparam("county"), _among(cases.c.case_id, dialect))
    )  # fmt: skip
    return query.with_for_update(of=cases) if lock else query


@cache
def chain_heads(dialect: str) -> Select[Any]:
    """Audit chain heads (case_id, seq, hash) by case id."""
    return select(audit_heads.c.case_id, audit_heads.c.seq, audit_heads.c.hash).where(
        audit_heads.c.county == bindparam("county"), _among(audit_heads.c.case_id, dialect)
    )


@cache
def seen(dialect: str) -> Select[Any]:
    """Which of the message ids are processed already."""
    return select(processed_messages.c.message_id).where(
        processed_messages.c.county == bindparam("county"), _among(processed_messages.c.message_id, dialect)
    )


@cache
def mark_sent(dialect: str) -> Update:
    """Set ``sent_at`` on the outbox rows ``ids`` (bind ``b_county``, ``ids``, ``b_sent_at``)."""
    return (
        update(outbox)
        .where(outbox.c.county == bindparam("b_county"), _among(outbox.c.id, dialect))
        .values(sent_at=bindparam("b_sent_at"))
    )


def unsent_outbox(county: str, *columns: Any, after_id: int = 0, ids: Sequence[int] | None = None) -> Select[Any]:
    """``columns`` (the whole row when none) of the county's unsent outbox rows, in id order:
    those above ``after_id``, and of ``ids`` if given (the partial index of unsent rows serves it)."""
    query = select(*(columns or (outbox,))).where(
        outbox.c.county == county, outbox.c.sent_at.is_(None), outbox.c.id > after_id
    )
    if ids is not None:
        query = query.where(outbox.c.id.in_(list(ids)))
    return query.order_by(outbox.c.id)


def claim_outbox(county: str, ids: Sequence[int] | None, limit: int) -> Select[Any]:
    """Unsent outbox rows (of ``ids``, or the oldest), locked, passing over rows others hold.

    PostgreSQL only (``FOR UPDATE SKIP LOCKED``): two relays never hold the same row,
    so of several hub replicas one publishes each row. With ``ids`` only the ids are
    read (the caller has the rows); otherwise whole rows, oldest first.
    """
    query = unsent_outbox(county, ids=ids) if ids is None else unsent_outbox(county, outbox.c.id, ids=ids)
    return query.limit(limit).with_for_update(skip_locked=True)


def claim_due(county: str, now: datetime, limit: int, *, skip_locked: bool) -> Select[Any]:
    """Deadlines whose fire time has come, oldest first; the index on (county, fire_at) serves it.

    With ``skip_locked`` (PostgreSQL) the rows are locked and rows another hub has
    locked are passed over, so two schedulers never fire the same deadline.
    """
    query = (
        select(deadlines)
        .where(deadlines.c.county == county, deadlines.c.fire_at <= now)
        .order_by(deadlines.c.fire_at)
        .limit(limit)
    )
    return query.with_for_update(skip_locked=True) if skip_locked else query


@cache
def insert_into(table: Table) -> Insert:
    """``INSERT INTO table`` (one long-lived statement per table, for :mod:`hub.store.bulk`)."""
    return table.insert()


@cache
def update_case() -> Update:
    """``UPDATE cases SET … WHERE version = :b_version`` for executemany.

    Each parameter set binds ``b_county``, ``b_case_id``, ``b_version`` (the version
    the database must still hold) and the columns to set.
    """
    return update(cases).where(
        cases.c.county == bindparam("b_county"),
        cases.c.case_id == bindparam("b_case_id"),
        cases.c.version == bindparam("b_version"),
    )


@cache
def delete_rows(table: Table, *key: str) -> Delete:
    """``DELETE FROM table WHERE k1 = :k_k1 AND …`` for executemany (bind ``k_*`` keys)."""
    return delete(table).where(*(table.c[name] == bindparam(f"k_{name}") for name in key))


@cache
def upsert_heads(dialect: str) -> Insert:
    """Record audit chain heads (bind ``county``, ``case_id``, ``seq``, ``hash``)."""
    return upsert(dialect, audit_heads, ("county", "case_id"), ("seq", "hash"))


def upsert(
    dialect: str,
    table: Table,
    key: Sequence[str],
    changing: Sequence[str] = (),
    also: Mapping[str, ColumnElement[Any]] | None = None,
) -> Insert:
    """``INSERT … ON CONFLICT (key) DO UPDATE SET changing = excluded.changing, also…``."""
    statement: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        statement = postgresql.insert(table)
    elif dialect == "sqlite":
        statement = sqlite.insert(table)
    else:
        raise ValueError(f"the ledger runs on SQLite or PostgreSQL, not {dialect}")
    values: dict[str, Any] = {c: statement.excluded[c] for c in changing}
    values.update(also or {})
    return statement.on_conflict_do_update(index_elements=list(key), set_=values)


def list_cases(
    county: str,
    *,
    department: str | None,
    stage: str | None,
    tier: str | None,
    overdue_at: datetime | None,
    limit: int,
    after: str | None,
) -> Select[Any]:
    """Documents of the cases matching every filter given, by case id after ``after`` (keyset)."""
    conditions: list[ColumnElement[bool]] = [cases.c.county == county]
    if after is not None:
        conditions.append(cases.c.case_id > after)
    if stage is not None:
        conditions.append(cases.c.stage == stage)
    if tier is not None:
        conditions.append(cases.c.tier == tier)
    if overdue_at is not None:
        conditions.append(
            exists().where(
                deadlines.c.county == cases.c.county,
                deadlines.c.case_id == cases.c.case_id,
                deadlines.c.kind == "sla",
                deadlines.c.due_at <= overdue_at,
            )
        )
    query = select(cases.c.document)
    if department is not None:
        # Driven by (county, department, case_id): a page costs its own rows, not the ledger.
        query = query.join(
            case_departments,
            and_(
                case_departments.c.county == cases.c.county,
                case_departments.c.case_id == cases.c.case_id,
                case_departments.c.department == department,
            ),
        )
    return query.where(*conditions).order_by(cases.c.case_id).limit(limit)


@cache
def never_analyzed() -> TextClause:
    """PostgreSQL: which of the tables ``names`` (in the current schema) were never analyzed and hold ``min_rows``."""
    return text(
        "SELECT relname FROM pg_stat_user_tables"
        " WHERE schemaname = current_schema() AND relname = ANY(:names)"
        " AND last_analyze IS NULL AND last_autoanalyze IS NULL"
        " AND n_live_tup + n_mod_since_analyze >= :min_rows"
        " ORDER BY relname"
    )
