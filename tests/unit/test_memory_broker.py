"""The in-process broker behaves like the RabbitMQ layout: routing, permissions, redelivery."""

from __future__ import annotations

import threading
import time

import pytest

from hub.bus.factory import memory_broker, open_broker, reset_memory_broker
from hub.bus.memory import MemoryBroker, MemoryConnection
from hub.bus.routing import topic_matches
from hub.bus.topology import (
    HUB_QUEUE,
    IN_EXCHANGE,
    OUT_EXCHANGE,
    QUARANTINE_EXCHANGE,
    QUARANTINE_QUEUE,
    default_topology,
    department_queue,
)
from hub.bus.types import (
    AccessRefused,
    BusError,
    FailureReason,
    Outgoing,
    PublishFailed,
    PublishRefused,
)


@pytest.fixture
def broker() -> MemoryBroker:
    return MemoryBroker(default_topology(delivery_limit=2))


def _hub(broker: MemoryBroker) -> MemoryConnection:
    return broker.connect("hub")


def _out(
    routing_key: str, message_id: str = "m1", headers: dict[str, str] | None = None
) -> Outgoing:
    return Outgoing(
        OUT_EXCHANGE, routing_key, b'{"n": 1}', headers=headers or {}, message_id=message_id
    )


@pytest.mark.parametrize(
    ("binding_key", "routing_key", "matches"),
    [
        ("#", "tax.case.registered", True),
        ("#", "", True),
        ("tax.#", "tax", True),
        ("tax.#", "tax.case.registered", True),
        ("tax.#", "taxforce.case.routed", False),
        ("tax.*", "tax.case", True),
        ("tax.*", "tax.case.registered", False),
        ("tax.*", "tax", False),
        ("*.case.*", "hrss.case.routed", True),
        ("*.case.*", "case.routed", False),
        ("*", "", False),
        ("", "", True),
        ("", "tax", False),
        ("#.registered", "tax.case.registered", True),
        ("tax.#.registered", "tax.registered", True),
        ("tax.#.registered", "tax.case.x.registered", True),
        ("tax.#.registered", "tax.case.routed", False),
        ("a.*.#", "a", False),
        ("a.*.#", "a.b.c.d", True),
        ("#.#", "a.b.c", True),
        ("a.*.b", "a..b", True),
        ("tax.case.routed", "tax.case.routed", True),
        ("tax.case.routed", "tax.case.routedx", False),
    ],
)
def test_topic_binding_matches_like_amqp(binding_key: str, routing_key: str, matches: bool) -> None:
    assert topic_matches(binding_key, routing_key) is matches


def test_hub_publish_to_out_reaches_only_the_target_department_queue(broker: MemoryBroker) -> None:
    _hub(broker).publisher().publish([_out("township.case.routed")])

    assert broker.queue_depth(department_queue("township")) == 1
    assert broker.queue_depth(department_queue("tax")) == 0
    assert broker.queue_depth(HUB_QUEUE) == 0


def test_department_publish_to_in_reaches_the_hub_queue_with_its_properties(
    broker: MemoryBroker,
) -> None:
    message = Outgoing(
        IN_EXCHANGE,
        "tax.case.registered",
        b"{}",
        headers={"x-sihub-key-id": "k1"},
        message_id="m7",
        user_id="tax",
        correlation_id="c7",
        timestamp_ms=1_700_000_000_123,
    )
    broker.connect("tax").publisher().publish([message])

    [delivery] = _hub(broker).consumer(HUB_QUEUE).fetch(10, 0)
    assert (delivery.exchange, delivery.routing_key, delivery.body) == (
        IN_EXCHANGE,
        "tax.case.registered",
        b"{}",
    )
    assert (delivery.message_id, delivery.user_id, delivery.correlation_id) == ("m7", "tax", "c7")
    assert delivery.timestamp_ms == 1_700_000_000_123
    assert delivery.headers["x-sihub-key-id"] == "k1"
    assert (delivery.redelivered, delivery.delivery_count) == (False, 0)


def test_unroutable_message_fails_and_the_rest_of_the_batch_is_confirmed(
    broker: MemoryBroker,
) -> None:
    publisher = _hub(broker).publisher()
    with pytest.raises(PublishFailed) as raised:
        publisher.publish([_out("tax.case.routed", "a"), _out("nobody.case.routed", "b")])

    assert [(m.message_id, reason) for m, reason in raised.value.failed] == [
        ("b", FailureReason.UNROUTABLE)
    ]
    assert broker.queue_depth(department_queue("tax")) == 1


def test_outgoing_headers_cannot_change_after_construction() -> None:
    headers: dict[str, str | int | bool] = {"a": "1"}
    message = Outgoing(OUT_EXCHANGE, "tax.x", b"", headers=headers)
    headers["a"] = "2"

    assert message.headers["a"] == "1"


