"""Errors of the contracts package.

::

    ContractError
    └── Rejected        a message the hub refuses; carries exactly one reason code
"""

from __future__ import annotations

from contracts.codes import RejectReason


class ContractError(Exception):
    """Root of the contracts package's errors."""


class Rejected(ContractError):
    """A message that cannot be accepted, with one reason code and a detail naming the field.

    ``detail`` looks like ``payload.party.id_number: check digit should be X``; it
    never repeats the offending value, so it is safe to log and to put in headers.
    """

    def __init__(self, reason: RejectReason, detail: str, message_id: str | None = None) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        self.message_id = message_id

    def __repr__(self) -> str:
        return f"Rejected({self.reason.value!r}, {self.detail!r})"
