"""The store on SQLite: the shared suite, plus what only SQLite does (pragmas, file locks)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Select, text

import hub.store
from hub.store.errors import StoreError, Unavailable
from hub.store.store import Store
from tests.support.databases import sqlite_url
from tests.support.store_suite import StoreSuite, make_case, save


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A ledger in a fresh SQLite file, migrated to head."""
    opened = Store.open(sqlite_url(tmp_path))
    yield opened
    opened.close()


class TestSqliteStore(StoreSuite):
    """The shared suite on SQLite."""

    def explain(self, store: Store, query: Select[Any]) -> str:
        sql = query.compile(dialect=store.engine.dialect, compile_kwargs={"literal_binds": True})
        with store.engine.connect() as connection:
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
        return "\n".join(str(row[-1]) for row in rows)


def test_sqlite_store_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(store: Store) -> None:
    with store.engine.connect() as connection:
        pragmas = {name: connection.execute(text(f"PRAGMA {name}")).scalar()
                   for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")}  # fmt: skip
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "synchronous": 1, "busy_timeout": 5000}


def test_sqlite_store_is_unavailable_while_another_writer_holds_the_lock(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    holder = Store.open(url)
    impatient = Store.open(url, busy_timeout=timedelta(milliseconds=50))
    try:
        with holder.transaction() as tx:
            tx.save_case(make_case("tax-2026-000001"))
            with pytest.raises(Unavailable), impatient.transaction() as other:
                other.save_case(make_case("tax-2026-000002"))
        save(impatient, make_case("tax-2026-000002"))  # the lock is free again
    finally:
        holder.close()
        impatient.close()


def test_sqlite_store_is_unavailable_when_its_file_cannot_be_opened(tmp_path: Path) -> None:
    with pytest.raises(Unavailable):
        Store.open(sqlite_url(tmp_path / "no" / "such" / "directory"))


def test_sqlite_store_refuses_an_unmigrated_database_when_told_not_to_migrate(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="run the migrations"):
        Store.open(sqlite_url(tmp_path, "empty.db"), migrate=False)
    Store.open(sqlite_url(tmp_path, "empty.db")).close()
    Store.open(sqlite_url(tmp_path, "empty.db"), migrate=False).close()


def test_store_refuses_a_database_it_does_not_support_and_a_malformed_county(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SQLite or PostgreSQL"):
        Store.open("mysql://root@127.0.0.1/sihub")
    with pytest.raises(ValueError, match="six-digit"):
        Store.open(sqlite_url(tmp_path), county="3403")


def test_operators_alembic_ini_migrates_the_database_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_url(tmp_path, "operated.db")
    monkeypatch.setenv("SIHUB_DATABASE_URL", url)
    config = Config(str(Path(hub.store.__file__).with_name("alembic.ini")))
    config.attributes["configure_logger"] = False  # leave the test run's logging alone
    command.upgrade(config, "head")
    Store.open(url, migrate=False).close()  # at head: accepted without migrating
    command.downgrade(config, "base")
    with pytest.raises(StoreError, match="revision"):
        Store.open(url, migrate=False)
