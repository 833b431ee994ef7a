"""The adapter runtime: consume ``sihub.dept.<code>``, deliver to the sink, answer, ack.

For each delivery, in this order (so that nothing is lost and nothing doubled):

1. parse the body with the contracts; what the adapter cannot read goes to quarantine
   (nack without requeue → the queue's dead-letter exchange → ``sihub.quarantine``);
   with the hub's public keys configured (``SIHUB_ADAPTER_HUB_KEYS``), a message whose
   signature is not the hub's — forged, of another key, or missing when
   ``SIHUB_ADAPTER_HUB_SIGNATURES=required`` — goes to quarantine the same way;
2. dedup: a ``message_id`` already ``done`` is acked and dropped, silently;
3. the adapter's ``observe`` hook keeps its local records (idempotent);
4. the sink delivers. While it fails retryably the delivery is **held**, unacked, and
   tried again with a capped backoff (``HOLD_WAIT``): a department system that is down
   for ten minutes loses nothing and gets each message once it is back. It is never
   nacked meanwhile, which would spend the queue's delivery limit. A permanent refusal
   (a 4xx) is nacked without requeue, so the message lands in ``sihub.quarantine``
   (dead-letter reason ``rejected``), and is logged with the reason;
5. the delivery is recorded (``delivered``), the adapter's automatic answers are
   published with ids derived from the message, the delivery is recorded ``done``,
   and only then acked.

On a lost broker connection the runtime reconnects with backoff (``RECONNECT_WAIT``);
unacked deliveries come back from RabbitMQ and step 2 or 5 makes them harmless. On
``stop`` (SIGTERM/SIGINT) it finishes the delivery in hand, acks it, and leaves the
rest unacked for redelivery; a delivery still held for a failing sink stays unacked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal

import tenacity

from adapters.dedup import DeliveryLog
from adapters.department import DepartmentAdapter
from adapters.errors import PermanentDelivery, RetryableDelivery, SendFailed, SendRefused
from adapters.sinks import InboundMessage, Sink
from contracts import Rejected, parse
from hub.bus.topology import department_queue
from hub.bus.types import AccessRefused, Broker, ConnectionLost, Consumer, Delivery
from hub.config import SignatureMode
from hub.signing import KeyRing, SignatureError

log = logging.getLogger("sihub.adapter.runtime")

#: Waits between deliveries to a failing department system: 1 s doubling to 30 s, forever.
HOLD_WAIT = tenacity.wait_exponential(multiplier=1.0, min=1.0, max=30.0)
#: Waits between attempts to reach the broker again: 0.5 s doubling to 30 s, forever.
RECONNECT_WAIT = tenacity.wait_exponential(multiplier=0.5, min=0.5, max=30.0)
#: While holding, the consumer connection is serviced this often (AMQP heartbeats).
KEEPALIVE_SECONDS = 1.0

Wait = Callable[[int], float]
Outcome = Literal["delivered", "refused", "stopped"]


def backoff(wait: tenacity.wait.wait_base, attempt: int) -> float:
    """Seconds to wait before try ``attempt + 1`` of a tenacity wait strategy (attempt from 0)."""
    return float(wait(_Attempt(attempt + 1)))  # type: ignore[arg-type]


class _Attempt:
    """The one field of tenacity's RetryCallState that the exponential waits read."""

    def __init__(self, number: int) -> None:
        self.attempt_number = number


