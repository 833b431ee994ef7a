"""Several hubs on one PostgreSQL ledger: each outbox row is published by one relay, once,
and cases go through their loop with both hubs taking their messages.

Each hub's relay publishes the rows its own process committed (its in-memory feed)
and sweeps the table for rows nobody publishes. Without row locks a replica's sweep
took rows the other replica had in flight, and both published them. The relays now
claim rows with ``FOR UPDATE SKIP LOCKED`` and mark them sent in the same transaction.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from contracts import build
from contracts.codes import Department
from hub.bus.factory import open_broker
from hub.bus.management import ManagementClient
from hub.bus.topology import default_topology, to_definitions
from hub.bus.types import Broker, Consumer, Outgoing
from hub.config import load_settings
from hub.ids import uuid7
from hub.metrics import HubMetrics
from hub.observe import Observer
from hub.relay import Relay
from hub.runtime import HubRuntime
from hub.store.records import OutboxMessage
from hub.store.store import Store, StoreError
from tests.integration.hubenv import envelope
from tests.support.databases import scratch_postgres, sqlite_url
from tests.unit.test_outbox_feed import RecordingPublisher

pytestmark = pytest.mark.integration
_COUNTIES = itertools.count(200001)
NOW = datetime(2026, 11, 27, 1, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with scratch_postgres("replicas") as url:
        Store.open(url).close()  # migrated once
        yield url


@pytest.fixture
def hubs(database_url: str) -> Iterator[tuple[Store, Store]]:
    """Two hubs' stores on one county of the ledger: each with its own outbox feed."""
    county = f"{next(_COUNTIES):06d}"
    first, second = (Store.open(database_url, migrate=False, county=county) for _ in range(2))
    yield first, second
    first.close()
    second.close()


def no_broker() -> Broker:
    raise AssertionError("these tests hand the relay its publisher")


def relay(store: Store) -> Relay:
    observer = Observer(HubMetrics(CollectorRegistry()))
    return Relay(no_broker, store, observer, stop=threading.Event(), wake=threading.Event(), batch_size=50)


def commit(store: Store, count: int) -> list[str]:
    """``count`` outbox rows committed by ``store`` (so they are in its feed); their message ids."""
    ids = [f"m-{uuid.uuid4().hex[:8]}-{n}" for n in range(count)]
    with store.transaction() as tx:
        tx.add_outbox([OutboxMessage("sihub.out", "hrss.case.routed", b"{}", {}, i, NOW) for i in ids])
    return ids


def published(*publishers: RecordingPublisher) -> Counter[str]:
    return Counter(m.message_id or "" for p in publishers for m in p.published)


def test_claims_of_two_relays_are_disjoint_and_mark_only_what_each_got_confirmed(hubs: tuple[Store, Store]) -> None:
    first, second = hubs
    commit(first, 5)
    with first.claim_outbox(None, 3) as mine:
        with second.claim_outbox(None, 10) as theirs:
            assert len(mine.rows) == 3 and len(theirs.rows) == 2
            assert mine.ids.isdisjoint(theirs.ids)
            theirs.sent([theirs.rows[0].id], NOW)
        mine.sent([mine.rows[0].id, mine.rows[2].id], NOW)
    left = [r.id for r in first.pending_outbox(10)]
    assert left == sorted([mine.rows[1].id, theirs.rows[1].id])


def test_a_claim_by_id_passes_over_rows_already_sent_or_held_by_another_relay(hubs: tuple[Store, Store]) -> None:
    first, second = hubs
    commit(first, 4)
    ids = [r.id for r in first.pending_outbox(10)]
    first.mark_sent([ids[0]])
    with second.claim_outbox([ids[1]]) as held:
        assert held.ids == {ids[1]}
        with first.claim_outbox(ids) as claim:
            assert claim.ids == {ids[2], ids[3]} and claim.rows == []


def test_a_claim_that_fails_marks_nothing_and_releases_its_rows(hubs: tuple[Store, Store]) -> None:
    first, second = hubs
    commit(first, 2)
    with pytest.raises(RuntimeError), first.claim_outbox(None, 10) as claim:
        claim.sent(sorted(claim.ids), NOW)
        raise RuntimeError("the relay failed before the claim ended")
    with second.claim_outbox(None, 10) as again:
        assert len(again.ids) == 2
        with pytest.raises(ValueError, match="not held"):
            again.sent([max(again.ids) + 1], NOW)


def test_claims_are_for_postgresql_only(tmp_path: Path) -> None:
    store = Store.open(sqlite_url(tmp_path))
    try:
        assert not store.locks_outbox
        with pytest.raises(StoreError), store.claim_outbox(None, 10):
            pass
    finally:
        store.close()


