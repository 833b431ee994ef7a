"""Generated inputs of the property tests: openings, messages of every type, what comes next."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import strategies as st

from contracts import AnyEnvelope
from contracts.codes import (
    Department,
    InsuranceType,
    Matter,
    MeetingDecision,
    Outcome,
    Resolution,
    Ruling,
    Satisfaction,
    Tier,
)
from contracts.messages.sla import SlaWarning
from hub.domain.flow import TIER_BODY
from hub.domain.model import Case, CaseKind

from . import builders as b
from . import money_builders as m
from .closing import candidates

DEPARTMENTS = tuple(Department)
SENDERS_ANY = st.sampled_from(DEPARTMENTS)
INTAKES = [
    d for d in DEPARTMENTS if d not in (Department.HUB, Department.TASKFORCE, Department.LGO)
]


@st.composite
def openings(draw: st.DrawFn) -> AnyEnvelope:
    """A ``case.registered`` at any first-contact window, a petition, or an arrears notice."""
    kind = draw(st.sampled_from(["dispute", "petition", "arrears"]))
    if kind == "arrears":
        types = draw(
            st.lists(st.sampled_from(list(InsuranceType)), min_size=1, max_size=3, unique=True)
        )
        return m.arrears_notice(
            m.notice(
                insurance_types=types,
                served_on=b.T0.date(),
                pay_by=b.T0.date() + timedelta(days=10),
            ),
            case=b.case_id("tax", 2),
        )
    matters = draw(st.lists(st.sampled_from(list(Matter)), min_size=1, max_size=3, unique=True))
    types = draw(st.lists(st.sampled_from(list(InsuranceType)), max_size=3, unique=True))
    periods = [None, ("2023-01", "2023-06"), ("2023-10", "2024-03"), ("2025-01", "2025-02")]
    period = draw(st.sampled_from(periods))
    if kind == "petition":
        people = draw(st.integers(1, 8))
        return b.petition(
            people_count=people, matters=matters, insurance_types=types, period=period
        )
    intake = draw(st.sampled_from(INTAKES))
    return b.registered(
        intake, b.case_id(intake), matters=matters, insurance_types=types, period=period
    )


def relevant(case: Case) -> list[Department]:
    """The departments that act on ``case``: most generated messages come from them."""
    own = [*case.handlers, case.intake, case.coordinator, TIER_BODY.get(case.tier)]
    if case.arrears is not None:
        own += [Department.TAX, Department.COURT, *case.arrears.confirmers]
    return [d for d in dict.fromkeys(own) if d is not None]


def plausible(case: Case, now: datetime) -> list[AnyEnvelope]:
    """Messages the case's own departments would send next, so that runs go deep."""
    cid, at = case.case_id, now
    found = list(candidates(case))
    body = TIER_BODY.get(case.tier)
    if body is not None:
        hrss, medins = Department.HRSS, Department.MEDINS
        assign = MeetingDecision.ASSIGN
        found += [
            b.meeting(body, cid, case.tier, assign, lead=hrss, participants=[medins], at=at),
            b.meeting(body, cid, case.tier, MeetingDecision.ESCALATE, at=at),
        ]
    if case.arrears is not None:
        state = case.arrears
        # Not the 'paid' close: an employer paying early would end most runs before court.
        return [
            *found[1:],
            *(
                m.arrears_confirmed(d, cid, at=at)
                for d in state.confirmers
                if d not in state.confirmed_by()
            ),
            m.enforcement_applied(
                cid,
                served=state.notice,
                late_fee_until=now.date(),
                confirmations=state.confirmers,
                at=at,
            ),
            m.enforcement_accepted(cid, at=at),
            m.enforcement_ruled(cid, at=at),
            m.enforcement_concluded(cid, at=at),
        ]
    others = [Department.TAX, Department.HRSS, Department.MEDINS, Department.TOWNSHIP]
    found += [b.transferred(case.owner, cid, d, at=at) for d in others if d is not case.owner]
    if case.previous_owner is not None:
        found.append(b.transferred(case.owner, cid, case.previous_owner, objection=True, at=at))
    partner = Department.HRSS if case.owner is Department.TAX else Department.TAX
    return [
        *found,
        b.joint_requested(case.owner, cid, case.owner, [partner], at=at),
        b.joint_requested(case.intake, cid, partner, [case.owner], at=at),
        b.feedback(case.intake, cid, satisfaction=Satisfaction.NOT_SATISFIED, at=at),
        b.reopened(case.intake, cid, at=at),
    ]


