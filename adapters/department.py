"""What every department adapter shares: sending as the department, hooks, case helpers.

A department adapter is plain code around a :class:`~adapters.sender.Sender`: the
runtime calls :meth:`DepartmentAdapter.observe` (keep local records) and
:meth:`DepartmentAdapter.react` (automatic answers) for each inbound message, and
the department system calls the helpers (``sign_for``, ``transfer``, ``object``,
``report``, ...) through Python or the adapter's HTTP endpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from fastapi import APIRouter

from adapters.dedup import StateDB
from adapters.outbound import compose, derived_id, request
from adapters.sender import Sealed, Sender
from adapters.settings import BATCH_HEADROOM_BYTES
from adapters.sinks import InboundMessage
from contracts import MAX_BODY_BYTES, AnyEnvelope, ValidationSettings
from contracts.codes import Department, Outcome
from contracts.messages.base import Contract
from contracts.messages.case import (
    CaseAccepted,
    CaseHandled,
    CaseJointHandlingRequested,
    CaseRouted,
    CaseTransferred,
)
from hub.domain.durations import COUNTY_TZ

log = logging.getLogger("sihub.adapter")

#: ``case.routed`` reasons after which the owner signs again (签收); an escalation does not ask.
SIGN_AGAIN = frozenset({"registered", "transferred", "objection", "meeting", "reopened"})


def county_now() -> datetime:
    """Now, in county time (Asia/Shanghai)."""
    return datetime.now(COUNTY_TZ)


@dataclass(frozen=True)
class Options:
    """Behaviour switches of an adapter (from :class:`~adapters.settings.AdapterSettings`)."""

    auto_receipt: bool = True
    auto_sign: bool = False
    auto_sign_handler: str = "自动签收"
    auto_confirm: bool = False
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    max_body_bytes: int = MAX_BODY_BYTES
    batch_limit_bytes: int = MAX_BODY_BYTES - BATCH_HEADROOM_BYTES


@dataclass(frozen=True)
class Reaction:
    """An automatic answer to an inbound message."""

    type: str
    payload: Contract
    case_id: str | None


class DepartmentAdapter:
    """The base of the five adapters; subclasses set ``code`` and add their helpers."""

    code: ClassVar[Department]

    def __init__(
        self,
        sender: Sender,
        state: StateDB,
        options: Options | None = None,
        clock: Callable[[], datetime] = county_now,
    ) -> None:
        if sender.code is not self.code:
            raise ValueError(f"a {self.code.value} adapter needs a {self.code.value} sender")
        self.sender = sender
        self.state = state
        self.options = options or Options()
        self.clock = clock

    # -- sending -------------------------------------------------------------------------

    def seal(self, data: Mapping[str, Any]) -> Sealed:
        """Validate outbound ``data`` (a request or an envelope); raises ``OutboundInvalid``."""
        return compose(
            self.code,
            data,
            now=self.clock(),
            settings=self.options.validation,
            max_bytes=self.options.max_body_bytes,
        )

    def submit(self, data: Mapping[str, Any]) -> AnyEnvelope:
        """Validate and publish outbound work (``POST /outbound``, outbox files)."""
        sealed = self.seal(data)
        self.sender.publish([sealed])
        self.sent(sealed[0])
        return sealed[0]

    def send(
        self,
        type_: str,
        payload: Contract | Mapping[str, Any],
        *,
        case_id: str | None = None,
        target: Department | None = None,
        correlation_id: UUID | None = None,
        causation_id: UUID | None = None,
        message_id: UUID | None = None,
    ) -> AnyEnvelope:
        """Publish one message of ``type_`` (the Python API); returns the envelope sent."""
        return self.submit(
            request(
                type_,
                payload,
                case_id=case_id,
                target=target,
                correlation_id=correlation_id,
                causation_id=causation_id,
                message_id=message_id,
            )
        )

    def sent(self, envelope: AnyEnvelope) -> None:
        """Hook after a message left: note what local records need (signed cases)."""
        if envelope.type == "case.accepted" and envelope.case_id is not None:
            self.state.put("signed", envelope.case_id, True)

    # -- inbound hooks -------------------------------------------------------------------

    def observe(self, message: InboundMessage) -> None:
        """Keep local records of an inbound message (idempotent); before the sink."""

    def react(self, message: InboundMessage) -> list[Reaction]:
        """Automatic answers once the sink has the message; by default auto-sign (签收)."""
        envelope = message.envelope
        payload = envelope.payload
        if not (self.options.auto_sign and isinstance(payload, CaseRouted)):
            return []
        mine = payload.owner is self.code or self.code in payload.participants
        if not mine or envelope.case_id is None:
            return []
        signed = self.state.get("signed", envelope.case_id) is True
        if payload.because not in SIGN_AGAIN and (signed or payload.because == "escalated"):
            return []
        handler = self.options.auto_sign_handler
        return [Reaction("case.accepted", CaseAccepted(handler=handler), envelope.case_id)]

    def answer(self, message: InboundMessage, reactions: Sequence[Reaction]) -> None:
        """Publish ``reactions`` with ids derived from ``message``: a repeat is a no-op at the hub."""
        cause = message.envelope
        sealed = [
            self.seal(
                request(
                    reaction.type,
                    reaction.payload,
                    case_id=reaction.case_id,
                    correlation_id=cause.correlation_id or cause.message_id,
                    causation_id=cause.message_id,
                    message_id=derived_id(cause.message_id, self.code, reaction.type),
                )
            )
            for reaction in reactions
        ]
        if sealed:
            self.sender.publish(sealed)
            for envelope, _ in sealed:
                self.sent(envelope)

    def routers(self) -> list[APIRouter]:
        """HTTP routes of this department's helpers (besides ``/outbound`` and ``/cases``)."""
        return []

    # -- case helpers (the closed loop) --------------------------------------------------

    def sign_for(self, case_id: str, handler: str, note: str | None = None) -> AnyEnvelope:
        """Sign for a routed or transferred case (签收): ``case.accepted``."""
        return self.send("case.accepted", CaseAccepted(handler=handler, note=note), case_id=case_id)

    def transfer(self, case_id: str, to: Department, reason: str) -> AnyEnvelope:
        """Hand the case to the department whose duty it is (转办)."""
        payload = CaseTransferred(to=to, reason=reason, objection=False)
        return self.send("case.transferred", payload, case_id=case_id)

    def object(self, case_id: str, to: Department, reason: str) -> AnyEnvelope:
        """Refuse a misdirected case, returning it to ``to`` with the reason (objection)."""
        payload = CaseTransferred(to=to, reason=reason, objection=True)
        return self.send("case.transferred", payload, case_id=case_id)

    def report(
        self, case_id: str, outcome: Outcome, result: str, handled_at: datetime | None = None
    ) -> AnyEnvelope:
        """Report the handling result (办结): ``case.handled``."""
        payload = CaseHandled(outcome=outcome, result=result, handled_at=handled_at or self.clock())
        return self.send("case.handled", payload, case_id=case_id)

    def request_joint(
        self, case_id: str, lead: Department, participants: Sequence[Department], reason: str
    ) -> AnyEnvelope:
        """Ask for joint handling (联合办理) with a lead department."""
        payload = CaseJointHandlingRequested(
            lead=lead, participants=tuple(participants), reason=reason
        )
        return self.send("case.joint_handling_requested", payload, case_id=case_id)

    def next_case_id(self) -> str:
        """A fresh case id of this department: ``<code>-<year>-<6 digits>`` from local state."""
        year = self.clock().year
        number = self.state.next_number(f"case-{self.code.value}-{year}")
        return f"{self.code.value}-{year}-{number:06d}"