def test_a_replica_sweeping_the_rows_another_has_in_its_feed_publishes_them_once(hubs: tuple[Store, Store]) -> None:
    first, second = hubs
    ids = commit(first, 7)
    mine, theirs = RecordingPublisher(), RecordingPublisher()
    # The second hub sweeps first (a fresh relay always does) and takes the first hub's rows;
    # the first hub's relay then finds them sent and publishes none of them again.
    while relay(second).drain_once(theirs):
        pass
    first_relay = relay(first)
    first_relay._last_sweep = time.monotonic()  # its own start-up sweep is not what is tested
    first.outbox_feed.sweep_due()
    while first_relay.drain_once(mine):
        pass
    assert published(mine, theirs) == Counter(dict.fromkeys(ids, 1))
    assert first.pending_outbox(10) == [] and first.outbox_feed.known() == frozenset()


def test_a_sweep_during_another_replicas_publish_passes_over_the_rows_it_holds(hubs: tuple[Store, Store]) -> None:
    first, second = hubs
    ids = commit(first, 5)
    theirs = RecordingPublisher()
    sweeper = relay(second)

    class SweepingMeanwhile(RecordingPublisher):
        def publish(self, messages: Sequence[Outgoing], timeout_seconds: float = 30.0) -> None:
            while sweeper.drain_once(theirs):  # the other replica sweeps while these are in flight
                pass
            super().publish(messages, timeout_seconds)

    mine = SweepingMeanwhile()
    first_relay = relay(first)
    first_relay._last_sweep = time.monotonic()
    first.outbox_feed.sweep_due()
    assert first_relay.drain_once(mine) == 5
    assert theirs.published == []
    assert published(mine) == Counter(dict.fromkeys(ids, 1))
    assert first.pending_outbox(10) == []


def test_rows_refused_by_the_broker_stay_unsent_for_the_next_sweep(hubs: tuple[Store, Store]) -> None:
    first, second = hubs
    commit(first, 1)
    refusing = RecordingPublisher(refuse=frozenset({"hrss.case.routed"}))
    first_relay = relay(first)
    first_relay._last_sweep = time.monotonic()
    first.outbox_feed.sweep_due()
    assert first_relay.drain_once(refusing) == 1
    assert len(first.pending_outbox(10)) == 1
    accepting = RecordingPublisher()
    while relay(second).drain_once(accepting):
        pass
    assert len(accepting.published) == 1 and first.pending_outbox(10) == []


# -- end to end: two hub runtimes on one ledger, over the real RabbitMQ ----------------------


def registrations(count: int) -> list[tuple[str, bytes]]:
    payload = envelope("case.registered").payload
    out = []
    for n in range(count):
        message = build("case.registered", payload, source=Department.TAX, message_id=uuid7(),
                        occurred_at=datetime.now(UTC), case_id=f"tax-2026-{n:06d}")  # fmt: skip
        out.append((str(message.message_id), message.to_json()))
    return out


@contextmanager
def two_hubs(
    management: ManagementClient, url: Callable[..., str], **settings: Any
) -> Iterator[tuple[str, str, list[HubRuntime]]]:
    """Two hub runtimes on one scratch vhost and one scratch PostgreSQL ledger, connected."""
    vhost = f"sihub-test-replicas-{uuid.uuid4().hex[:8]}"
    management.create_vhost(vhost)
    management.import_definitions(to_definitions(default_topology(vhost=vhost), with_users=True))
    try:
        with scratch_postgres("replicas_e2e") as database_url:
            config = load_settings(None, broker_url=url(vhost, "hub", "hub-dev"), database_url=database_url,
                                   scheduler_interval_seconds=0.2, batch_size=20, **settings)  # fmt: skip
            runtimes = [HubRuntime(config), HubRuntime(config)]
            for runtime in runtimes:
                runtime.start()
            try:
                deadline = time.monotonic() + 30
                while not all(r.ready() for r in runtimes):
                    assert time.monotonic() < deadline, "the hubs did not connect"
                    time.sleep(0.1)
                yield vhost, database_url, runtimes
            finally:
                for runtime in runtimes:
                    runtime.stop()
    finally:
        management.delete_vhost(vhost)


def test_two_hubs_on_one_ledger_deliver_each_routed_case_once(
    rabbit_management: ManagementClient, rabbit_url: Callable[..., str]
) -> None:
    count = 400
    with two_hubs(rabbit_management, rabbit_url, retry_delay_seconds=0.2) as (vhost, _, _):
        deliveries = _run_registrations(rabbit_url(vhost, "tax", "tax-dev"), registrations(count))
    copies = Counter(json.loads(body)["causation_id"] for body in deliveries)
    assert len(copies) == count
    assert max(copies.values()) == 1, f"{sum(v > 1 for v in copies.values())} routed cases arrived twice"


