"""The store's cheap bulk writes store exactly what SQLAlchemy's own executemany would."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, insert

from hub.store import bulk, queries
from hub.store.schema import audit_heads, audit_log, cases, deadlines, outbox, processed_messages
from hub.store.store import Store
from tests.support.databases import sqlite_url

COUNTY = "340322"
BEIJING = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 27, 9, 30, 0, 123456, tzinfo=BEIJING)


def case_rows() -> list[dict[str, Any]]:
    return [
        {
            "county": COUNTY, "case_id": f"hrss-2026-{i:06d}", "kind": "dispute", "stage": "routed",
            "tier": "routine", "owner": "hrss", "intake": "hrss", "coordinator": None,
            "participants": ["medins", "tax"] if i % 2 else [], "mode": "single",
            "registered_at": NOW, "stage_since": NOW + timedelta(seconds=i),
            "closed_at": None, "updated_at": datetime(2026, 11, 27, 1, 0, tzinfo=UTC),
            "version": 1, "document": f'{{"case_id":"hrss-2026-{i:06d}","名":"李某某"}}',
        }
        for i in range(3)
    ]  # fmt: skip


def deadline_rows() -> list[dict[str, Any]]:
    return [
        {
            "county": COUNTY, "case_id": "hrss-2026-000000", "key": f"routine.sign.{i}",
            "department": "hrss", "tier": "routine", "kind": "sla", "started_at": NOW,
            "due_at": NOW + timedelta(days=1), "warn_at": None if i else NOW + timedelta(hours=20),
            "warned": bool(i), "fire_at": NOW + timedelta(hours=20),
        }
        for i in range(2)
    ]  # fmt: skip


def audit_rows() -> list[dict[str, Any]]:
    return [
        {
            "county": COUNTY, "case_id": "hrss-2026-000000", "seq": i + 1, "message_id": f"m{i}",
            "type": "case.registered", "source": "hrss", "trigger": "message", "occurred_at": NOW,
            "recorded_at": NOW, "actor": None, "note": "重放" if i else None,
            "body": b'{"x":"\xe6\x9d\x8e"}\x00', "prev_hash": "0" * 64, "hash": f"{i}" * 64,
        }
        for i in range(2)
    ]  # fmt: skip


def stored(path: Path, table: str) -> list[tuple[Any, ...]]:
    """The rows as SQLite holds them, read with the bare driver (no SQLAlchemy conversions)."""
    with sqlite3.connect(path) as connection:
        return connection.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()


@pytest.mark.parametrize(
    ("table", "rows"),
    [(cases, case_rows), (deadlines, deadline_rows), (audit_log, audit_rows)],
    ids=["cases", "deadlines", "audit_log"],
)
def test_bulk_insert_stores_what_sqlalchemy_stores(tmp_path: Path, table: Table, rows: Any) -> None:
    paths = {name: tmp_path / f"{name}.db" for name in ("bulk", "sqlalchemy")}
    stores = {name: Store.open(sqlite_url(tmp_path, path.name)) for name, path in paths.items()}
    parents = [r for r in case_rows() if r["case_id"] == "hrss-2026-000000"]
    for name, store in stores.items():
        with store.engine.begin() as connection:
            if table is not cases:
                connection.execute(insert(cases), parents)
            if name == "bulk":
                bulk.execute_many(connection, queries.insert_into(table), rows())
            else:
                connection.execute(insert(table), rows())
        store.close()
    assert stored(paths["bulk"], table.name) == stored(paths["sqlalchemy"], table.name)
    assert len(stored(paths["bulk"], table.name)) == len(rows())


def test_bulk_upsert_of_chain_heads_updates_what_exists(tmp_path: Path) -> None:
    store = Store.open(sqlite_url(tmp_path))
    statement = queries.upsert_heads("sqlite")
    with store.engine.begin() as connection:
        connection.execute(insert(cases), case_rows())
        head = {"county": COUNTY, "case_id": "hrss-2026-000000", "seq": 1, "hash": "a" * 64}
        bulk.execute_many(connection, statement, [head])
        bulk.execute_many(connection, statement, [{**head, "seq": 2, "hash": "b" * 64}])
    store.close()
    assert stored(tmp_path / "ledger.db", audit_heads.name) == [
        (COUNTY, "hrss-2026-000000", 2, "b" * 64)
    ]


def test_bulk_insert_returning_ids_gives_each_row_its_own_id(tmp_path: Path) -> None:
    store = Store.open(sqlite_url(tmp_path))
    rows = [
        {"county": COUNTY, "created_at": NOW, "exchange": "sihub.out", "routing_key": f"k{i}",
         "body": b"{}", "headers": {"n": i}, "message_id": f"message-{i}"}
        for i in range(7)
    ]  # fmt: skip
    with store.engine.begin() as connection:
        first = bulk.insert_returning_ids(connection, outbox, rows[:2])
        rest = bulk.insert_returning_ids(connection, outbox, rows[2:])
    pending = {r.id: r for r in store.pending_outbox(100)}
    store.close()
    ids = first + rest
    assert len(set(ids)) == len(rows)
    assert [pending[i].message_id for i in ids] == [r["message_id"] for r in rows]
    assert [dict(pending[i].headers) for i in ids] == [r["headers"] for r in rows]
    assert pending[ids[0]].created_at == NOW.astimezone(UTC)


def test_bulk_update_counts_the_rows_it_changed(tmp_path: Path) -> None:
    store = Store.open(sqlite_url(tmp_path))
    with store.engine.begin() as connection:
        connection.execute(insert(processed_messages), [
            {"county": COUNTY, "message_id": f"m{i}", "case_id": None, "processed_at": NOW,
             "outcome": "applied"} for i in range(3)
        ])  # fmt: skip
        connection.execute(insert(cases), case_rows())
        rows = [
            {**row, "b_county": row.pop("county"), "b_case_id": row.pop("case_id"), "b_version": v}
            for row, v in zip(case_rows(), (1, 7, 1), strict=True)
        ]
        updated = bulk.execute_many(connection, queries.update_case(), rows).rowcount
    store.close()
    assert updated == 2  # the one whose version did not match is left alone


def test_sqlite_datetime_is_utc_wall_time_with_microseconds() -> None:
    assert bulk.sqlite_datetime(NOW) == "2026-11-27 01:30:00.123456"
    assert bulk.sqlite_datetime(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01 00:00:00.000000"
    assert bulk.sqlite_datetime(None) is None
    with pytest.raises(ValueError, match="aware"):
        bulk.sqlite_datetime(datetime(2026, 1, 1))
