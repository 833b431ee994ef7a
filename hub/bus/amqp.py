"""The RabbitMQ ``Broker``: publishers and consumers on their own pika connections."""

from __future__ import annotations

import threading
from typing import Any

import pika
import pika.exceptions

from hub.bus.amqp_codec import blocking_connection, map_channel_error, map_connection_error, named
from hub.bus.amqp_consumer import AmqpConsumer
from hub.bus.amqp_publisher import AmqpPublisher
from hub.bus.nodes import Nodes


class AmqpBroker:
    """A ``Broker`` for the user in ``nodes``; each publisher and consumer has a connection.

    ``nodes`` are one RabbitMQ or the nodes of a cluster: each connection opens on the
    first that answers (:class:`~hub.bus.nodes.Nodes`). Connections show in the
    management UI as ``<connection_name> publisher`` and ``<connection_name> consumer
    <queue>``, which is how operators (and tests) find them.
    """

    def __init__(
        self,
        nodes: Nodes | pika.ConnectionParameters,
        connection_name: str = "sihub",
        max_in_flight: int = 256,
    ) -> None:
        self.nodes = Nodes.of(nodes)
        self.parameters = self.nodes.first
        self.connection_name = connection_name
        self._max_in_flight = max_in_flight
        self._lock = threading.Lock()
        self._clients: list[AmqpPublisher | AmqpConsumer] = []
        self._depth_connection: Any = None
        self._depth_channel: Any = None

    def publisher(self) -> AmqpPublisher:
        """A publisher with up to ``max_in_flight`` unconfirmed messages."""
        publisher = AmqpPublisher(self._named("publisher"), self._max_in_flight)
        with self._lock:
            self._clients.append(publisher)
        return publisher

    def consumer(self, queue: str, prefetch: int = 256) -> AmqpConsumer:
        """A consumer of ``queue``; ``AccessRefused`` without read permission on it."""
        consumer = AmqpConsumer(self._named(f"consumer {queue}"), queue, prefetch)
        with self._lock:
            self._clients.append(consumer)
        return consumer

    def queue_depth(self, queue: str) -> int:
        """Ready messages in ``queue``, by a passive ``queue.declare`` (no permission needed)."""
        with self._lock:
            try:
                if self._depth_channel is None or not self._depth_channel.is_open:
                    if self._depth_connection is None or not self._depth_connection.is_open:
                        self._depth_connection = self._named("depth").open(blocking_connection)
                    self._depth_channel = self._depth_connection.channel()
                result = self._depth_channel.queue_declare(queue, passive=True)
            except pika.exceptions.ChannelClosed as error:
                raise map_channel_error(error) from error  # 404: no such queue
            except pika.exceptions.AMQPConnectionError as error:
                self._depth_connection = None
                raise map_connection_error(error) from error
            return int(result.method.message_count)

    def _named(self, role: str) -> Nodes:
        """The nodes, with connections showing as ``<connection_name> <role>``."""
        return self.nodes.renamed(lambda p: named(p, f"{self.connection_name} {role}"))

    def close(self) -> None:
        """Close every publisher and consumer made here; call once their threads have stopped."""
        with self._lock:
            clients, self._clients = self._clients, []
            depth, self._depth_connection, self._depth_channel = self._depth_connection, None, None
        for client in clients:
            client.close()
        if depth is not None and depth.is_open:
            depth.close()
