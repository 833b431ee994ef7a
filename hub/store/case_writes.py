"""Writing the cases a transaction saved: the case rows, and their deadline and department rows.

The deadline and department rows are brought in line with each case by difference
against what the transaction loaded (delete what is gone or changed, insert what is
new or changed); a case saved without being loaded has all its rows replaced.
Each kind of change is one ``executemany`` for the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from hub.domain.model import Case, Deadline
from hub.store import queries
from hub.store.bulk import execute_many
from hub.store.errors import Conflict
from hub.store.rows import DeadlineKey, case_row, deadline_key, deadline_row, departments_of
from hub.store.schema import case_departments, cases, deadlines

__all__ = ["RowChanges", "Tracked", "row_changes", "write_cases"]


@dataclass
class Tracked:
    """A case as a transaction knows it: what the database holds, and what to write."""

    base_version: int  # 0: not in the database
    base_deadlines: dict[DeadlineKey, Deadline] | None  # None: unknown, replace them all
    base_departments: frozenset[str] | None
    current: Case | None = None
    dirty: bool = False


@dataclass
class RowChanges:
    """Rows to delete and insert so the side tables match the saved cases."""

    replace_all: list[str] = field(default_factory=list)  # case ids whose rows are unknown
    deadlines_gone: list[dict[str, Any]] = field(default_factory=list)
    deadlines_added: list[dict[str, Any]] = field(default_factory=list)
    departments_gone: list[dict[str, Any]] = field(default_factory=list)
    departments_added: list[dict[str, Any]] = field(default_factory=list)


def row_changes(county: str, tracked: list[Tracked]) -> RowChanges:
    """What must change in ``deadlines`` and ``case_departments`` (pure)."""
    changes = RowChanges()
    for t in tracked:
        case = t.current
        assert case is not None
        new = {deadline_key(d): d for d in case.deadlines}
        if t.base_deadlines is None:
            changes.replace_all.append(case.case_id)
        base = t.base_deadlines or {}
        changes.deadlines_gone += [
            {"k_county": county, "k_case_id": case.case_id, "k_key": key, "k_department": dept}
            for (key, dept), old in base.items() if new.get((key, dept)) != old
        ]  # fmt: skip
        changes.deadlines_added += [
            deadline_row(county, case.case_id, d) for k, d in new.items() if base.get(k) != d
        ]
        departments = departments_of(case)
        before = t.base_departments or frozenset()
        changes.departments_gone += [
            {"k_county": county, "k_case_id": case.case_id, "k_department": d} for d in before - departments
        ]
        changes.departments_added += [
            {"county": county, "case_id": case.case_id, "department": d} for d in departments - before
        ]
    return changes


def write_cases(connection: Connection, county: str, dirty: list[Tracked], now: datetime) -> None:
    """Insert new cases, update changed ones (checking versions), and sync their rows.

    Raises:
        Conflict: a case's version in the database is not the one this transaction loaded.
    """
    fresh = [case_row(county, t.current, now) for t in dirty if t.current and t.base_version == 0]
    if fresh:
        execute_many(connection, queries.insert_into(cases), fresh)
    changed = [t for t in dirty if t.base_version > 0]
    if changed:
        _update(connection, county, changed, now)
    changes = row_changes(county, dirty)
    if changes.replace_all:
        for table in (deadlines, case_departments):
            connection.execute(
                table.delete().where(table.c.county == county, table.c.case_id.in_(changes.replace_all))
            )
    if changes.deadlines_gone:
        statement = queries.delete_rows(deadlines, "county", "case_id", "key", "department")
        execute_many(connection, statement, changes.deadlines_gone)
    if changes.deadlines_added:
        execute_many(connection, queries.insert_into(deadlines), changes.deadlines_added)
    if changes.departments_gone:
        statement = queries.delete_rows(case_departments, "county", "case_id", "department")
        execute_many(connection, statement, changes.departments_gone)
    if changes.departments_added:
        execute_many(connection, queries.insert_into(case_departments), changes.departments_added)
    for t in dirty:  # what the database now holds
        case = t.current
        assert case is not None
        t.base_version, t.dirty = case.version, False
        t.base_deadlines = {deadline_key(d): d for d in case.deadlines}
        t.base_departments = departments_of(case)


def _update(connection: Connection, county: str, changed: list[Tracked], now: datetime) -> None:
    rows = []
    for t in changed:
        assert t.current is not None
        row = case_row(county, t.current, now)
        row.update(b_county=row.pop("county"), b_case_id=row.pop("case_id"), b_version=t.base_version)
        rows.append(row)
    statement = queries.update_case()
    if connection.dialect.supports_sane_multi_rowcount or len(rows) == 1:
        updated = execute_many(connection, statement, rows).rowcount
    else:
        updated = sum(connection.execute(statement, row).rowcount for row in rows)
    if updated != len(rows):
        ids = ", ".join(sorted(str(r["b_case_id"]) for r in rows))
        raise Conflict(f"a case changed under this transaction (one of: {ids}); retry the batch")
