"""The case state machine: ``transition(case, envelope, now, rules) -> Applied`` or :class:`Refused`.

A visible table maps each message type a department may send to its handler;
the types only the hub emits are refused as ``not_permitted`` when a department
sends them. Payment details are not case-bound: see :mod:`hub.domain.payments`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType

from contracts.codes import Department
from contracts.envelope import AnyEnvelope
from hub.domain import arrears, lifecycle
from hub.domain.flow import Rules
from hub.domain.model import Applied, Case, not_permitted, precondition_failed

Handler = Callable[[Case, AnyEnvelope, datetime, Rules], Applied]
Opener = Callable[[Case | None, AnyEnvelope, datetime, Rules], Applied]

#: Messages that open a case.
OPENERS: Mapping[str, Opener] = MappingProxyType(
    {
        "case.registered": lifecycle.register,
        "petition.registered": lifecycle.register,
        "arrears.notice": arrears.serve_notice,
    }
)
#: Messages that act on an existing case.
HANDLERS: Mapping[str, Handler] = MappingProxyType(
    {
        "case.transferred": lifecycle.transfer,
        "case.accepted": lifecycle.accept,
        "case.joint_handling_requested": lifecycle.request_joint,
        "case.escalated": lifecycle.escalate_manually,
        "case.meeting_concluded": lifecycle.conclude_meeting,
        "case.handled": lifecycle.handle,
        "case.replied": lifecycle.reply,
        "case.feedback_given": lifecycle.give_feedback,
        "case.closed": lifecycle.close,
        "case.reopened": lifecycle.reopen,
        "arrears.confirmed": arrears.confirm,
        "enforcement.applied": arrears.apply_enforcement,
        "enforcement.accepted": arrears.court_step,
        "enforcement.ruled": arrears.court_step,
        "enforcement.concluded": arrears.court_step,
    }
)
#: Messages only the hub emits; a department sending one is refused.
HUB_ONLY = frozenset(
    {"case.routed", "sla.warning", "sla.breached", "arrears.confirmation_requested"}
)


def transition(case: Case | None, envelope: AnyEnvelope, now: datetime, rules: Rules) -> Applied:
    """Apply one accepted-by-contract message to its case.

    Raises:
        Refused: ``not_permitted`` (the sender may not do this to this case) or
            ``precondition_failed`` (the case is unknown, or not in a state that allows it).
    """
    if envelope.type in HUB_ONLY or envelope.source is Department.HUB:
        raise not_permitted(f"{envelope.type} is emitted by the hub, not sent to it")
    opener = OPENERS.get(envelope.type)
    if opener is not None:
        applied = opener(case, envelope, now, rules)
    else:
        handler = HANDLERS.get(envelope.type)
        if handler is None:
            raise not_permitted(f"{envelope.type} is not a case message")
        if case is None:
            raise precondition_failed(f"case {envelope.case_id} is not known to the hub")
        applied = handler(case, envelope, now, rules)
    return Applied(
        applied.case.evolve(version=applied.case.version + 1), applied.emits, applied.events
    )
