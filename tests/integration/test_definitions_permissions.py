"""The generated definitions, imported into RabbitMQ, enforce the department permissions of DESIGN §4.

Users are global in RabbitMQ: importing creates (or resets to the same development
passwords) ``hub`` and one user per department; only the vhost is scratch.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pika
import pika.exceptions
import pytest

from hub.bus.amqp import AmqpBroker
from hub.bus.amqp_codec import connection_parameters
from hub.bus.management import ManagementClient
from hub.bus.topology import (
    HUB_QUEUE,
    IN_EXCHANGE,
    OUT_EXCHANGE,
    default_topology,
    department_queue,
    to_definitions,
)
from hub.bus.types import AccessRefused, Delivery, FailureReason, Outgoing, PublishRefused

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def vhost(rabbit_management: ManagementClient, scratch_name: Callable[[str], str]) -> Iterator[str]:
    name = scratch_name("definitions")
    rabbit_management.import_definitions(to_definitions(default_topology(name)))
    yield name
    rabbit_management.delete_vhost(name)


@pytest.fixture
def as_user(vhost: str, rabbit_url: Callable[..., str]) -> Iterator[Callable[[str], AmqpBroker]]:
    """``as_user(code)``: a broker logged in as that user with its development password."""
    opened: list[AmqpBroker] = []

    def connect(user: str) -> AmqpBroker:
        broker = AmqpBroker(
            connection_parameters(rabbit_url(vhost, user, f"{user}-dev")), f"test-{user}"
        )
        opened.append(broker)
        return broker

    yield connect
    for broker in opened:
        broker.close()


def _incoming(routing_key: str, user_id: str | None = "tax") -> Outgoing:
    return Outgoing(IN_EXCHANGE, routing_key, b"{}", message_id=uuid.uuid4().hex, user_id=user_id)


def _fetch_all(broker: AmqpBroker, queue: str, count: int) -> list[Delivery]:
    consumer = broker.consumer(queue)
    received: list[Delivery] = []
    while len(received) < count and (batch := consumer.fetch(10, 2.0)):
        received += batch
        consumer.ack([d.delivery_tag for d in batch])
    consumer.close()
    return received


def test_department_publishes_its_own_prefix_and_the_hub_receives_it_with_user_id(
    as_user: Callable[[str], AmqpBroker],
) -> None:
    message = _incoming("tax.case.registered")
    as_user("tax").publisher().publish([message])

    received = _fetch_all(as_user("hub"), HUB_QUEUE, 1)
    assert [(d.message_id, d.user_id) for d in received] == [(message.message_id, "tax")]


def test_another_departments_prefix_is_refused_and_the_rest_of_the_batch_still_arrives(
    as_user: Callable[[str], AmqpBroker],
) -> None:
    good = [_incoming("tax.case.registered") for _ in range(5)]
    spoof = _incoming("hrss.case.registered")
    with pytest.raises(PublishRefused) as raised:
        as_user("tax").publisher().publish([*good[:2], spoof, *good[2:]])

    assert raised.value.failed == [(spoof, FailureReason.ACCESS_REFUSED)]
    received = {d.message_id for d in _fetch_all(as_user("hub"), HUB_QUEUE, 5)}
    assert received == {m.message_id for m in good}


def test_department_may_not_publish_to_out(as_user: Callable[[str], AmqpBroker]) -> None:
    with pytest.raises(AccessRefused):
        as_user("tax").publisher().publish([Outgoing(OUT_EXCHANGE, "hrss.case.routed", b"{}")])


def test_department_consumes_its_own_queue_and_no_other(
    as_user: Callable[[str], AmqpBroker],
) -> None:
    routed = Outgoing(
        OUT_EXCHANGE, "medins.case.routed", b"{}", message_id=uuid.uuid4().hex, user_id="hub"
    )
    as_user("hub").publisher().publish([routed])
    medins = as_user("medins")

    assert [d.message_id for d in _fetch_all(medins, department_queue("medins"), 1)] == [
        routed.message_id
    ]
    with pytest.raises(AccessRefused):
        medins.consumer(department_queue("tax"))
    with pytest.raises(AccessRefused):
        medins.consumer(HUB_QUEUE)


def test_department_reads_its_queue_depth_without_configure_permission(
    as_user: Callable[[str], AmqpBroker],
) -> None:
    # A passive queue.declare needs no permission at all in RabbitMQ 3.10.
    assert as_user("court").queue_depth(department_queue("court")) == 0


def test_rabbitmq_itself_refuses_a_spoofed_user_id(
    vhost: str, rabbit_url: Callable[..., str]
) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(rabbit_url(vhost, "tax", "tax-dev")))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as raised:
            channel.basic_publish(
                IN_EXCHANGE,
                "tax.case.registered",
                b"{}",
                pika.BasicProperties(user_id="hrss"),
                mandatory=True,
            )
        assert raised.value.reply_code == 406
    finally:
        connection.close()


def test_our_publisher_refuses_a_spoofed_user_id_too(as_user: Callable[[str], AmqpBroker]) -> None:
    with pytest.raises(PublishRefused) as raised:
        as_user("tax").publisher().publish([_incoming("tax.case.registered", user_id="hrss")])
    assert [reason for _, reason in raised.value.failed] == [FailureReason.ACCESS_REFUSED]


def test_department_cannot_declare_its_own_queue(
    vhost: str, rabbit_url: Callable[..., str]
) -> None:
    # configure "^$": adapters consume the queue sihub topology declared, never (re)declare it.
    connection = pika.BlockingConnection(pika.URLParameters(rabbit_url(vhost, "tax", "tax-dev")))
    try:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as raised:
            connection.channel().queue_declare(
                department_queue("tax"), durable=True, arguments={"x-queue-type": "quorum"}
            )
        assert raised.value.reply_code == 403
    finally:
        connection.close()


def test_wrong_password_is_access_refused(vhost: str, rabbit_url: Callable[..., str]) -> None:
    with pytest.raises(AccessRefused):
        AmqpBroker(connection_parameters(rabbit_url(vhost, "tax", "wrong"))).publisher()