def test_department_may_publish_only_its_own_prefix_to_in(broker: MemoryBroker) -> None:
    publisher = broker.connect("tax").publisher()
    publisher.publish([Outgoing(IN_EXCHANGE, "tax.case.registered", b"{}", message_id="ok")])

    spoofed = Outgoing(IN_EXCHANGE, "hrss.case.registered", b"{}", message_id="spoof")
    prefix_only = Outgoing(IN_EXCHANGE, "taxforce.case.registered", b"{}", message_id="prefix")
    with pytest.raises(AccessRefused) as raised:
        publisher.publish([spoofed, prefix_only])

    assert isinstance(raised.value, PublishRefused)
    assert [m.message_id for m, _ in raised.value.failed] == ["spoof", "prefix"]
    assert broker.queue_depth(HUB_QUEUE) == 1


def test_department_may_not_publish_to_out(broker: MemoryBroker) -> None:
    with pytest.raises(PublishRefused):
        broker.connect("tax").publisher().publish([_out("hrss.case.routed")])
    assert broker.queue_depth(department_queue("hrss")) == 0


def test_department_may_consume_only_its_own_queue(broker: MemoryBroker) -> None:
    tax = broker.connect("tax")
    tax.consumer(department_queue("tax"))
    with pytest.raises(AccessRefused):
        tax.consumer(department_queue("hrss"))
    with pytest.raises(AccessRefused):
        tax.consumer(HUB_QUEUE)


def test_unknown_user_cannot_connect(broker: MemoryBroker) -> None:
    with pytest.raises(AccessRefused):
        broker.connect("mallory")


def test_spoofed_user_id_is_refused_and_own_user_id_accepted(broker: MemoryBroker) -> None:
    publisher = broker.connect("tax").publisher()
    with pytest.raises(PublishRefused) as raised:
        publisher.publish(
            [
                Outgoing(
                    IN_EXCHANGE, "tax.case.registered", b"{}", message_id="own", user_id="tax"
                ),
                Outgoing(
                    IN_EXCHANGE, "tax.case.registered", b"{}", message_id="spoof", user_id="hrss"
                ),
            ]
        )

    assert [(m.message_id, r) for m, r in raised.value.failed] == [
        ("spoof", FailureReason.ACCESS_REFUSED)
    ]
    [delivery] = _hub(broker).consumer(HUB_QUEUE).fetch(10, 0)
    assert (delivery.message_id, delivery.user_id) == ("own", "tax")


def test_nacked_message_is_redelivered_then_dead_lettered_over_the_delivery_limit(
    broker: MemoryBroker,
) -> None:
    hub = _hub(broker)
    hub.publisher().publish([_out("tax.case.routed", headers={"x-sihub-trace": "t"})])
    consumer = hub.consumer(department_queue("tax"))

    seen = []
    while batch := consumer.fetch(10, 0):
        seen.append((batch[0].delivery_count, batch[0].redelivered))
        consumer.nack([batch[0].delivery_tag])

    # delivery-limit 2: the first delivery plus two redeliveries, as RabbitMQ 3.10 does.
    assert seen == [(0, False), (1, True), (2, True)]
    [dead] = hub.consumer(QUARANTINE_QUEUE).fetch(10, 0)
    assert dead.headers["x-first-death-reason"] == "delivery_limit"
    assert dead.headers["x-first-death-queue"] == department_queue("tax")
    assert dead.headers["x-first-death-exchange"] == OUT_EXCHANGE
    assert dead.headers["x-death"][0]["count"] == 1
    assert dead.headers["x-sihub-trace"] == "t"
    assert (dead.exchange, dead.routing_key, dead.delivery_count) == (
        "sihub.dlx",
        "tax.case.routed",
        0,
    )


def test_rejected_message_without_requeue_is_dead_lettered_as_rejected(
    broker: MemoryBroker,
) -> None:
    hub = _hub(broker)
    hub.publisher().publish([_out("tax.case.routed")])
    consumer = hub.consumer(department_queue("tax"))
    consumer.nack([consumer.fetch(1, 0)[0].delivery_tag], requeue=False)

    [dead] = hub.consumer(QUARANTINE_QUEUE).fetch(10, 0)
    assert dead.headers["x-first-death-reason"] == "rejected"


def test_quarantine_never_dead_letters_into_itself(broker: MemoryBroker) -> None:
    hub = _hub(broker)
    hub.publisher().publish([Outgoing(QUARANTINE_EXCHANGE, "", b"bad", message_id="q")])
    consumer = hub.consumer(QUARANTINE_QUEUE)
    for _ in range(5):  # more than the work queues' delivery limit
        consumer.nack([consumer.fetch(1, 0)[0].delivery_tag])

    [again] = consumer.fetch(1, 0)
    assert (again.message_id, again.delivery_count) == ("q", 5)
    assert broker.queue_depth(QUARANTINE_QUEUE) == 0


def test_full_quarantine_nacks_publishes_instead_of_dropping() -> None:
    broker = MemoryBroker(default_topology(quarantine_max_length=2))
    publisher = broker.connect("hub").publisher()
    publisher.publish(
        [Outgoing(QUARANTINE_EXCHANGE, "", b"1"), Outgoing(QUARANTINE_EXCHANGE, "", b"2")]
    )

    with pytest.raises(PublishFailed) as raised:
        publisher.publish([Outgoing(QUARANTINE_EXCHANGE, "", b"3")])
    assert [reason for _, reason in raised.value.failed] == [FailureReason.NACKED]
    assert raised.value.retryable()[0].body == b"3"


