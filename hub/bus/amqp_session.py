"""One publishing connection: a pika ``SelectConnection`` on its own IO thread tracking confirms.

Every publish is mandatory: a ``basic.return`` (always sent before that message's
ack) turns its ack into an ``unroutable`` failure. Only ``start``, ``submit`` and
``close`` are called from other threads; everything else runs on the IO thread.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pika
import pika.exceptions

from hub.bus.amqp_codec import map_connection_error, names_message, to_properties
from hub.bus.types import BusError, ConnectionLost, FailureReason, Outgoing

#: How long opening a connection and its confirm-mode channel may take.
OPEN_TIMEOUT_SECONDS = 10.0
#: Channel closures within one batch after which the batch is given up as ConnectionLost.
MAX_CHANNEL_CLOSURES = 10


@dataclass
class Batch:
    """One ``publish`` call: its messages, what is left to send, and how each one failed."""

    messages: Sequence[Outgoing]
    pending: deque[int] = field(init=False)
    failures: dict[int, FailureReason] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    error: BusError | None = None
    channel_closures: int = 0

    def __post_init__(self) -> None:
        self.pending = deque(range(len(self.messages)))


class ConfirmSession:
    """One connection's lifetime. Methods named ``_on_*``, ``_pump`` and ``_expire`` run on the IO thread."""

    def __init__(self, parameters: pika.ConnectionParameters, max_in_flight: int) -> None:
        self._parameters = parameters
        self._max_in_flight = max_in_flight
        self._opened = threading.Event()
        self._open_error: BusError | None = None
        self._state_lock = threading.Lock()
        self.closed = False
        self._batch: Batch | None = None
        self._connection: Any = None
        self._channel: Any = None
        self._ready = False
        self._last_tag = 0
        self._in_flight: dict[int, int] = {}  # delivery tag -> index in the batch
        self._returned: set[int] = set()  # indices returned as unroutable, awaiting their ack
        self._thread = threading.Thread(target=self._run, name="sihub-amqp-publisher", daemon=True)

    @property
    def usable(self) -> bool:
        """Whether the connection is open and its IO thread running."""
        return not self.closed and self._thread.is_alive()

    def start(self) -> None:
        """Open the connection and a confirm-mode channel, or raise why not."""
        self._thread.start()
        if not self._opened.wait(OPEN_TIMEOUT_SECONDS):
            self.close()
            raise ConnectionLost(f"no connection within {OPEN_TIMEOUT_SECONDS} s")
        if self._open_error is not None:
            raise self._open_error

    def submit(self, batch: Batch, timeout_seconds: float) -> None:
        """Stream ``batch`` and wait until every message is settled or the timeout passes."""
        with self._state_lock:
            if self.closed:
                raise ConnectionLost("connection closed")
            self._batch = batch
        self._connection.ioloop.add_callback_threadsafe(self._pump)
        if not batch.done.wait(timeout_seconds):
            self._connection.ioloop.add_callback_threadsafe(partial(self._expire, batch))
            if not batch.done.wait(OPEN_TIMEOUT_SECONDS):
                raise ConnectionLost("publisher IO thread does not answer")
        if batch.error is not None:
            raise batch.error

    def close(self) -> None:
        """Close the connection and stop the IO thread."""
        if self._connection is not None and self._thread.is_alive():
            self._connection.ioloop.add_callback_threadsafe(self._close_connection)
            self._thread.join(OPEN_TIMEOUT_SECONDS)

    def _run(self) -> None:
        self._connection = pika.SelectConnection(
            self._parameters,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_closed,
        )
        self._connection.ioloop.start()
        self._connection.ioloop.close()  # releases the loop's wake-up socket pair

    def _close_connection(self) -> None:
        if not (self._connection.is_closing or self._connection.is_closed):
            self._connection.close()

    def _on_open(self, connection: Any) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_open_error(self, connection: Any, error: Any) -> None:
        self._open_error = (
            map_connection_error(error)
            if isinstance(error, pika.exceptions.AMQPConnectionError)
            else ConnectionLost(str(error))
        )
        self.closed = True
        self._opened.set()
        connection.ioloop.stop()

    def _on_closed(self, connection: Any, reason: Exception) -> None:
        with self._state_lock:
            self.closed = True
            batch, self._batch = self._batch, None
        self._ready = False
        if batch is not None:
            # Unconfirmed messages may or may not have been enqueued: the caller publishes again.
            batch.error = ConnectionLost(f"connection lost with messages in flight: {reason!r}")
            batch.done.set()
        if not self._opened.is_set():
            self._open_error = ConnectionLost(repr(reason))
            self._opened.set()
        connection.ioloop.stop()

    def _on_channel_open(self, channel: Any) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm, callback=self._on_confirm_selected)

    def _on_confirm_selected(self, _frame: Any) -> None:
        self._ready = True
        self._last_tag = 0  # delivery tags count from 1 on every channel
        self._opened.set()
        self._pump()

    def _on_channel_closed(self, _channel: Any, reason: Exception) -> None:
        self._ready = False
        batch = self._batch
        in_flight = list(self._in_flight.values())
        self._in_flight.clear()
        self._returned.clear()
        if self._connection.is_closing or self._connection.is_closed:
            return
        if batch is not None:
            self._sort_out_closure(batch, in_flight, reason)
        self._connection.channel(on_open_callback=self._on_channel_open)
        self._maybe_finish()

    def _sort_out_closure(self, batch: Batch, in_flight: list[int], reason: Exception) -> None:
        # RabbitMQ closes the channel for one bad message (403 permission, 404 no exchange,
        # 406 user_id) and drops the rest in flight: fail the message its reply names, send
        # the others again on a new channel (possibly twice: at least once allows it).
        code = getattr(reason, "reply_code", 0)
        text = str(getattr(reason, "reply_text", reason))
        failure = {
            403: FailureReason.ACCESS_REFUSED,
            406: FailureReason.ACCESS_REFUSED,
            404: FailureReason.NOT_FOUND,
        }.get(code)
        batch.channel_closures += 1
        culprits = {i for i in in_flight if failure and names_message(text, batch.messages[i])}
        if failure is not None and not culprits:
            culprits = set(in_flight)  # the reply names none of them: we cannot tell, fail all
        if failure is None and batch.channel_closures > MAX_CHANNEL_CLOSURES:
            batch.error = ConnectionLost(f"channel keeps closing: {code} {text}")
            self._batch = None  # before done: the caller may submit the next batch at once
            batch.done.set()
            return
        for index in culprits:
            batch.failures[index] = failure or FailureReason.NACKED
        batch.details.append(f"{code} {text}")
        batch.pending.extendleft(sorted((i for i in in_flight if i not in culprits), reverse=True))

    def _on_return(self, _channel: Any, method: Any, properties: Any, _body: bytes) -> None:
        batch = self._batch
        if batch is None:
            return
        # Returns come in publish order, before the message's own ack: the first matching
        # unreturned message in flight is the one returned.
        for index in self._in_flight.values():
            message = batch.messages[index]
            if (
                index not in self._returned
                and message.exchange == method.exchange
                and message.routing_key == method.routing_key
                and message.message_id == properties.message_id
            ):
                self._returned.add(index)
                return

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        acked = isinstance(method, pika.spec.Basic.Ack)
        if method.multiple:
            tags = [tag for tag in self._in_flight if tag <= method.delivery_tag]
        else:
            tags = [method.delivery_tag] if method.delivery_tag in self._in_flight else []
        batch = self._batch
        for tag in tags:
            index = self._in_flight.pop(tag)
            if batch is None:
                continue
            if index in self._returned:
                self._returned.discard(index)
                batch.failures[index] = FailureReason.UNROUTABLE
            elif not acked:
                batch.failures[index] = FailureReason.NACKED
        self._pump()

    def _pump(self) -> None:
        batch = self._batch
        if batch is None or not self._ready or not self._channel.is_open:
            return
        while batch.pending and len(self._in_flight) < self._max_in_flight:
            index = batch.pending[0]
            message = batch.messages[index]
            self._channel.basic_publish(
                message.exchange,
                message.routing_key,
                message.body,
                to_properties(message),
                mandatory=True,
            )
            batch.pending.popleft()
            self._last_tag += 1
            self._in_flight[self._last_tag] = index
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        batch = self._batch
        if batch is not None and not batch.pending and not self._in_flight:
            self._batch = None
            batch.done.set()

    def _expire(self, batch: Batch) -> None:
        if self._batch is not batch:
            return
        # Late confirms for these tags find nothing in flight and are ignored.
        for index in [*self._in_flight.values(), *batch.pending]:
            batch.failures[index] = FailureReason.TIMEOUT
        self._in_flight.clear()
        self._returned.clear()
        batch.pending.clear()
        self._maybe_finish()