class AdapterRuntime:
    """Runs one department adapter's inbound side until ``stop`` is set."""

    def __init__(
        self,
        adapter: DepartmentAdapter,
        broker: Broker,
        sink: Sink,
        deliveries: DeliveryLog,
        *,
        stop: threading.Event | None = None,
        hold_wait: tenacity.wait.wait_base = HOLD_WAIT,
        reconnect_wait: tenacity.wait.wait_base = RECONNECT_WAIT,
        prefetch: int = 1,
        max_body_bytes: int | None = None,
        hub_keys: KeyRing | None = None,
        hub_signatures: SignatureMode = "optional",
    ) -> None:
        self.adapter = adapter
        self.broker = broker
        self.sink = sink
        self.deliveries = deliveries
        self.stop = stop or threading.Event()
        self.hold_wait = hold_wait
        self.reconnect_wait = reconnect_wait
        self.prefetch = prefetch
        self.max_body_bytes = max_body_bytes or adapter.options.max_body_bytes
        #: The hub's public keys: with them, what arrives must be signed by the hub (or, unless
        #: ``hub_signatures`` is "required", carry no signature at all).
        self.hub_keys = hub_keys
        self.hub_signatures = hub_signatures
        self.queue = department_queue(adapter.code.value)
        #: Set while a consumer is attached (readiness for tests and health checks).
        self.connected = threading.Event()
        self._failures = 0  # connection losses in a row

    def run(self) -> None:
        """Consume until ``stop``; reconnect after a lost connection.

        Raises:
            hub.bus.types.AccessRefused: the broker refuses this user the queue (permanent).
        """
        while not self.stop.is_set():
            if self._failures:
                delay = backoff(self.reconnect_wait, self._failures - 1)
                log.warning("%s: reconnecting in %.1fs", self.queue, delay)
                if self.stop.wait(delay):
                    return
            try:
                consumer = self.broker.consumer(self.queue, prefetch=self.prefetch)
            except ConnectionLost as error:
                log.warning("%s: broker unreachable (%s)", self.queue, error)
                self._failures += 1
                continue
            self.connected.set()
            try:
                self._consume(consumer)
            except (ConnectionLost, SendFailed) as error:
                log.warning("%s: connection lost (%s)", self.queue, error)
                self._failures += 1
            finally:
                self.connected.clear()
                try:
                    consumer.close()  # unacked deliveries go back to the queue
                except Exception:
                    log.debug("closing the consumer failed", exc_info=True)

    def _consume(self, consumer: Consumer) -> None:
        while not self.stop.is_set():
            deliveries = consumer.fetch(self.prefetch, 0.5)
            self._failures = 0  # the connection works: the next loss starts the backoff afresh
            for delivery in deliveries:
                if self.stop.is_set():
                    return  # the rest stay unacked and are redelivered
                self.handle(consumer, delivery)

    def handle(self, consumer: Consumer, delivery: Delivery) -> None:
        """Process one delivery; see the module docstring for the order of effects."""
        try:
            envelope = parse(delivery.body, max_bytes=self.max_body_bytes)
        except Rejected as rejected:
            log.error(
                "%s: unreadable message %s quarantined: %s",
                self.queue, delivery.message_id, rejected,
            )
            consumer.nack([delivery.delivery_tag], requeue=False)
            return
        if self.hub_keys is not None and self.hub_signatures != "off":
            try:
                self.hub_keys.verify(
                    delivery.body, delivery.headers, "hub", required=self.hub_signatures == "required"
                )
            except SignatureError as error:
                log.error(
                    "%s: %s %s does not carry the hub's signature, quarantined: %s",
                    self.queue, envelope.type, delivery.message_id, error,
                )
                consumer.nack([delivery.delivery_tag], requeue=False)
                return
        message = InboundMessage(delivery.body, envelope)
        status = self.deliveries.status(message.message_id)
        if status == "done":
            log.info("%s: repeat of %s %s acked", self.queue, message.type, message.message_id)
            consumer.ack([delivery.delivery_tag])
            return
        self.adapter.observe(message)
        if status is None:
            outcome = self._deliver_holding(consumer, message)
            if outcome == "stopped":
                return
            if outcome == "refused":
                consumer.nack([delivery.delivery_tag], requeue=False)
                return
            self.deliveries.mark(message.message_id, message.type, "delivered")
        try:
            self.adapter.answer(message, self.adapter.react(message))
        except SendRefused:
            # Our own answer is refused for good (a bug or a permission change): the
            # department system has the message, so it is not held; the log says why.
            log.exception("%s: automatic answer to %s refused", self.queue, message.message_id)
        self.deliveries.mark(message.message_id, message.type, "done")
        consumer.ack([delivery.delivery_tag])

    def _deliver_holding(self, consumer: Consumer, message: InboundMessage) -> Outcome:
        attempt = 0
        while True:
            try:
                self.sink.deliver(message)
                if attempt:
                    log.info("%s: %s delivered after %d retries", self.queue, message.message_id, attempt)
                return "delivered"
            except PermanentDelivery as error:
                log.error(
                    "%s: %s %s refused by the department system, quarantined: %s",
                    self.queue, message.type, message.message_id, error,
                )
                return "refused"
            except RetryableDelivery as error:
                if self.stop.is_set():
                    return "stopped"
                delay = backoff(self.hold_wait, attempt)
                log.warning(
                    "%s: %s held, department system unavailable (%s); retry %d in %.1fs",
                    self.queue, message.message_id, error, attempt + 1, delay,
                )
                self._keepalive(consumer, delay)
                attempt += 1

    def _keepalive(self, consumer: Consumer, seconds: float) -> None:
        # A held delivery may wait minutes: let the consumer's connection answer
        # heartbeats meanwhile. Fetching nothing only services the connection.
        deadline = time.monotonic() + seconds
        while not self.stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self.stop.wait(min(remaining, KEEPALIVE_SECONDS))
            consumer.fetch(0, 0.01)

    def start(self) -> threading.Thread:
        """Run in a daemon thread (tests, ``tax push --wait``); ``stop`` ends it."""
        thread = threading.Thread(target=self._run_logged, name=f"sihub-adapter-{self.queue}", daemon=True)
        thread.start()
        return thread

    def _run_logged(self) -> None:
        try:
            self.run()
        except AccessRefused:
            log.exception("%s: the broker refuses this adapter", self.queue)
        except Exception:
            log.exception("%s: the adapter runtime stopped on an error", self.queue)
        finally:
            self.stop.set()
