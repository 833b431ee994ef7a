"""The pika transport against the real RabbitMQ, in a scratch vhost with the sihub layout."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator

import pika
import pytest
from click.testing import CliRunner

from hub.bus.amqp import AmqpBroker
from hub.bus.amqp_codec import connection_parameters
from hub.bus.declare import declare_topology
from hub.bus.management import ManagementClient
from hub.bus.memory import MemoryBroker
from hub.bus.topology import OUT_EXCHANGE, QUARANTINE_QUEUE, default_topology, department_queue
from hub.bus.types import (
    Broker,
    BusError,
    ConnectionLost,
    Consumer,
    Delivery,
    FailureReason,
    Outgoing,
    PublishFailed,
)
from hub.topology_cli import topology_command

pytestmark = pytest.mark.integration

#: Low, so that dead-lettering takes a few nacks; the in-memory broker gets the same.
DELIVERY_LIMIT = 3


@pytest.fixture(scope="module")
def vhost(
    scratch_vhost: str, rabbit_management: ManagementClient, rabbit_url: Callable[..., str]
) -> str:
    topology = default_topology(scratch_vhost, DELIVERY_LIMIT)
    declare_topology(topology, connection_parameters(rabbit_url(scratch_vhost)), rabbit_management)
    return scratch_vhost


@pytest.fixture
def broker(vhost: str, rabbit_url: Callable[..., str]) -> Iterator[AmqpBroker]:
    amqp = AmqpBroker(
        connection_parameters(rabbit_url(vhost)), connection_name=f"test-{uuid.uuid4().hex[:8]}"
    )
    yield amqp
    amqp.close()


@pytest.fixture(params=["memory", "rabbitmq"])
def either_broker(request: pytest.FixtureRequest, vhost: str) -> Broker:
    """The same scenario on the in-memory broker and on RabbitMQ: the fake must not drift."""
    if request.param == "memory":
        return MemoryBroker(default_topology(vhost, DELIVERY_LIMIT)).connect("hub")
    amqp: Broker = request.getfixturevalue("broker")
    return amqp


def _drain(consumer: Consumer, expected: int, timeout_seconds: float = 30.0) -> list[Delivery]:
    received: list[Delivery] = []
    deadline = time.monotonic() + timeout_seconds
    while len(received) < expected and time.monotonic() < deadline:
        batch = consumer.fetch(500, 1.0)
        received += batch
        if batch:
            consumer.ack([d.delivery_tag for d in batch])
    return received


def test_5000_confirmed_messages_are_consumed_and_acked_exactly_once(broker: AmqpBroker) -> None:
    queue = department_queue("hrss")
    messages = [
        Outgoing(OUT_EXCHANGE, "hrss.case.routed", b'{"n": %d}' % i, message_id=f"m{i}")
        for i in range(5000)
    ]
    broker.publisher().publish(messages)
    assert broker.queue_depth(queue) == 5000

    consumer = broker.consumer(queue, prefetch=256)
    received = _drain(consumer, 5000)
    consumer.close()  # an ack that never reached RabbitMQ would come back to the queue here

    counts = Counter(d.message_id for d in received)
    assert set(counts) == {m.message_id for m in messages}
    assert max(counts.values()) == 1
    assert broker.queue_depth(queue) == 0


def test_message_properties_and_headers_survive_the_round_trip(broker: AmqpBroker) -> None:
    sent = Outgoing(
        OUT_EXCHANGE,
        "justice.case.routed",
        b"{}",
        headers={"x-sihub-key-id": "hub-1", "n": 7, "ok": True},
        message_id="p1",
        user_id="guest",
        correlation_id="c1",
        timestamp_ms=1_767_225_600_123,
    )
    broker.publisher().publish([sent])

    [got] = _drain(broker.consumer(department_queue("justice")), 1)
    assert (got.body, got.exchange, got.routing_key) == (b"{}", OUT_EXCHANGE, "justice.case.routed")
    assert (got.message_id, got.user_id, got.correlation_id) == ("p1", "guest", "c1")
    assert (got.content_type, got.timestamp_ms, got.delivery_count) == (
        "application/json",
        1_767_225_600_123,
        0,
    )
    assert {k: got.headers[k] for k in ("x-sihub-key-id", "n", "ok")} == {
        "x-sihub-key-id": "hub-1",
        "n": 7,
        "ok": True,
    }


def test_unroutable_messages_fail_by_name_among_many_in_flight(broker: AmqpBroker) -> None:
    # Every third message goes nowhere: basic.return must be matched to the right message.
    messages = [
        Outgoing(
            OUT_EXCHANGE, "nobody.x" if i % 3 == 0 else "finance.x", b"%d" % i, message_id=f"u{i}"
        )
        for i in range(600)
    ]
    with pytest.raises(PublishFailed) as raised:
        broker.publisher().publish(messages)

    assert {m.message_id for m, r in raised.value.failed if r is FailureReason.UNROUTABLE} == {
        f"u{i}" for i in range(0, 600, 3)
    }
    assert len(raised.value.failed) == 200
    delivered = _drain(broker.consumer(department_queue("finance")), 400)
    assert sorted(d.message_id or "" for d in delivered) == sorted(
        f"u{i}" for i in range(600) if i % 3
    )


def test_missing_exchange_fails_only_that_message_and_the_rest_of_the_batch_arrives(
    broker: AmqpBroker,
) -> None:
    # RabbitMQ closes the channel (404) and drops what was in flight behind the culprit.
    good = [Outgoing(OUT_EXCHANGE, "taskforce.x", b"%d" % i, message_id=f"g{i}") for i in range(50)]
    bad = Outgoing("sihub.nowhere", "taskforce.x", b"", message_id="bad")
    with pytest.raises(PublishFailed) as raised:
        broker.publisher().publish([*good[:10], bad, *good[10:]])

    assert raised.value.failed == [(bad, FailureReason.NOT_FOUND)]
    delivered = _drain(broker.consumer(department_queue("taskforce")), 50)
    assert {d.message_id for d in delivered} == {m.message_id for m in good}


def test_over_the_delivery_limit_a_message_lands_in_quarantine(either_broker: Broker) -> None:
    marker = uuid.uuid4().hex
    either_broker.publisher().publish(
        [Outgoing(OUT_EXCHANGE, "medins.case.routed", b"{}", message_id=marker)]
    )
    consumer = either_broker.consumer(department_queue("medins"))

    attempts = []
    while batch := consumer.fetch(10, 0.5):
        attempts.append((batch[0].delivery_count, batch[0].redelivered))
        consumer.nack([d.delivery_tag for d in batch])

    assert attempts == [(0, False), (1, True), (2, True), (3, True)]
    quarantine = either_broker.consumer(QUARANTINE_QUEUE)
    dead = [d for d in _drain(quarantine, 1, timeout_seconds=10) if d.message_id == marker]
    assert len(dead) == 1
    assert dead[0].headers["x-first-death-reason"] == "delivery_limit"
    assert dead[0].headers["x-first-death-queue"] == department_queue("medins")
    assert dead[0].exchange == "sihub.dlx"


def test_dropped_consumer_connection_raises_connection_lost_and_unacked_are_redelivered(
    broker: AmqpBroker,
    rabbit_management: ManagementClient,
    vhost: str,
    wait_for_connection: Callable[[str, str], str],
) -> None:
    queue = department_queue("court")
    broker.publisher().publish(
        [Outgoing(OUT_EXCHANGE, "court.x", b"%d" % i, message_id=f"c{i}") for i in range(3)]
    )
    consumer = broker.consumer(queue)
    first: list[Delivery] = []
    while len(first) < 3:
        first += consumer.fetch(10, 2.0)

    rabbit_management.close_connection(
        wait_for_connection(vhost, f"{broker.connection_name} consumer {queue}")
    )
    with pytest.raises(ConnectionLost):
        consumer.fetch(10, 10.0)
    with pytest.raises(ConnectionLost, match="lost connection"):
        consumer.ack(
            [d.delivery_tag for d in first]
        )  # tags of the dead channel must not ack anything

    again: list[Delivery] = []
    while len(again) < 3:
        again += consumer.fetch(10, 5.0)  # reconnects
    consumer.ack([d.delivery_tag for d in again])
    consumer.close()

    assert sorted(d.message_id or "" for d in again) == ["c0", "c1", "c2"]
    assert all(d.redelivered for d in again)
    assert [d.delivery_count for d in again] == [1, 1, 1]  # a lost consumer counts, as a nack does
    assert min(d.delivery_tag for d in again) > max(d.delivery_tag for d in first)
    assert broker.queue_depth(queue) == 0


def test_publisher_connection_dropped_mid_batch_raises_connection_lost_then_reconnects(
    broker: AmqpBroker,
    rabbit_management: ManagementClient,
    vhost: str,
    wait_for_connection: Callable[[str, str], str],
) -> None:
    publisher = broker.publisher()
    name = wait_for_connection(vhost, f"{broker.connection_name} publisher")
    # Unroutable messages are confirmed without being stored: a long batch that costs nothing.
    flood = [Outgoing(OUT_EXCHANGE, "nobody.x", b"") for _ in range(100_000)]
    outcome: list[BaseException] = []

    def publish() -> None:
        try:
            publisher.publish(flood, timeout_seconds=60)
        except BusError as error:
            outcome.append(error)

    thread = threading.Thread(target=publish)
    thread.start()
    time.sleep(0.3)
    rabbit_management.close_connection(name)
    thread.join(60)

    assert len(outcome) == 1 and isinstance(outcome[0], ConnectionLost), outcome
    publisher.publish([Outgoing(OUT_EXCHANGE, "lgo.x", b"{}", message_id="after-loss")])
    assert [d.message_id for d in _drain(broker.consumer(department_queue("lgo")), 1)] == [
        "after-loss"
    ]


def test_queue_depth_of_a_missing_queue_is_an_error_not_a_lost_connection(
    broker: AmqpBroker,
) -> None:
    with pytest.raises(BusError, match="404") as raised:
        broker.queue_depth("sihub.dept.nobody")
    assert not isinstance(raised.value, ConnectionLost)
    assert broker.queue_depth(department_queue("police")) == 0  # the broker recovers a channel


def test_topology_command_declares_then_check_finds_no_drift_until_something_is_removed(
    rabbit_management: ManagementClient,
    rabbit_url: Callable[..., str],
    rabbit_management_url: str,
    scratch_name: Callable[[str], str],
) -> None:
    fresh = scratch_name("cli")
    options = ["--broker-url", rabbit_url(fresh), "--management-url", rabbit_management_url]
    runner = CliRunner()
    try:
        declared = runner.invoke(topology_command, options)
        assert declared.exit_code == 0, declared.output
        assert f"vhost {fresh}: created" in declared.output
        again = runner.invoke(topology_command, options)
        assert again.exit_code == 0 and f"vhost {fresh}: exists" in again.output

        clean = runner.invoke(topology_command, [*options, "--check"])
        assert clean.exit_code == 0, clean.output
        assert f"vhost {fresh}: no drift" in clean.output

        [binding] = [
            b
            for b in rabbit_management.bindings(fresh)
            if (b["source"], b["destination"]) == ("sihub.out", "sihub.dept.lgo")
        ]
        rabbit_management.delete_binding(
            fresh, "sihub.out", "sihub.dept.lgo", binding["properties_key"]
        )
        rabbit_management.delete_policy(fresh, "sihub-quarantine")
        drifted = runner.invoke(topology_command, [*options, "--check"])
        assert drifted.exit_code == 1
        assert "binding sihub.out -> sihub.dept.lgo [lgo.#]: missing" in drifted.output
        assert "policy sihub-quarantine: missing" in drifted.output

        # A classic queue where a quorum queue belongs: drift, and a redeclare cannot fix it.
        connection = pika.BlockingConnection(pika.URLParameters(rabbit_url(fresh)))
        channel = connection.channel()
        channel.queue_delete("sihub.dept.petition")
        channel.queue_declare("sihub.dept.petition", durable=True)
        connection.close()
        conflict = runner.invoke(topology_command, options)
        assert conflict.exit_code == 1 and "406" in conflict.output
        classic = runner.invoke(topology_command, [*options, "--check"])
        assert "queue sihub.dept.petition: type classic, expected quorum" in classic.output
    finally:
        rabbit_management.delete_vhost(fresh)