LIFECYCLE = (  # (type, sender, the departments that get the hub's message about it)
    ("case.registered", "tax", ("tax", "hrss")),  # case.routed to the intake and the owner
    ("case.accepted", "hrss", ("tax",)),
    ("case.handled", "hrss", ("tax",)),
    ("case.feedback_given", "tax", ("hrss",)),
    ("case.closed", "tax", ("hrss",)),
)


def test_two_hubs_take_cases_through_the_loop_with_every_step_sent_at_once(
    rabbit_management: ManagementClient, rabbit_url: Callable[..., str]
) -> None:
    """Each step of 60 cases is published without waiting for the one before: the two hubs
    meet steps before their case (retried until it is there) and append to one chain at once."""
    count = 60
    case_ids = [f"tax-2026-{n:06d}" for n in range(count)]
    with two_hubs(rabbit_management, rabbit_url, retry_delay_seconds=0.5) as (vhost, database_url, _):
        brokers = {d: open_broker(rabbit_url(vhost, d, f"{d}-dev")) for d in ("tax", "hrss")}
        publishers = {d: b.publisher() for d, b in brokers.items()}
        try:
            for type_, sender, _ in LIFECYCLE:
                example = envelope(type_)
                publishers[sender].publish([
                    Outgoing("sihub.in", f"{sender}.{type_}", message.to_json(), message_id=str(message.message_id), user_id=sender)
                    for message in (build(type_, example.payload, source=Department(sender), message_id=uuid7(),
                                          occurred_at=datetime.now(UTC), case_id=case_id) for case_id in case_ids)
                ])  # fmt: skip
            got = _drain({d: b.consumer(f"sihub.dept.{d}", prefetch=500) for d, b in brokers.items()}, 5 * count)
        finally:
            for name, broker in brokers.items():
                publishers[name].close()
                broker.close()
        ledger = Store.open(database_url, migrate=False)
        try:
            with ledger.transaction(read_only=True) as tx:
                cases = tx.load_cases(case_ids)
            tampered = ledger.verify_audit()
        finally:
            ledger.close()
        quarantined = [q.get("messages", 0) for q in rabbit_management.queues(vhost) if q["name"] == "sihub.quarantine"]
    assert Counter((c.stage.value, c.version) for c in cases.values()) == {("closed", 5): count}
    assert tampered == []
    assert quarantined == [0]
    expected = Counter(
        (department, hub_type, case_id)
        for type_, _, departments in LIFECYCLE
        for department in departments
        for hub_type in ["case.routed" if type_ == "case.registered" else type_]
        for case_id in case_ids
    )
    assert got == expected  # each once: nothing lost, nothing twice


def _drain(consumers: dict[str, Consumer], at_least: int) -> Counter[tuple[str, str, str]]:
    """(department, type, case id) of what reaches the departments' queues, until quiet after ``at_least``."""
    got: Counter[tuple[str, str, str]] = Counter()
    quiet_since, deadline = time.monotonic(), time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            busy = False
            for name, consumer in consumers.items():
                batch = consumer.fetch(500, 0.1)
                for delivery in batch:
                    body = json.loads(delivery.body)
                    got[(name, body["type"], body["case_id"])] += 1
                if batch:
                    consumer.ack([d.delivery_tag for d in batch])
                    busy, quiet_since = True, time.monotonic()
            if not busy and sum(got.values()) >= at_least and time.monotonic() - quiet_since > 2.0:
                break
    finally:
        for consumer in consumers.values():
            consumer.close()
    return got


def _run_registrations(url: str, batch: list[tuple[str, bytes]]) -> list[bytes]:
    """Publish ``batch`` as tax in small bursts; what reaches tax's queue until it goes quiet."""
    broker = open_broker(url)
    publisher, consumer = broker.publisher(), broker.consumer("sihub.dept.tax", prefetch=500)
    received: list[bytes] = []
    try:
        for start in range(0, len(batch), 20):  # bursts, so that both hubs and their sweeps take part
            publisher.publish([Outgoing("sihub.in", "tax.case.registered", body, message_id=mid, user_id="tax")
                               for mid, body in batch[start : start + 20]])  # fmt: skip
            time.sleep(0.02)
        quiet_since, deadline = time.monotonic(), time.monotonic() + 60
        while time.monotonic() < deadline:
            got = consumer.fetch(500, 0.2)
            if got:
                received += [d.body for d in got]
                consumer.ack([d.delivery_tag for d in got])
                quiet_since = time.monotonic()
            elif len(received) >= len(batch) and time.monotonic() - quiet_since > 2.0:
                break  # everything arrived, and nothing more for two seconds: no late copies
    finally:
        publisher.close()
        consumer.close()
        broker.close()
    return received
