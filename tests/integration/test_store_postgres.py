"""The store on PostgreSQL: the shared suite, plus row locks, SKIP LOCKED and an unreachable server.

One scratch database serves the module; each test gets a county of its own in it
(``Store.for_county``), which isolates every county-scoped table.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Select, text
from sqlalchemy.exc import OperationalError

from contracts.codes import Department
from hub.store.errors import Conflict, Unavailable
from hub.store.store import Store
from tests.support.databases import scratch_postgres
from tests.support.network import free_port
from tests.support.store_suite import NOW, StoreSuite, deadline, make_case, save

pytestmark = pytest.mark.integration
_COUNTIES = itertools.count(100001)


@pytest.fixture(scope="module")
def ledger() -> Iterator[Store]:
    """A migrated ledger in a scratch database, dropped after the module."""
    with scratch_postgres("store") as url:
        opened = Store.open(url)
        yield opened
        opened.close()


@pytest.fixture
def store(ledger: Store) -> Store:
    """The ledger of a county no other test uses."""
    return ledger.for_county(f"{next(_COUNTIES):06d}")


class TestPostgresStore(StoreSuite):
    """The shared suite on PostgreSQL."""

    def explain(self, store: Store, query: Select[Any]) -> str:
        sql = query.compile(dialect=store.engine.dialect, compile_kwargs={"literal_binds": True})
        with store.engine.connect() as connection:
            connection.execute(text("ANALYZE deadlines"))  # as autovacuum would have by now
            return "\n".join(connection.exec_driver_sql(f"EXPLAIN {sql}").scalars())


def test_postgres_schedulers_claim_disjoint_deadlines_with_skip_locked(store: Store) -> None:
    due = [make_case(f"tax-2026-{n:06d}", deadlines=[deadline("routine.sign", "hrss", NOW - timedelta(minutes=n))])
           for n in range(1, 6)]  # fmt: skip
    save(store, *due)
    with store.transaction() as first, store.transaction() as second:
        mine = first.claim_due_deadlines(NOW, 3)
        theirs = second.claim_due_deadlines(NOW, 10)
    assert len(mine) == 3 and len(theirs) == 2
    assert {c for c, _ in mine}.isdisjoint(c for c, _ in theirs)
    assert {c for c, _ in mine} | {c for c, _ in theirs} == {c.case_id for c in due}


def test_postgres_concurrent_transactions_saving_one_version_give_one_conflict(store: Store) -> None:
    save(store, make_case("tax-2026-000050"))
    with pytest.raises(Conflict), store.transaction() as first:
        case = first.load_case("tax-2026-000050")
        assert case is not None
        first.save_case(case.evolve(version=2, owner=Department.MEDINS))
        with store.transaction() as second:
            other = second.load_case("tax-2026-000050")
            assert other is not None
            second.save_case(other.evolve(version=2))
    with store.transaction(read_only=True) as tx:
        kept = tx.load_case("tax-2026-000050")
    assert kept is not None and kept.version == 2 and kept.owner.value == "hrss"


def test_postgres_load_with_lock_makes_a_second_writer_wait_its_turn(store: Store) -> None:
    save(store, make_case("tax-2026-000051"))
    with store.transaction() as first:
        first.load_case("tax-2026-000051", lock=True)
        with store.engine.connect() as probe:
            probe.execute(text("SET lock_timeout = '100ms'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                probe.execute(text("SELECT 1 FROM cases WHERE county = :c AND case_id = :i FOR UPDATE"),
                              {"c": store.county, "i": "tax-2026-000051"})  # fmt: skip


def test_postgres_store_is_unavailable_when_the_server_cannot_be_reached() -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/sihub_{uuid.uuid4().hex[:6]}"
    with pytest.raises(Unavailable):
        Store.open(url)
    with pytest.raises(Unavailable):
        Store.open(url, migrate=False)


def _kill_other_connections(store: Store) -> None:
    with store.engine.connect() as killer:
        killer.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ))  # fmt: skip


def test_postgres_transaction_whose_connection_dies_raises_unavailable_then_recovers(ledger: Store) -> None:
    store = ledger.for_county("199999")
    save(store, make_case("tax-2026-000052"))
    with pytest.raises(Unavailable), store.transaction() as tx:
        tx.load_case("tax-2026-000052")
        _kill_other_connections(store)  # the database restarts under a running batch
        tx.load_case("tax-2026-000053")
    _kill_other_connections(store)  # and the idle pooled connections die too
    # pool_pre_ping replaces the dead connections: the next transaction just works.
    with store.transaction(read_only=True) as tx:
        assert tx.load_case("tax-2026-000052") is not None


def _generic_plan(store: Store, sql: str, types: str, args: str) -> str:
    """EXPLAIN of ``sql`` as a prepared statement's generic plan (what psycopg's prepared statements run)."""
    with store.engine.connect() as connection:
        connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        connection.exec_driver_sql(f"PREPARE probe({types}) AS {sql}")
        return "\n".join(connection.exec_driver_sql(f"EXPLAIN EXECUTE probe({args})").scalars())


def test_a_fresh_ledger_gets_statistics_once_and_then_looks_message_ids_up_by_key() -> None:
    with scratch_postgres("stats") as url:
        store = Store.open(url)
        try:
            assert store.refresh_statistics() == []  # nothing in the tables yet: nothing to analyze
            with store.transaction() as tx:
                for _ in range(5000):
                    tx.mark_processed(str(uuid.uuid4()), None, "applied")
            deadline = time.monotonic() + 15
            analyzed: list[str] = []
            while not analyzed and time.monotonic() < deadline:  # the statistics views lag a little
                time.sleep(0.5)
                analyzed = store.refresh_statistics()
            assert analyzed == ["processed_messages"]
            assert store.refresh_statistics() == []  # once: autovacuum keeps them from now on
            plan = _generic_plan(
                store,
                "SELECT message_id FROM processed_messages WHERE county = $1 AND message_id = ANY($2)",
                "varchar, varchar[]", "'340322', ARRAY['a', 'b']::varchar[]",
            )
            # By its key, not by scanning every message of the county through the county index.
            assert "pk_processed_messages" in plan and "county_processed_at" not in plan, plan
        finally:
            store.close()


def test_refresh_statistics_has_nothing_to_do_on_sqlite(tmp_path: Any) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        assert store.refresh_statistics() == []
    finally:
        store.close()
