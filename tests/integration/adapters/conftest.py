"""Fixtures of the adapter tests: a scratch vhost with the sihub layout and the department users,
a stand-in hub (a tiny relay on ``sihub.hub.in``), and adapters started against RabbitMQ.

The department users (``tax``, ``hrss``, ... with the documented development passwords
``<code>-dev``) are created by importing the topology's definitions; RabbitMQ users are
global, so they are left in place for other test modules (they are the users of
``deploy/rabbitmq/definitions.json`` anyway). Everything else lives in the scratch vhost,
which the shared fixture deletes afterwards.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pika
import pytest
import tenacity

from adapters.bootstrap import AdapterProcess, build_adapter
from adapters.settings import AdapterSettings
from adapters.sinks import Sink
from contracts import AnyEnvelope, Rejected, build, parse
from contracts.codes import Department
from contracts.messages.payment import PaymentDetails, PaymentReceipt
from hub.bus.amqp import AmqpBroker
from hub.bus.amqp_codec import connection_parameters
from hub.bus.management import ManagementClient
from hub.bus.topology import (
    HUB_QUEUE,
    OUT_EXCHANGE,
    QUARANTINE_QUEUE,
    default_topology,
    to_definitions,
)
from hub.bus.types import Delivery, Outgoing
from hub.domain.durations import COUNTY_TZ
from hub.domain.payments import Amounts, Part, PaymentBatch, consolidate, reconcile, split
from hub.ids import uuid7

#: Low, so that a message nacked by mistake would reach quarantine within the test.
DELIVERY_LIMIT = 5
#: Holding and reconnecting within a test: tenths of seconds, not the production minutes.
FAST_HOLD = tenacity.wait_exponential(multiplier=0.05, max=0.3)


@pytest.fixture(scope="module")
def sihub_vhost(scratch_vhost: str, rabbit_management: ManagementClient) -> str:
    """The scratch vhost with the full sihub layout, users and permissions (definitions import)."""
    rabbit_management.import_definitions(to_definitions(default_topology(scratch_vhost, DELIVERY_LIMIT)))
    return scratch_vhost


@pytest.fixture(scope="module")
def dept_url(sihub_vhost: str, rabbit_url: Callable[..., str]) -> Callable[[str], str]:
    """``dept_url(code)``: the AMQP URL a department's adapter uses (its own user)."""
    return lambda code: rabbit_url(sihub_vhost, code, f"{code}-dev")


@pytest.fixture(scope="module")
def hub_broker(sihub_vhost: str, rabbit_url: Callable[..., str]) -> Iterator[AmqpBroker]:
    """The administrator's broker connection, standing in for the hub."""
    broker = AmqpBroker(connection_parameters(rabbit_url(sihub_vhost)), "test-hub")
    yield broker
    broker.close()


@dataclass
class HubRelay:
    """Plays the hub's part: takes ``sihub.hub.in``, splits payment details, consolidates receipts.

    Like the hub it refuses (records as ``spoofed``) a message whose ``user_id`` is not its source.
    """

    broker: AmqpBroker
    received: list[tuple[Delivery, AnyEnvelope]] = field(default_factory=list)
    spoofed: list[Delivery] = field(default_factory=list)
    batches: dict[str, PaymentBatch] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def run(self) -> None:
        consumer = self.broker.consumer(HUB_QUEUE, prefetch=64)
        publisher = self.broker.publisher()
        while not self.stop.is_set():
            deliveries = consumer.fetch(64, 0.2)
            for delivery in deliveries:
                publisher.publish(self._handle(delivery))
            if deliveries:
                consumer.ack([d.delivery_tag for d in deliveries])
        consumer.close()

    def _handle(self, delivery: Delivery) -> list[Outgoing]:
        try:
            envelope = parse(delivery.body)
        except Rejected:
            return []
        with self._cond:
            if delivery.user_id != envelope.source.value:
                self.spoofed.append(delivery)
                self._cond.notify_all()
                return []
            self.received.append((delivery, envelope))
            self._cond.notify_all()
        if isinstance(envelope.payload, PaymentDetails):
            return self._details(envelope.payload, envelope.occurred_at)
        if isinstance(envelope.payload, PaymentReceipt):
            return self._receipt(envelope.source, envelope.payload)
        return []

    def _details(self, details: PaymentDetails, now: datetime) -> list[Outgoing]:
        parts = split(details)
        self.batches[details.batch_id] = PaymentBatch(
            batch_id=details.batch_id, source=Department.TAX, collected_on=details.collected_on,
            received_at=now, due_at=now,
            parts=MappingProxyType({
                target: Part(Amounts.of_records(part.records))
                for target, part in parts.items()
            }),
        )
        return [emit(target, "payment.details", part) for target, part in parts.items()]

    def _receipt(self, source: Department, receipt: PaymentReceipt) -> list[Outgoing]:
        batch = self.batches.get(receipt.batch_id)
        if batch is None or source not in batch.parts:
            return []  # a part the test sent in the hub's place: nothing to consolidate
        part = batch.parts[source]
        problem = reconcile(part, receipt)
        parts = {**batch.parts, source: Part(part.amounts, receipt, problem is None, problem)}
        self.batches[receipt.batch_id] = batch = PaymentBatch(
            batch.batch_id, batch.source, batch.collected_on, batch.received_at, batch.due_at,
            MappingProxyType(parts),
        )
        if batch.awaiting:
            return []
        return [emit(Department.TAX, "payment.receipt", consolidate(batch))]

    def envelopes(self, type_: str, source: str | None = None) -> list[tuple[Delivery, AnyEnvelope]]:
        """What arrived of ``type_`` (from ``source``), in order."""
        with self._cond:
            return [(d, e) for d, e in self.received
                    if e.type == type_ and (source is None or e.source.value == source)]

    def wait_for(self, predicate: Callable[[HubRelay], bool], timeout_seconds: float = 30.0) -> bool:
        """Wait until ``predicate(self)`` holds."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout_seconds)


def emit(target: Department, type_: str, payload: Any, case_id: str | None = None) -> Outgoing:
    """A message from the hub to ``target`` on ``sihub.out``."""
    envelope = build(type_, payload, source=Department.HUB, target=target, case_id=case_id,
                     message_id=uuid7(), occurred_at=datetime.now(COUNTY_TZ))
    return to_department(envelope)


def to_department(envelope: AnyEnvelope, body: bytes | None = None) -> Outgoing:
    """The hub's AMQP message for ``envelope`` (addressed by its ``target``)."""
    assert envelope.target is not None
    return Outgoing(OUT_EXCHANGE, f"{envelope.target.value}.{envelope.type}", body or envelope.to_json(),
                    message_id=str(envelope.message_id))


