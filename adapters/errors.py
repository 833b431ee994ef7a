"""Errors of the adapters package.

::

    AdapterError                     root of every adapter error
    ├── DeliveryFailed               a sink could not hand a message to the department system
    │   ├── RetryableDelivery        5xx, 429, timeouts, connection errors, a full disk: hold and retry
    │   └── PermanentDelivery        other 4xx, a refusing callback: quarantine, never retry
    ├── OutboundInvalid              outbound work that ``contracts.parse`` refuses (reason + detail)
    ├── SendFailed                   the broker did not take an outbound message
    │   └── SendRefused              ... permanently: permissions, spoofed user, no such exchange
    ├── ExportError                  a payment-detail export that cannot be read at all
    └── NotAllowedYet                a local precondition (enforcement window, confirmations) fails
"""

from __future__ import annotations

from contracts.codes import RejectReason


class AdapterError(Exception):
    """Root of every error raised by the adapters."""


class DeliveryFailed(AdapterError):
    """A sink could not deliver a message to the department system."""


class RetryableDelivery(DeliveryFailed):
    """The department system may take the message later: the runtime holds it and retries."""


class PermanentDelivery(DeliveryFailed):
    """The department system refuses the message: the runtime dead-letters it to quarantine."""


class OutboundInvalid(AdapterError):
    """Outbound work refused before publishing, with the hub's reason code and a field detail."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class SendFailed(AdapterError):
    """The broker did not confirm an outbound message (retryable by the caller)."""


class SendRefused(SendFailed):
    """The broker refused an outbound message for good (permissions, user id, topology)."""


class ExportError(AdapterError):
    """An export file that cannot be read: unknown format, encoding, or a missing column."""


class NotAllowedYet(AdapterError):
    """A step the department may not take yet; the message says what is missing."""