def test_closing_a_consumer_returns_unacked_messages_as_redelivered(broker: MemoryBroker) -> None:
    hub = _hub(broker)
    hub.publisher().publish([_out("tax.a", "1"), _out("tax.b", "2")])
    first = hub.consumer(department_queue("tax"))
    [one, _two] = first.fetch(10, 0)
    first.ack([one.delivery_tag])
    first.close()

    [again] = hub.consumer(department_queue("tax")).fetch(10, 0)
    assert (again.message_id, again.redelivered, again.delivery_count) == ("2", True, 1)


def test_prefetch_limits_unacked_deliveries(broker: MemoryBroker) -> None:
    hub = _hub(broker)
    hub.publisher().publish([_out("tax.x", str(i)) for i in range(5)])
    consumer = hub.consumer(department_queue("tax"), prefetch=2)

    batch = consumer.fetch(10, 0)
    assert [d.message_id for d in batch] == ["0", "1"]
    assert consumer.fetch(10, 0.05) == []
    consumer.ack([batch[0].delivery_tag])
    assert [d.message_id for d in consumer.fetch(10, 0)] == ["2"]


def test_acking_an_unknown_delivery_tag_is_an_error(broker: MemoryBroker) -> None:
    consumer = _hub(broker).consumer(department_queue("tax"))
    with pytest.raises(BusError, match="unknown delivery tags"):
        consumer.ack([42])


def test_fetch_waits_for_a_message_published_by_another_thread(broker: MemoryBroker) -> None:
    hub = _hub(broker)
    consumer = hub.consumer(department_queue("tax"))
    timer = threading.Timer(0.05, lambda: hub.publisher().publish([_out("tax.late")]))
    timer.start()
    started = time.monotonic()

    batch = consumer.fetch(10, 5.0)
    timer.join()
    assert [d.routing_key for d in batch] == ["tax.late"]
    assert time.monotonic() - started < 2.0


def test_fetch_on_an_empty_queue_returns_nothing_after_the_wait(broker: MemoryBroker) -> None:
    consumer = _hub(broker).consumer(department_queue("tax"))
    started = time.monotonic()

    assert consumer.fetch(10, 0.1) == []
    assert time.monotonic() - started >= 0.1


def test_join_waits_until_every_message_is_acked(broker: MemoryBroker) -> None:
    hub = _hub(broker)
    hub.publisher().publish([_out("tax.x", str(i)) for i in range(20)])
    consumer = hub.consumer(department_queue("tax"))

    def work() -> None:
        while batch := consumer.fetch(3, 0.2):
            time.sleep(0.005)
            consumer.ack([d.delivery_tag for d in batch])

    worker = threading.Thread(target=work)
    worker.start()
    broker.join(department_queue("tax"), timeout_seconds=5)
    worker.join()
    assert broker.queue_depth(department_queue("tax")) == 0


def test_join_times_out_while_a_message_is_unacked(broker: MemoryBroker) -> None:
    hub = _hub(broker)
    hub.publisher().publish([_out("tax.x")])
    hub.consumer(department_queue("tax")).fetch(1, 0)

    with pytest.raises(TimeoutError, match="1 unacked"):
        broker.join(department_queue("tax"), timeout_seconds=0.05)


def test_concurrent_publishers_and_consumers_deliver_each_message_once(
    broker: MemoryBroker,
) -> None:
    hub = _hub(broker)
    received: list[str] = []
    lock = threading.Lock()

    def publish(worker: int) -> None:
        publisher = hub.publisher()
        for start in range(0, 200, 20):
            publisher.publish([_out("tax.x", f"{worker}-{i}") for i in range(start, start + 20)])

    def consume() -> None:
        consumer = hub.consumer(department_queue("tax"), prefetch=16)
        while batch := consumer.fetch(8, 0.3):
            with lock:
                received.extend(d.message_id or "" for d in batch)
            consumer.ack([d.delivery_tag for d in batch])

    threads = [threading.Thread(target=publish, args=(w,)) for w in range(4)]
    threads += [threading.Thread(target=consume) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(received) == sorted(f"{w}-{i}" for w in range(4) for i in range(200))


def test_open_broker_memory_url_connects_to_the_process_broker_as_the_named_user() -> None:
    shared = reset_memory_broker()
    tax = open_broker("memory://tax@")
    hub = open_broker("memory://")

    assert isinstance(tax, MemoryConnection) and tax.user.name == "tax"
    assert isinstance(hub, MemoryConnection) and hub.user.name == "hub"
    assert tax.broker is shared is memory_broker()
    hrss = open_broker("memory://", user="hrss")
    assert isinstance(hrss, MemoryConnection) and hrss.user.name == "hrss"


def test_reset_memory_broker_starts_empty() -> None:
    open_broker("memory://").publisher().publish([_out("tax.x")])
    reset_memory_broker()

    assert memory_broker().queue_depth(department_queue("tax")) == 0


def test_open_broker_refuses_an_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="scheme"):
        open_broker("redis://localhost")