@st.composite
def messages(draw: st.DrawFn, case: Case, now: datetime) -> AnyEnvelope:
    """Any message a department might send about ``case`` at ``now`` (most of them refused)."""
    if draw(st.booleans()):
        return draw(st.sampled_from(plausible(case, now)))
    sender = draw(st.one_of(st.sampled_from(relevant(case)), SENDERS_ANY))
    cid, at = case.case_id, now
    some_dept = st.sampled_from(DEPARTMENTS)
    tier = st.sampled_from(list(Tier))
    kind = draw(
        st.sampled_from(
            [
                "transferred",
                "accepted",
                "joint",
                "escalated",
                "meeting",
                "handled",
                "replied",
                "feedback",
                "closed",
                "reopened",
                "confirmed",
                "applied",
                "court_accepted",
                "ruled",
                "concluded",
                "registered_again",
                "hub_only",
            ]
        )
    )
    if kind == "transferred":
        return b.transferred(sender, cid, draw(some_dept), objection=draw(st.booleans()), at=at)
    if kind == "accepted":
        return b.accepted(sender, cid, at=at)
    if kind == "joint":
        lead = draw(some_dept)
        others = st.sampled_from([d for d in DEPARTMENTS if d != lead])
        participants = draw(st.lists(others, min_size=1, max_size=3, unique=True))
        return b.joint_requested(sender, cid, lead, participants, at=at)
    if kind == "escalated":
        return b.escalated(sender, cid, draw(tier), draw(tier), at=at)
    if kind == "meeting":
        decision = draw(st.sampled_from(list(MeetingDecision)))
        lead = draw(some_dept)
        participants = draw(
            st.lists(
                st.sampled_from([d for d in DEPARTMENTS if d != lead]), max_size=2, unique=True
            )
        )
        return b.meeting(
            sender, cid, draw(tier), decision, lead=lead, participants=participants, at=at
        )
    if kind == "handled":
        return b.handled(sender, cid, outcome=draw(st.sampled_from(list(Outcome))), at=at)
    if kind == "replied":
        return b.replied(sender, cid, outcome=draw(st.sampled_from(list(Outcome))), at=at)
    if kind == "feedback":
        return b.feedback(
            sender, cid, satisfaction=draw(st.sampled_from(list(Satisfaction))), at=at
        )
    if kind == "closed":
        return b.closed(sender, cid, resolution=draw(st.sampled_from(list(Resolution))), at=at)
    if kind == "reopened":
        return b.reopened(sender, cid, at=at)
    if kind == "confirmed":
        return m.arrears_confirmed(sender, cid, confirmed=draw(st.booleans()), at=at)
    if kind == "applied":
        served = case.arrears.notice if case.arrears is not None else m.notice()
        confirmations = case.arrears.confirmers if case.arrears is not None else ("hrss",)
        fee = None if draw(st.booleans()) else "0.01"
        return m.enforcement_applied(
            cid,
            served=served,
            late_fee_until=now.date(),
            fee=fee,
            confirmations=confirmations,
            source=sender,
            at=at,
        )
    if kind == "court_accepted":
        return m.enforcement_accepted(cid, source=sender, at=at)
    if kind == "ruled":
        return m.enforcement_ruled(
            cid, ruling=draw(st.sampled_from(list(Ruling))), source=sender, at=at
        )
    if kind == "concluded":
        return m.enforcement_concluded(cid, source=sender, at=at)
    if kind == "registered_again":
        if case.kind is CaseKind.ARREARS:
            return m.arrears_notice(case=cid, at=at)
        if case.kind is CaseKind.PETITION:
            return b.petition(case=cid, at=at)
        return b.registered(case.intake, cid, at=at)
    warning = SlaWarning(
        stage="sign", tier=Tier.ROUTINE, department=sender, started_at=at, due_at=at
    )
    return b.message("sla.warning", warning, source=sender, case=cid, at=at)