@pytest.fixture(scope="module")
def relay(hub_broker: AmqpBroker) -> Iterator[HubRelay]:
    """The stand-in hub, running for the whole module."""
    hub = HubRelay(hub_broker)
    thread = threading.Thread(target=hub.run, name="test-hub-relay", daemon=True)
    thread.start()
    yield hub
    hub.stop.set()
    thread.join(10)


class HubSide:
    """What a test does in the hub's place: send to departments, look into the quarantine."""

    def __init__(self, broker: AmqpBroker) -> None:
        self.broker = broker
        self._publisher = broker.publisher()

    def message(self, type_: str, payload: Any, target: Department, case_id: str | None = None) -> AnyEnvelope:
        """A message from the hub to ``target``, not yet published."""
        return build(type_, payload, source=Department.HUB, target=target, case_id=case_id,
                     message_id=uuid7(), occurred_at=datetime.now(COUNTY_TZ))

    def send(self, type_: str, payload: Any, target: Department, case_id: str | None = None) -> AnyEnvelope:
        """Publish a message from the hub to ``target``; returns its envelope."""
        envelope = self.message(type_, payload, target, case_id)
        self.resend(envelope)
        return envelope

    def resend(self, envelope: AnyEnvelope) -> None:
        """Publish ``envelope`` (again: the hub delivers at least once)."""
        self._publisher.publish([to_department(envelope)])

    def quarantined(self, message_ids: set[str], timeout_seconds: float = 10.0) -> list[Delivery]:
        """The quarantined messages among ``message_ids`` (waits for them; acks what it reads)."""
        consumer = self.broker.consumer(QUARANTINE_QUEUE, prefetch=100)
        found: list[Delivery] = []
        deadline = time.monotonic() + timeout_seconds
        while len(found) < len(message_ids) and time.monotonic() < deadline:
            batch = consumer.fetch(100, 0.5)
            found += [d for d in batch if d.message_id in message_ids]
            consumer.ack([d.delivery_tag for d in batch])
        consumer.close()
        return found

    def depth(self, queue: str) -> int:
        """Ready messages in ``queue``."""
        return self.broker.queue_depth(queue)


@pytest.fixture(scope="module")
def hub(hub_broker: AmqpBroker) -> HubSide:
    """Send as the hub; inspect the quarantine."""
    return HubSide(hub_broker)


def purge(url: str, queues: list[str]) -> None:
    """Empty ``queues`` (what a test left behind must not reach the next test's adapter)."""
    connection = pika.BlockingConnection(connection_parameters(url))
    try:
        channel = connection.channel()
        for queue in queues:
            channel.queue_purge(queue)
    finally:
        connection.close()


@pytest.fixture
def start_adapter(
    dept_url: Callable[[str], str], tmp_path: Path, sihub_vhost: str, rabbit_url: Callable[..., str],
) -> Iterator[Callable[..., AdapterProcess]]:
    """``start_adapter(code, sink=None, **settings)``: an adapter consuming its queue in a thread."""
    started: list[tuple[AdapterProcess, threading.Thread]] = []

    def start(code: str, sink: Sink | None = None, **settings: Any) -> AdapterProcess:
        values = {"broker_url": dept_url(code), "adapter_state": tmp_path / f"{code}-state.db", **settings}
        process = build_adapter(code, AdapterSettings(**values), sink=sink)
        process.runtime.hold_wait = FAST_HOLD
        process.runtime.reconnect_wait = FAST_HOLD
        process.start_sources()
        thread = process.runtime.start()
        assert process.runtime.connected.wait(10), f"{code} adapter did not connect"
        started.append((process, thread))
        return process

    yield start
    for process, thread in started:
        process.stop.set()
        thread.join(15)
        process.close()
    queues = [f"sihub.dept.{code}" for code in ("tax", "hrss", "medins", "court", "petition")]
    purge(rabbit_url(sihub_vhost), [*queues, QUARANTINE_QUEUE])


def wait_until(condition: Callable[[], bool], timeout_seconds: float = 30.0) -> bool:
    """Poll ``condition`` every 50 ms until it holds or the time is up."""
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture(scope="session")
def polling() -> Callable[..., bool]:
    """``polling(condition, timeout_seconds=30)``: wait until ``condition()`` holds."""
    return wait_until

