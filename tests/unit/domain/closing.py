"""The closing driver of the closed-loop property (闭环处理): can this case still close?

:func:`close_path` searches, depth first, for a sequence of messages that the state machine
permits and that ends with the case closed. It only uses messages from the case's own
departments (handlers, intake, coordinator, the body of its tier) that move a case forward:
signing, handling, the unified reply, feedback, closing, a meeting's resolution, escalation.
A dispute must go the whole way (feedback, then ``resolved``): the ``withdrawn`` shortcut,
which closes any dispute at once, is not used. An arrears case closes once the employer
has paid, at any stage, so for it the property is weak by design.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from contracts import AnyEnvelope
from contracts.codes import Department, MeetingDecision, Resolution, Tier, next_tier
from hub.domain.flow import TIER_BODY, Rules
from hub.domain.machine import transition
from hub.domain.model import Case, CaseKind, Refused, Stage

from . import builders as b

#: A closing path is short (escalate, a meeting resolves, feedback, close); the budget is
#: generous so that a joint case with several participants closes the long way too.
MAX_CLOSE_STEPS = 16


@cache
def _candidate(kind: str, sender: Department, case_id: str, tier: Tier | None) -> AnyEnvelope:
    """A progress message, built once (the machine reads the clock from ``now``, not from it)."""
    if kind == "closed":
        return b.closed(sender, case_id)
    if kind == "paid":
        return b.closed(sender, case_id, resolution=Resolution.PAID)
    if kind == "feedback":
        return b.feedback(sender, case_id)
    if kind == "replied":
        return b.replied(sender, case_id)
    if kind == "handled":
        return b.handled(sender, case_id)
    if kind == "accepted":
        return b.accepted(sender, case_id)
    assert tier is not None
    if kind == "resolved":
        return b.meeting(sender, case_id, tier, MeetingDecision.RESOLVED)
    higher = next_tier(tier)
    assert kind == "escalated" and higher is not None
    return b.escalated(sender, case_id, tier, higher)


def candidates(case: Case) -> list[AnyEnvelope]:
    """Messages that move a case towards closing, from its own departments, most final first."""
    if case.kind is CaseKind.ARREARS:
        return [_candidate("paid", case.intake, case.case_id, None)]
    body = TIER_BODY.get(case.tier)
    own = [*case.handlers, case.intake, *([body] if body else []), case.coordinator]
    people = [d for d in dict.fromkeys(own) if d is not None]
    found = [
        _candidate("closed", case.intake, case.case_id, None),
        _candidate("feedback", case.intake, case.case_id, None),
        *(_candidate("handled", d, case.case_id, None) for d in case.handlers),
        _candidate("replied", case.owner, case.case_id, None),
        *(_candidate("accepted", d, case.case_id, None) for d in case.handlers),
    ]
    if body is not None:
        found.append(_candidate("resolved", body, case.case_id, case.tier))
    if next_tier(case.tier) is not None:
        found += [_candidate("escalated", d, case.case_id, case.tier) for d in people]
    return found


def _fingerprint(case: Case) -> tuple[object, ...]:
    return (case.stage, case.tier, case.owner, case.participants, case.signed, case.contributions)


def close_path(case: Case, now: datetime, rules: Rules) -> list[AnyEnvelope] | None:
    """A sequence of permitted messages that closes ``case`` at ``now``, or None (depth-first)."""
    seen: set[tuple[object, ...]] = set()

    def search(current: Case, budget: int) -> list[AnyEnvelope] | None:
        if current.stage is Stage.CLOSED:
            return []
        if budget == 0 or _fingerprint(current) in seen:
            return None
        seen.add(_fingerprint(current))
        for envelope in candidates(current):
            try:
                following = transition(current, envelope, now, rules).case
            except Refused:
                continue
            rest = search(following, budget - 1)
            if rest is not None:
                return [envelope, *rest]
        return None

    return search(case, MAX_CLOSE_STEPS)
