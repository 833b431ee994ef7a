"""Committed outbox rows reach the relay in memory; confirmed rows are marked sent, and only then."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from hub import relay as relay_module
from hub.bus.types import Broker, FailureReason, Outgoing, PublishFailed
from hub.metrics import HubMetrics
from hub.observe import Observer
from hub.relay import Relay
from hub.store.errors import Conflict
from hub.store.outbox_feed import OutboxFeed
from hub.store.records import OutboxMessage, OutboxRow
from hub.store.store import Store
from tests.support.databases import sqlite_url

NOW = datetime(2026, 11, 27, 1, 30, tzinfo=UTC)


def message(n: int) -> OutboxMessage:
    return OutboxMessage("sihub.out", f"hrss.case.routed.{n}", b"{}", {"n": n}, f"m-{n}", NOW)


def row(n: int) -> OutboxRow:
    m = message(n)
    return OutboxRow(m.exchange, m.routing_key, m.body, m.headers, m.message_id, NOW, id=n)


class RecordingPublisher:
    """A publisher that confirms everything, except the routing keys it is told to refuse."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.published: list[Outgoing] = []
        self.refuse = refuse

    def publish(self, messages: Sequence[Outgoing], timeout_seconds: float = 30.0) -> None:
        self.published += messages
        failed = [(m, FailureReason.NACKED) for m in messages if m.routing_key in self.refuse]
        if failed:
            raise PublishFailed(failed)

    def close(self) -> None:
        """Nothing to close."""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(sqlite_url(tmp_path))
    yield opened
    opened.close()


def no_broker() -> Broker:
    raise AssertionError("these tests hand the relay its publisher")


def relay(store: Store) -> Relay:
    observer = Observer(HubMetrics(CollectorRegistry()))
    stop, wake = threading.Event(), threading.Event()
    return Relay(no_broker, store, observer, stop=stop, wake=wake, batch_size=3)


def test_feed_holds_offered_rows_until_taken_and_their_ids_until_marked() -> None:
    feed = OutboxFeed()
    feed.offer([row(1), row(2), row(3)])
    assert [r.id for r in feed.take(2)] == [1, 2]
    feed.confirm([1, 2], NOW)
    assert feed.claim([row(1), row(3), row(4)]) == [row(4)]  # 1: confirmed, 3: queued
    marks = feed.take_marks()
    assert [m.ids for m in marks] == [(1, 2)]
    feed.restore_marks(marks)  # the transaction that carried them rolled back
    assert feed.pending() == (1, 2)
    feed.marked(feed.take_marks())
    assert feed.claim([row(1), row(2)]) == [row(1), row(2)]


def test_feed_past_capacity_leaves_rows_to_the_sweep() -> None:
    feed = OutboxFeed(capacity=2)
    assert feed.sweep_due()  # a fresh feed has not seen the table
    assert not feed.sweep_due()
    feed.offer([row(1), row(2), row(3)])
    assert [r.id for r in feed.take(10)] == [1, 2]
    assert feed.sweep_due()
    assert feed.claim([row(3)]) == [row(3)]


def test_feed_after_a_lost_connection_forgets_unconfirmed_rows_but_not_confirmed_ones() -> None:
    feed = OutboxFeed()
    feed.offer([row(1), row(2), row(3)])
    feed.take(2)
    feed.confirm([1], NOW)
    feed.sweep_due()
    feed.drop_in_flight()
    assert feed.sweep_due()
    assert feed.take(10) == []
    assert [r.id for r in feed.claim([row(1), row(2), row(3)])] == [2, 3]


def test_store_hands_committed_outbox_rows_to_the_feed_with_their_ids(store: Store) -> None:
    with store.transaction() as tx:
        tx.add_outbox([message(1), message(2)])
    with store.transaction() as tx:
        tx.add_outbox([message(3)])
    handed = store.outbox_feed.take(10)
    in_table = {r.message_id: r.id for r in store.pending_outbox(10)}
    assert [r.message_id for r in handed] == ["m-1", "m-2", "m-3"]
    assert [r.id for r in handed] == [in_table[r.message_id] for r in handed]
    assert dict(handed[0].headers) == {"n": 1}


