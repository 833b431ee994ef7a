"""RabbitMQ consumer: a pika ``BlockingConnection`` with prefetch and manual, batched acks.

The consumer never declares its queue: a department user has no configure
permission, and ``basic.consume`` needs only *read* on the queue.

Delivery tags handed out are our own: the channel's tag plus an offset that grows
at every reconnect, so a tag from a lost connection can never ack a message of
the new one (RabbitMQ restarts tags at 1 on every channel).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import pika
import pika.exceptions

from hub.bus.amqp_codec import (
    RECONNECT_POLICY,
    blocking_connection,
    map_channel_error,
    map_connection_error,
    to_delivery,
)
from hub.bus.nodes import Nodes
from hub.bus.types import BusError, ConnectionLost, Delivery


class AmqpConsumer:
    """A ``Consumer`` of one RabbitMQ queue; reconnects on the ``fetch`` after a ``ConnectionLost``.

    Use it from one thread. Heartbeats are answered only inside ``fetch``/``ack``/``nack``,
    so a batch held for minutes may come back as ``ConnectionLost`` (and be redelivered).
    """

    def __init__(
        self, nodes: Nodes | pika.ConnectionParameters, queue: str, prefetch: int = 256
    ) -> None:
        self._nodes = Nodes.of(nodes)
        self._queue = queue
        self._prefetch = prefetch
        self._connection: Any = None
        self._channel: Any = None
        self._buffer: deque[Delivery] = deque()
        self._outstanding: set[int] = set()  # our tags delivered by the broker and not settled
        self._offset = 0  # added to the channel's delivery tags on the current connection
        self._highest_tag = 0
        self._closed = False
        self._connect()  # a refused queue (403) or missing one (404) surfaces here

    def fetch(self, max_messages: int, max_wait_seconds: float) -> list[Delivery]:
        """Wait up to ``max_wait_seconds`` for a first message, then return what is ready."""
        if self._connection is None:
            self._connect()
        deadline = time.monotonic() + max_wait_seconds
        with self._translating_errors():
            while not self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._connection.process_data_events(time_limit=remaining)
            self._connection.process_data_events(time_limit=0)  # gather what has arrived since
        count = min(max_messages, len(self._buffer))
        return [self._buffer.popleft() for _ in range(count)]

    def ack(self, delivery_tags: Sequence[int]) -> None:
        """Acknowledge, with one ``multiple=True`` for the oldest contiguous run."""
        self._settle(
            delivery_tags, lambda tag, multiple: self._channel.basic_ack(tag, multiple=multiple)
        )

    def nack(self, delivery_tags: Sequence[int], requeue: bool = True) -> None:
        """Return (``requeue``) or dead-letter, with ``multiple=True`` where possible."""
        self._settle(
            delivery_tags,
            lambda tag, multiple: self._channel.basic_nack(tag, multiple=multiple, requeue=requeue),
        )

    def close(self) -> None:
        """Close the connection; RabbitMQ returns unacked messages to the queue."""
        self._closed = True
        self._drop_connection()

    def _settle(self, delivery_tags: Sequence[int], send: Callable[[int, bool], None]) -> None:
        tags = set(delivery_tags)
        stale = [tag for tag in tags if tag <= self._offset]
        if stale:
            raise ConnectionLost(
                f"delivery tags {sorted(stale)} belong to a lost connection; "
                "RabbitMQ redelivers those messages"
            )
        unknown = tags - self._outstanding
        if unknown:
            raise BusError(f"unknown delivery tags {sorted(unknown)}")
        if self._connection is None:
            raise ConnectionLost("not connected")
        run = oldest_run(sorted(self._outstanding), tags)
        with self._translating_errors():
            if run:
                send(run[-1] - self._offset, True)
            for tag in sorted(tags.difference(run)):
                send(tag - self._offset, False)
        self._outstanding -= tags

    def _connect(self) -> None:
        if self._closed:
            raise BusError("consumer is closed")
        RECONNECT_POLICY.copy()(self._open)

    def _open(self) -> None:
        with self._translating_errors():
            self._connection = self._nodes.open(blocking_connection)
            self._channel = self._connection.channel()
            self._channel.basic_qos(prefetch_count=self._prefetch)
            self._channel.add_on_cancel_callback(self._on_cancelled)
            self._channel.basic_consume(self._queue, self._on_message, auto_ack=False)

    def _on_message(self, _channel: Any, method: Any, properties: Any, body: bytes) -> None:
        tag = self._offset + method.delivery_tag
        self._highest_tag = max(self._highest_tag, tag)
        self._outstanding.add(tag)
        self._buffer.append(to_delivery(method, properties, body, tag))

    def _on_cancelled(self, _frame: Any) -> None:
        # The broker cancelled us (queue deleted, leader moved): start over on the next fetch.
        raise ConnectionLost(f"consumer of {self._queue} cancelled by the broker")

    def _drop_connection(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        self._buffer.clear()
        self._outstanding.clear()
        # Tags of this connection stay at or below the offset of the next, so they can be told apart.
        self._offset = self._highest_tag
        if connection is not None and connection.is_open:
            # A half-dead connection may fail to close cleanly; either way RabbitMQ requeues
            # its unacked messages, which is all closing is for.
            with suppress(pika.exceptions.AMQPError):
                connection.close()

    @contextmanager
    def _translating_errors(self) -> Iterator[None]:
        """Turn pika's exceptions into ours, dropping the broken connection."""
        try:
            yield
        except pika.exceptions.ChannelClosed as error:
            self._drop_connection()
            raise map_channel_error(error) from error
        except pika.exceptions.AMQPConnectionError as error:
            self._drop_connection()
            self._nodes.lost()
            raise map_connection_error(error) from error
        except pika.exceptions.AMQPChannelError as error:
            self._drop_connection()
            raise ConnectionLost(repr(error)) from error
        except ConnectionLost:
            self._drop_connection()
            self._nodes.lost()
            raise


def oldest_run(outstanding: list[int], tags: set[int]) -> list[int]:
    """The oldest outstanding tags that are all being settled: one ``multiple=True`` covers them."""
    run: list[int] = []
    for tag in outstanding:
        if tag not in tags:
            break
        run.append(tag)
    return run
