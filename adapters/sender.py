"""Publishing to ``sihub.in`` as the department: user id, routing key, signature, confirms.

Every message goes to the topic exchange ``sihub.in`` under ``<code>.<type>`` with
the AMQP ``user_id`` set to the department code (RabbitMQ refuses any other user
id on this connection), persistent and mandatory, and is published only once the
broker confirmed it. With a signing key the Ed25519 signature of the exact body
travels in ``x-sihub-signature`` / ``x-sihub-key-id``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

import tenacity

from adapters.errors import SendFailed, SendRefused
from contracts import AnyEnvelope
from contracts.codes import Department
from hub.bus.topology import IN_EXCHANGE
from hub.bus.types import AccessRefused, Broker, ConnectionLost, Outgoing, Publisher, PublishFailed
from hub.signing import Signer

log = logging.getLogger("sihub.adapter.sender")

#: A publish that lost its connection or was nacked is tried again: 6 attempts,
#: 0.2 s doubling to 5 s (the bus publisher also reconnects within each attempt).
PUBLISH_RETRY = tenacity.Retrying(
    retry=tenacity.retry_if_exception_type(ConnectionLost),
    stop=tenacity.stop_after_attempt(6),
    wait=tenacity.wait_exponential(multiplier=0.2, max=5.0),
    reraise=True,
)
#: Messages handed to the broker at a time; progress is reported after each group.
CHUNK_MESSAGES = 16

Sealed = tuple[AnyEnvelope, bytes]


class Sender:
    """Publishes sealed envelopes (see :func:`adapters.outbound.compose`) with confirms."""

    def __init__(
        self,
        code: Department,
        broker: Broker,
        signer: Signer | None = None,
        *,
        retry: tenacity.Retrying = PUBLISH_RETRY,
    ) -> None:
        self.code = code
        self._broker = broker
        self._signer = signer
        self._retry = retry
        self._lock = threading.Lock()
        self._publisher: Publisher | None = None

    def outgoing(self, envelope: AnyEnvelope, body: bytes) -> Outgoing:
        """The AMQP message of one envelope."""
        if envelope.source is not self.code:
            raise SendRefused(f"{self.code.value} cannot send as {envelope.source.value}")
        headers: dict[str, str | int | bool] = {"x-sihub-type": envelope.type}
        if self._signer is not None:
            headers.update(self._signer.headers(body))
        return Outgoing(
            exchange=IN_EXCHANGE,
            routing_key=envelope.key,
            body=body,
            headers=headers,
            message_id=str(envelope.message_id),
            user_id=self.code.value,
            correlation_id=str(envelope.correlation_id or envelope.message_id),
            timestamp_ms=time.time_ns() // 1_000_000,
        )

    def publish(
        self, sealed: Sequence[Sealed], progress: Callable[[int], None] | None = None
    ) -> None:
        """Publish and wait for the broker's confirms; ``progress(n)`` after each group.

        Raises:
            SendRefused: permissions, a user id the broker refuses, or a missing exchange.
            SendFailed: the broker stayed unreachable or kept nacking through the retries.
        """
        messages = [self.outgoing(envelope, body) for envelope, body in sealed]
        with self._lock:
            for start in range(0, len(messages), CHUNK_MESSAGES):
                group = messages[start : start + CHUNK_MESSAGES]
                self._publish_group(group)
                if progress is not None:
                    progress(len(group))

    def _publish_group(self, group: list[Outgoing]) -> None:
        pending = group

        def attempt() -> None:
            nonlocal pending
            try:
                self._connected().publish(pending)
            except PublishFailed as failed:
                retryable = failed.retryable()
                if len(retryable) < len(failed.failed) or isinstance(failed, AccessRefused):
                    raise SendRefused(f"the broker refused to take a message: {failed}") from failed
                pending = retryable
                raise ConnectionLost(f"broker nacked: {failed}") from failed
            except AccessRefused as refused:
                self._drop()
                raise SendRefused(f"{self.code.value} may not publish here: {refused}") from refused
            except ConnectionLost:
                self._drop()
                raise

        try:
            self._retry.copy()(attempt)
        except ConnectionLost as lost:
            raise SendFailed(f"broker unavailable, {len(pending)} message(s) unsent: {lost}") from lost

    def _connected(self) -> Publisher:
        if self._publisher is None:
            self._publisher = self._broker.publisher()
        return self._publisher

    def _drop(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            try:
                publisher.close()
            except Exception:  # the connection is gone either way
                log.debug("closing a failed publisher", exc_info=True)

    def close(self) -> None:
        """Close the publisher's connection."""
        with self._lock:
            self._drop()
