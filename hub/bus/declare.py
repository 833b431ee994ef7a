"""Declaring a ``Topology`` on RabbitMQ, idempotently, and reading back what is there."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pika
import pika.exceptions

from hub.bus.amqp_codec import map_channel_error, map_connection_error
from hub.bus.drift import Observed
from hub.bus.management import ManagementClient
from hub.bus.topology import Topology
from hub.bus.types import BusError


class TopologyConflict(BusError):
    """The broker has an object of ours with other properties; redeclaring cannot fix it."""


def declare_topology(
    topology: Topology,
    parameters: pika.ConnectionParameters,
    management: ManagementClient,
    report: Callable[[str], None] = lambda line: None,
) -> None:
    """Create the vhost if missing, then policies, exchanges, queues and bindings.

    Policies go first so that no queue lives a moment without its delivery limit and
    dead-lettering. Exchanges, queues and bindings are declared over AMQP with
    ``parameters`` (a user with configure rights on ``sihub.*``).

    Raises:
        TopologyConflict: an object exists with other properties (RabbitMQ's 406), e.g.
            a classic queue where a quorum queue belongs: it must be migrated by hand.
        AccessRefused: the user may not configure these names.
    """
    vhost = topology.vhost
    if management.vhost_exists(vhost):
        report(f"vhost {vhost}: exists")
    else:
        management.create_vhost(vhost)
        report(f"vhost {vhost}: created")
    for policy in topology.policies:
        management.put_policy(vhost, policy)
        report(f"policy {policy.name} ({policy.pattern}): set {dict(policy.definition)}")
    parameters = copy.copy(parameters)
    parameters.virtual_host = vhost
    try:
        connection = pika.BlockingConnection(parameters)
    except pika.exceptions.AMQPConnectionError as error:
        raise map_connection_error(error) from error
    try:
        channel = connection.channel()
        for exchange in topology.exchanges:
            channel.exchange_declare(exchange.name, exchange.type, durable=True)
            report(f"exchange {exchange.name} ({exchange.type}): declared")
        for queue in topology.queues:
            channel.queue_declare(queue.name, durable=True, arguments=dict(queue.arguments))
            report(
                f"queue {queue.name} ({queue.arguments.get('x-queue-type', 'classic')}): declared"
            )
        for binding in topology.bindings:
            channel.queue_bind(binding.queue, binding.exchange, binding.routing_key)
            report(
                f"binding {binding.exchange} -> {binding.queue} [{binding.routing_key}]: declared"
            )
    except pika.exceptions.ChannelClosed as error:
        if error.reply_code == 406:
            raise TopologyConflict(f"{error.reply_code} {error.reply_text}") from error
        raise map_channel_error(error) from error
    except pika.exceptions.AMQPConnectionError as error:
        raise map_connection_error(error) from error
    finally:
        if connection.is_open:
            connection.close()


def observe(management: ManagementClient, vhost: str) -> Observed:
    """What the broker has in ``vhost``, for ``find_drift``."""
    return Observed(
        exchanges=management.exchanges(vhost),
        queues=management.queues(vhost),
        bindings=management.bindings(vhost),
        policies=management.policies(vhost),
    )