def test_store_hands_nothing_over_from_a_transaction_that_rolled_back(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.add_outbox([message(1)])
        tx.flush()
        raise RuntimeError("the batch failed")
    assert store.outbox_feed.take(10) == []
    assert store.pending_outbox(10) == []


def test_confirmed_rows_are_marked_sent_by_the_next_write_transaction(store: Store) -> None:
    with store.transaction() as tx:
        tx.add_outbox([message(1), message(2)])
    taken = store.outbox_feed.take(10)
    store.outbox_feed.confirm([taken[0].id], NOW + timedelta(seconds=1))
    assert store.outbox_backlog()[0] == 2  # confirmed, not yet marked
    with store.transaction() as tx:
        tx.seen([])
    assert [r.message_id for r in store.pending_outbox(10)] == ["m-2"]
    assert store.outbox_feed.pending() == (0, 0)


def test_marks_carried_by_a_transaction_that_fails_are_kept_for_the_next(store: Store) -> None:
    with store.transaction() as tx:
        tx.add_outbox([message(1)])
    store.outbox_feed.confirm([r.id for r in store.outbox_feed.take(10)], NOW)
    with pytest.raises(Conflict), store.transaction() as tx:
        tx.mark_processed("x", None, "applied")
        tx.mark_processed("x", None, "applied")
    assert store.outbox_backlog()[0] == 1
    assert store.mark_confirmed() == 1
    assert store.outbox_backlog()[0] == 0


def test_relay_publishes_handed_rows_and_marks_them_only_once_confirmed(store: Store) -> None:
    with store.transaction() as tx:
        tx.add_outbox([message(1), message(2)])
    publisher = RecordingPublisher(refuse=frozenset({"hrss.case.routed.2"}))
    worker = relay(store)
    assert worker.drain_once(publisher) == 1
    assert store.mark_confirmed() == 1
    assert [r.message_id for r in store.pending_outbox(10)] == ["m-2"]
    publisher.refuse = frozenset()
    worker.idle_seconds = 0.0
    assert worker.drain_once(publisher) == 1  # the refused row, found again by the sweep
    store.mark_confirmed()
    assert store.pending_outbox(10) == []
    assert [m.message_id for m in publisher.published] == ["m-1", "m-2", "m-2"]


def test_relay_sweeps_rows_it_was_not_handed_without_repeating_those_it_was(
    tmp_path: Path, store: Store
) -> None:
    other = Store.open(sqlite_url(tmp_path))  # another process on the same ledger, or a past run
    try:
        with other.transaction() as tx:
            tx.add_outbox([message(1), message(2), message(3), message(4)])
    finally:
        other.close()
    with store.transaction() as tx:
        tx.add_outbox([message(5)])
    publisher = RecordingPublisher()
    worker = relay(store)
    worker.idle_seconds = 0.0
    while worker.drain_once(publisher):
        pass
    store.mark_confirmed()
    assert sorted(str(m.message_id) for m in publisher.published) == [f"m-{n}" for n in range(1, 6)]
    assert store.outbox_backlog() == (0, None)


def test_a_busy_sweep_reads_ids_past_the_rows_in_flight_to_find_a_row_of_another_process(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(relay_module, "SWEEP_ID_PAGE", 2)
    with store.transaction() as tx:
        tx.add_outbox([message(n) for n in range(1, 6)])  # in this process's feed, not yet published
    other = Store.open(sqlite_url(tmp_path))  # e.g. `sihub dlq replay` writing to the same ledger
    try:
        with other.transaction() as tx:
            tx.add_outbox([message(6)])
    finally:
        other.close()
    worker = relay(store)
    read: list[list[int]] = []
    whole = store.outbox_rows
    monkeypatch.setattr(store, "outbox_rows", lambda ids: read.append(list(ids)) or whole(ids))
    publisher = RecordingPublisher()
    assert worker.drain_once(publisher) == 1  # the sweep of a fresh relay: three pages of ids
    assert [m.message_id for m in publisher.published] == ["m-6"]
    assert len(read) == 1 and len(read[0]) == 1  # only the row the feed lacked was read whole
    while worker.drain_once(publisher):
        pass
    assert sorted(str(m.message_id) for m in publisher.published) == [f"m-{n}" for n in range(1, 7)]
