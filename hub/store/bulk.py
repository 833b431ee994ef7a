"""Bulk statements of the message path, with parameters converted once per value, not per bind.

SQLAlchemy's ``executemany`` runs every parameter of every row through its generic
machinery (``construct_params``, one bind processor call per value): on SQLite that
costs more than SQLite's own work. Here a statement is compiled once per dialect
and set of keys, each bound value gets the one conversion its type needs, and the
rows go to the driver as tuples (``exec_driver_sql``: errors are still SQLAlchemy's,
so :func:`hub.store.errors.translated` maps them as before).

The stored values are exactly those SQLAlchemy would have written (the tests compare
both paths). Only SQLite takes this path: PostgreSQL's ``insertmanyvalues`` already
sends few statements, and its binds go through psycopg's own adapters.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any, Final

from sqlalchemy import JSON, Connection, CursorResult, Insert, Table
from sqlalchemy.sql.expression import Executable, UpdateBase

from hub.store.queries import insert_into
from hub.store.schema import UtcDateTime

__all__ = ["execute_many", "insert_returning_ids", "sqlite_datetime"]

Convert = Callable[[Any], Any]
#: SQLite allows 32 766 parameters per statement (3.32+); stay well below.
_MAX_PARAMETERS: Final = 30_000


def sqlite_datetime(value: datetime | None) -> str | None:
    """An aware datetime as SQLAlchemy's SQLite ``DATETIME`` stores it: UTC wall time, microseconds."""
    if value is None:
        return None
    if value.utcoffset() is None:
        raise ValueError(f"the ledger stores aware datetimes only, got {value!r}")
    return _utc_text(value)


@lru_cache(maxsize=4096)
def _utc_text(value: datetime) -> str:
    # Aware datetimes hash and compare by instant, which is all the text depends on; a
    # batch repeats the same few instants (its "now", registration times) many times.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _json(value: Any) -> str | None:
    # SQLAlchemy's default JSON serializer on SQLite: plain json.dumps.
    return None if value is None else json.dumps(value)


def _identity(value: Any) -> Any:
    return value


def _converter(type_: Any) -> Convert:
    if isinstance(type_, UtcDateTime):
        return sqlite_datetime
    if isinstance(type_, JSON):
        return _json
    return _identity


@dataclass(frozen=True)
class _Plan:
    sql: str
    keys: tuple[str, ...]
    pick: Callable[[Mapping[str, Any]], tuple[Any, ...]]  # the values in ``keys`` order
    convert: tuple[tuple[int, Convert], ...]  # (position, conversion) of values that need one

    def row(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        picked = self.pick(values)
        if not self.convert:
            return picked
        out = list(picked)
        for index, convert in self.convert:
            out[index] = convert(out[index])
        return tuple(out)


def _picker(keys: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    if len(keys) == 1:
        (key,) = keys
        return lambda values: (values[key],)
    return itemgetter(*keys)


_PLANS: dict[tuple[int, tuple[str, ...]], tuple[Executable, _Plan]] = {}


def _plan(connection: Connection, statement: UpdateBase, keys: tuple[str, ...]) -> _Plan:
    cache_key = (id(statement), keys)
    cached = _PLANS.get(cache_key)
    if cached is not None and cached[0] is statement:
        return cached[1]
    compiled = statement.compile(dialect=connection.dialect, column_keys=list(keys))
    order = tuple(compiled.positiontup or ())
    missing = set(order) - set(keys)
    if missing:
        raise ValueError(f"bulk statement needs parameters {sorted(missing)} that the rows lack")
    converters = [_converter(compiled.binds[name].type) for name in order]
    convert = tuple((i, c) for i, c in enumerate(converters) if c is not _identity)
    plan = _Plan(compiled.string, order, _picker(order), convert)
    _PLANS[cache_key] = (statement, plan)
    return plan


def execute_many(
    connection: Connection, statement: UpdateBase, rows: Sequence[Mapping[str, Any]]
) -> CursorResult[Any]:
    """``connection.execute(statement, rows)``, converting parameters cheaply on SQLite.

    Every row must carry the same keys. The statement should be a long-lived object
    (the plan is cached by its identity).
    """
    if connection.dialect.name != "sqlite" or not rows:
        return connection.execute(statement, list(rows))
    plan = _plan(connection, statement, tuple(rows[0]))
    return connection.exec_driver_sql(plan.sql, [plan.row(r) for r in rows])


def insert_returning_ids(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """Insert ``rows`` into ``table`` (integer primary key ``id``); their new ids, in row order."""
    if not rows:
        return []
    statement: Insert = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    if connection.dialect.name != "sqlite":
        return [int(i) for i in connection.execute(statement, list(rows)).scalars()]
    plan = _plan(connection, insert_into(table), tuple(rows[0]))
    head, _, values = plan.sql.partition(" VALUES ")
    per_chunk = max(1, _MAX_PARAMETERS // max(1, len(plan.keys)))
    ids: list[int] = []
    for start in range(0, len(rows), per_chunk):
        chunk = rows[start : start + per_chunk]
        sql = f"{head} VALUES {', '.join([values] * len(chunk))} RETURNING id"
        parameters = tuple(value for r in chunk for value in plan.row(r))
        # Inside one write transaction SQLite numbers new rows max(id)+1, +2, … in the
        # order of VALUES (SQLAlchemy's insertmanyvalues relies on the same): sorted ids
        # are the rows' ids in order, whatever order RETURNING hands them back in.
        ids += sorted(int(i) for (i,) in connection.exec_driver_sql(sql, parameters))
    return ids
