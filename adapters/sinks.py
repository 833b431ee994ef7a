"""Sinks: how an adapter hands inbound messages to its department system.

A sink's ``deliver`` returns once the department system has the message, or raises
:class:`~adapters.errors.RetryableDelivery` (try again later: the runtime holds the
message unacked) or :class:`~adapters.errors.PermanentDelivery` (the system refuses
it: the runtime dead-letters it to ``sihub.quarantine``). Four sinks:

* :class:`WebhookSink` POSTs the envelope JSON exactly as received, signed with an
  HMAC-SHA256 of the body (``X-Sihub-Signature: sha256=<hex>``);
* :class:`InboxSink` writes one file per message into a directory, atomically;
* :class:`CallbackSink` calls a Python function;
* :class:`NullSink` delivers nowhere (the adapter's own reactions still run).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Protocol

import httpx
import tenacity

from adapters.errors import PermanentDelivery, RetryableDelivery
from contracts import AnyEnvelope

log = logging.getLogger("sihub.adapter.sink")

SIGNATURE_HEADER = "X-Sihub-Signature"
MESSAGE_ID_HEADER = "X-Sihub-Message-Id"
TYPE_HEADER = "X-Sihub-Type"

#: Quick retries inside one webhook delivery: 4 attempts, 0.25 s doubling to 4 s. What
#: still fails is held by the runtime, which keeps trying with a longer, capped backoff.
WEBHOOK_RETRY = tenacity.Retrying(
    retry=tenacity.retry_if_exception_type(RetryableDelivery),
    stop=tenacity.stop_after_attempt(4),
    wait=tenacity.wait_exponential(multiplier=0.25, max=4.0),
    reraise=True,
)
#: Statuses worth trying again: the system is overloaded or briefly down.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class InboundMessage:
    """A message from the hub: the exact bytes received and the parsed envelope."""

    body: bytes
    envelope: AnyEnvelope

    @property
    def message_id(self) -> str:
        """The envelope's ``message_id`` (the idempotency key)."""
        return str(self.envelope.message_id)

    @property
    def type(self) -> str:
        """The message type, e.g. ``case.routed``."""
        return self.envelope.type


class Sink(Protocol):
    """Hands one message to the department system."""

    def deliver(self, message: InboundMessage) -> None:
        """Return once delivered; raise ``RetryableDelivery`` or ``PermanentDelivery``."""
        ...

    def close(self) -> None:
        """Release what the sink holds."""
        ...


def webhook_signature(secret: str, body: bytes) -> str:
    """The ``X-Sihub-Signature`` value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_webhook_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``secret`` (constant-time compare)."""
    return header is not None and hmac.compare_digest(webhook_signature(secret, body), header)


class WebhookSink:
    """POST each envelope to the department system's URL; 2xx means delivered."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout_seconds: float = 10.0,
        retry: tenacity.Retrying = WEBHOOK_RETRY,
    ) -> None:
        if not secret:
            raise ValueError("a webhook sink needs a shared secret to sign its requests")
        self.url = url
        self._secret = secret
        self._retry = retry
        self._http = httpx.Client(timeout=timeout_seconds, follow_redirects=False)

    def deliver(self, message: InboundMessage) -> None:
        """POST with quick retries; ``RetryableDelivery`` if the system stays unavailable."""
        self._retry.copy()(self._post, message)

    def _post(self, message: InboundMessage) -> None:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: webhook_signature(self._secret, message.body),
            MESSAGE_ID_HEADER: message.message_id,
            TYPE_HEADER: message.type,
        }
        try:
            response = self._http.post(self.url, content=message.body, headers=headers)
        except httpx.TransportError as error:  # timeouts, refused or reset connections
            raise RetryableDelivery(f"{self.url}: {type(error).__name__}") from error
        status = response.status_code
        if 200 <= status < 300:
            return
        # Status and reason only: an error page may echo personal data, and this goes to logs.
        detail = f"{self.url} answered {status} {response.reason_phrase}"
        if status in RETRYABLE_STATUSES or status >= 500:
            raise RetryableDelivery(detail)
        raise PermanentDelivery(detail)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()


def inbox_file_name(message: InboundMessage) -> str:
    """``<occurred_at in UTC, sortable>-<message_id>.json``, e.g. ``20261127T013000.000000Z-0193….json``."""
    stamp = message.envelope.occurred_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{stamp}-{message.message_id}.json"


class InboxSink:
    """Write one file per message into a directory: temp file, fsync, ``os.replace``, fsync dir.

    Readers see a message file complete or not at all; they skip names starting with
    ``.`` (temp files of writes in progress). A repeat of a message rewrites the same
    name with the same bytes. Any ``OSError`` (a full disk, a lost mount) is retryable.
    """

    def __init__(self, directory: Path, *, fsync: Callable[[int], None] = os.fsync) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync

    def deliver(self, message: InboundMessage) -> None:
        """Write the message's file atomically."""
        final = self.directory / inbox_file_name(message)
        temp = self.directory / f".{final.name}.{os.getpid()}.tmp"
        try:
            with temp.open("wb") as handle:
                handle.write(message.body)
                handle.flush()
                self._fsync(handle.fileno())
            os.replace(temp, final)
            self._sync_directory()
        except OSError as error:
            temp.unlink(missing_ok=True)
            raise RetryableDelivery(f"inbox {self.directory}: {error}") from error

    def _sync_directory(self) -> None:
        # The rename is durable only once the directory entry itself is on disk.
        descriptor = os.open(self.directory, os.O_RDONLY)
        try:
            self._fsync(descriptor)
        finally:
            os.close(descriptor)

    def close(self) -> None:
        """Nothing to release."""


class CallbackSink:
    """Call ``function(message)``; it raises ``RetryableDelivery`` to be called again later.

    Any other exception is a permanent refusal: the message goes to quarantine, logged
    with the traceback, rather than blocking the queue behind a bug forever.
    """

    def __init__(self, function: Callable[[InboundMessage], None]) -> None:
        self._function = function

    def deliver(self, message: InboundMessage) -> None:
        """Run the callback."""
        try:
            self._function(message)
        except (RetryableDelivery, PermanentDelivery):
            raise
        except Exception as error:
            log.exception("callback refused %s %s", message.type, message.message_id)
            raise PermanentDelivery(f"callback raised {type(error).__name__}: {error}") from error

    def close(self) -> None:
        """Nothing to release."""


class NullSink:
    """Deliver nowhere: the adapter runs without a department system (demos, receipts only)."""

    def deliver(self, message: InboundMessage) -> None:
        """Accept the message and log that it went nowhere."""
        log.debug("no sink: %s %s not forwarded", message.type, message.message_id)

    def close(self) -> None:
        """Nothing to release."""
