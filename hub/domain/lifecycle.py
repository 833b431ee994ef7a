"""The closed loop of a dispute (notice §4): register → route → sign → handle → report →
feed back → close, with transfer, joint handling, escalation, meetings, the unified
reply and reopening. One function per message type, each ``(case, envelope, now,
rules) -> Applied``; permissions first (``not_permitted``), then state
(``precondition_failed``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from contracts.codes import (
    Department,
    EscalationTrigger,
    MeetingDecision,
    Resolution,
    RoutingMode,
    Tier,
    next_tier,
)
from contracts.envelope import AnyEnvelope
from contracts.messages.case import (
    COLLECTIVE_PETITION_MIN_PEOPLE,
    CaseAccepted,
    CaseClosed,
    CaseEscalated,
    CaseFeedbackGiven,
    CaseHandled,
    CaseJointHandlingRequested,
    CaseMeetingConcluded,
    CaseRegistered,
    CaseReopened,
    CaseReplied,
    CaseTransferred,
    PetitionRegistered,
)
from hub.domain.flow import (
    TIER_BODY,
    Rules,
    arm_stage,
    audience,
    cancel,
    copies,
    enter,
    escalate,
    payload_of,
    require_stage,
    routed,
)
from hub.domain.model import (
    Applied,
    Case,
    CaseKind,
    RoutingDecision,
    RuleHit,
    Stage,
    not_permitted,
    precondition_failed,
)
from hub.domain.routing import route

#: Departments a case can be transferred to (the task force and the office take cases by escalation).
HANDLING_DEPARTMENTS = frozenset(Department) - {
    Department.HUB,
    Department.TASKFORCE,
    Department.LGO,
}


def register(case: Case | None, envelope: AnyEnvelope, now: datetime, rules: Rules) -> Applied:
    """First contact registers the case; the hub routes it by duty (首接负责)."""
    registration = payload_of(envelope, CaseRegistered)
    petition = isinstance(registration, PetitionRegistered)
    if case is not None:
        raise precondition_failed(f"case {case.case_id} is already registered")
    if envelope.source in (Department.HUB, Department.TASKFORCE, Department.LGO):
        raise not_permitted(f"{envelope.source.value} does not register cases")
    if petition and envelope.source is not Department.PETITION:
        raise not_permitted("petitions are registered by the petition bureau")
    assert envelope.case_id is not None
    decision = route(registration, envelope.source, rules.process_change)
    new = Case(
        case_id=envelope.case_id,
        kind=CaseKind.PETITION if petition else CaseKind.DISPUTE,
        intake=envelope.source,
        registered_at=registration.received_at,
        stage=Stage.ROUTED,
        stage_since=now,
        tier=Tier.ROUTINE,
        owner=decision.owner,
        participants=decision.participants,
        coordinator=decision.coordinator,
        mode=decision.mode,
        routing=decision,
        registration=registration,
    )
    new = arm_stage(rules, new, "sign", new.owner, now)
    events = ["registered"]
    if (
        isinstance(registration, PetitionRegistered)
        and registration.people_count >= COLLECTIVE_PETITION_MIN_PEOPLE
    ):
        events.append("collective_petition")
    return Applied(new, tuple(routed(new, "registered", now)), tuple(events))


def transfer(case: Case, envelope: AnyEnvelope, now: datetime, rules: Rules) -> Applied:
    """The owner hands the case to the department whose duty it is (转办), or objects."""
    payload = payload_of(envelope, CaseTransferred)
    if envelope.source != case.owner:
        raise not_permitted(f"only the owner ({case.owner.value}) transfers case {case.case_id}")
    require_stage(case, Stage.ROUTED, Stage.ACCEPTED, doing="transfer")
    if payload.to not in HANDLING_DEPARTMENTS:
        raise not_permitted(f"a case reaches {payload.to.value} by escalation, not by transfer")
    if payload.to == case.owner:
        raise precondition_failed(f"case {case.case_id} is already {payload.to.value}'s")
    if payload.objection and (case.objection_until is None or now > case.objection_until):
        raise precondition_failed("the window to object to a misdirected transfer has closed")
    hit = RuleHit(
        "objection" if payload.objection else "transfer",
        "通知四(一)",
        f"{envelope.source.value} {'objected and returned' if payload.objection else 'transferred'} "
        f"it to {payload.to.value}: {payload.reason}",
    )
    assert case.routing is not None
    decision = RoutingDecision(
        payload.to,
        tuple(p for p in case.participants if p != payload.to),
        case.coordinator,
        case.mode,
        (*case.routing.hits, hit),
    )
    window = rules.policy.schedule(
        "routine.transfer_objection", now, rules.calendar, rules.tz
    ).due_at
    moved = case.evolve(
        owner=decision.owner,
        participants=decision.participants,
        routing=decision,
        previous_owner=case.owner,
        objection_until=None if payload.objection else window,
        # The new owner signs as owner, even if it signed before as a participant.
        signed=tuple(d for d in case.signed if d not in (case.owner, payload.to)),
        transfers=case.transfers + 1,
    )
    moved = arm_stage(
        rules,
        _hand_over(cancel(enter(moved, Stage.ROUTED, now), "sign", "accept"), payload.to),
        "sign",
        moved.owner,
        now,
    )
    if moved.tier is not Tier.ROUTINE:
        moved = (
            arm_stage(rules, moved, "handle", moved.owner, now)
            if moved.deadline(f"{moved.tier.value}.handle") is None
            else moved
        )
    because = "objection" if payload.objection else "transferred"
    emits = routed(moved, because, now) + copies(envelope, [case.owner])
    return Applied(moved, tuple(emits), ("objection" if payload.objection else "transferred",))


def _hand_over(case: Case, new_owner: Department) -> Case:
    """Move the handling clock to a new owner: a routine one restarts when the new owner
    signs; a higher tier's keeps running and the new owner answers for it."""
    if case.tier is Tier.ROUTINE:
        return cancel(case, "handle")
    key = f"{case.tier.value}.handle"
    return case.evolve(
        deadlines=tuple(
            replace(d, department=new_owner) if d.key == key else d for d in case.deadlines
        )
    )


def accept(case: Case, envelope: AnyEnvelope, now: datetime, rules: Rules) -> Applied:
    """A handler signs for the case (签收); the owner's signature starts the handling clock."""
    payload_of(envelope, CaseAccepted)
    if envelope.source not in case.handlers:
        raise not_permitted(f"{envelope.source.value} does not handle case {case.case_id}")
    require_stage(case, Stage.ROUTED, Stage.ACCEPTED, doing="sign for the case")
    if envelope.source in case.signed:
        raise precondition_failed(
            f"{envelope.source.value} has already signed for case {case.case_id}"
        )
    signed = case.evolve(signed=(*case.signed, envelope.source))
    emits = copies(envelope, audience(case, exclude=[envelope.source]))
    if envelope.source != case.owner:
        return Applied(signed, tuple(emits), ("signed",))
    signed = enter(cancel(signed, "sign", "accept"), Stage.ACCEPTED, now)
    if signed.tier is Tier.ROUTINE:
        signed = arm_stage(rules, signed, "handle", signed.owner, now)
    return Applied(signed, tuple(emits), ("accepted",))


def request_joint(case: Case, envelope: AnyEnvelope, now: datetime, rules: Rules) -> Applied:
    """The owner or the intake opens joint handling with a lead (联合办理)."""
    payload = payload_of(envelope, CaseJointHandlingRequested)
    if envelope.source not in (case.owner, case.intake):
        raise not_permitted("joint handling is requested by the owner or the intake department")
    require_stage(case, Stage.ROUTED, Stage.ACCEPTED, doing="request joint handling")
    named = {payload.lead, *payload.participants}
    if not named <= HANDLING_DEPARTMENTS:
        raise not_permitted("the task force and the office take part by escalation")
    assert case.routing is not None
    hit = RuleHit(
        "joint.requested",
        "通知四(一)",
        f"{envelope.source.value} asked for joint handling led by "
        f"{payload.lead.value}: {payload.reason}",
    )
    mode = case.mode if case.mode is RoutingMode.PETITION else RoutingMode.JOINT
    decision = RoutingDecision(
        payload.lead, payload.participants, case.coordinator, mode, (*case.routing.hits, hit)
    )
    joint = case.evolve(
        owner=payload.lead,
        participants=payload.participants,
        mode=mode,
        routing=decision,
        signed=tuple(d for d in case.signed if d in named),
    )
    if payload.lead != case.owner:
        joint = _hand_over(joint, payload.lead)
    if payload.lead != case.owner or case.stage is Stage.ROUTED:
        joint = arm_stage(
            rules,
            cancel(enter(joint, Stage.ROUTED, now), "sign", "accept"),
            "sign",
            payload.lead,
            now,
        )
        if payload.lead in joint.signed:
            joint = enter(cancel(joint, "sign", "accept"), Stage.ACCEPTED, now)
    return Applied(joint, tuple(routed(joint, "joint_handling", now)), ("joint_handling",))


def escalate_manually(case: Case, envelope: AnyEnvelope, now: datetime, rules: Rules) -> Applied:
    """A handler or the intake refers the case up (to the task force, the office or the joint meeting)."""
    payload = payload_of(envelope, CaseEscalated)
    if envelope.source not in (*case.handlers, case.intake, TIER_BODY.get(case.tier)):
        raise not_permitted(f"{envelope.source.value} may not escalate case {case.case_id}")
    require_stage(case, Stage.ROUTED, Stage.ACCEPTED, Stage.CONVENING, doing="escalate")
    if payload.from_tier is not case.tier:
        raise precondition_failed(
            f"case {case.case_id} is {case.tier.value}, not {payload.from_tier.value}"
        )
    order = list(Tier)
    if order.index(payload.to_tier) <= order.index(case.tier):
        raise precondition_failed(
            f"escalation goes up: {case.tier.value} → {payload.to_tier.value} is not"
        )
    lifted, emits, event = escalate(
        rules, case, payload.to_tier, EscalationTrigger.MANUAL, payload.reason, now
    )
    return Applied(lifted, tuple(e for e in emits if e.target != envelope.source), (event,))


def conclude_meeting(case: Case, envelope: AnyEnvelope, now: datetime, rules: Rules) -> Applied:
    """The task force (difficult) or the office (major, joint meeting) concludes on the case."""
    payload = payload_of(envelope, CaseMeetingConcluded)
    body = TIER_BODY.get(payload.tier)
    if body is None or envelope.source is not body:
        raise not_permitted(
            f"a {payload.tier.value} meeting is concluded by {body.value if body else 'nobody'}"
        )
    if payload.tier is not case.tier:
        raise precondition_failed(
            f"case {case.case_id} is {case.tier.value}, not {payload.tier.value}"
        )
    require_stage(case, Stage.CONVENING, Stage.ROUTED, Stage.ACCEPTED, doing="conclude a meeting")
    met = cancel(case, "convene")
    notice = copies(envelope, audience(met))
    if payload.decision is MeetingDecision.ESCALATE:
        higher = next_tier(case.tier)
        if higher is None:
            raise precondition_failed("the joint meeting is the top tier")
        lifted, emits, event = escalate(
            rules, met, higher, EscalationTrigger.MEETING, payload.minutes, now
        )
        return Applied(lifted, tuple(notice + emits), ("meeting", event))
    if payload.decision is MeetingDecision.EXTEND:
        extended = _extend(rules, met, payload.tier)
        return Applied(extended, tuple(notice), ("meeting", "extended"))
    if payload.decision is MeetingDecision.RESOLVED:
        done = enter(cancel(met), Stage.REPORTED, now).evolve(outcome="resolved_by_meeting")
        done = arm_stage(rules, done, "feedback", done.intake, now)
        return Applied(done, tuple(notice), ("meeting", "reported"))
    assert payload.lead is not None
    assert case.routing is not None
    hit = RuleHit(
        "meeting.assign",
        "通知四(二)",
        f"The {payload.tier.value} meeting ({payload.meeting_no}) "
        f"assigned it to {payload.lead.value}.",
    )
    participants = tuple(p for p in dict.fromkeys(payload.participants) if p != payload.lead)
    mode = (
        case.mode
        if case.mode is RoutingMode.PETITION
        else (RoutingMode.JOINT if participants else RoutingMode.SINGLE)
    )
    assigned = met.evolve(
        owner=payload.lead,
        participants=participants,
        mode=mode,
        signed=(),
        contributions=(),
        routing=RoutingDecision(
            payload.lead, participants, case.coordinator, mode, (*case.routing.hits, hit)
        ),
    )
    handle = assigned.deadline(f"{assigned.tier.value}.handle")
    kept = tuple(d for d in assigned.deadlines if d is not handle)
    if handle is not None:  # the tier's clock keeps running; the lead now answers for it
        kept = (*kept, replace(handle, department=payload.lead))
    assigned = arm_stage(
        rules, enter(assigned.evolve(deadlines=kept), Stage.ROUTED, now), "sign", payload.lead, now
    )
    return Applied(assigned, tuple(notice + routed(assigned, "meeting", now)), ("meeting",))


def handle(case: Case, envelope: AnyEnvelope, now: datetime, rules: Rules) -> Applied:
    """A handler reports its result; a lone owner's result goes straight to the intake."""
    payload = payload_of(envelope, CaseHandled)
    if envelope.source not in case.handlers:
        raise not_permitted(f"{envelope.source.value} does not handle case {case.case_id}")
    require_stage(case, Stage.ACCEPTED, Stage.CONVENING, doing="report a result")
    if envelope.source in case.contributions:
        raise precondition_failed(
            f"{envelope.source.value} has already reported on case {case.case_id}"
        )
    noted = case.evolve(contributions=(*case.contributions, envelope.source))
    if envelope.source != case.owner:
        return Applied(noted, tuple(copies(envelope, [case.owner])), ("contribution",))
    if case.participants:
        return Applied(noted, tuple(copies(envelope, case.participants)), ("contribution",))
    return _report(noted, envelope, payload.outcome.value, now, rules)


def reply(case: Case, envelope: AnyEnvelope, now: datetime, rules: Rules) -> Applied:
    """The lead's unified reply (统一答复) once every participant has reported."""
    payload = payload_of(envelope, CaseReplied)
    if envelope.source != case.owner:
        raise not_permitted(f"only the lead ({case.owner.value}) gives the unified reply")
    require_stage(case, Stage.ACCEPTED, Stage.CONVENING, doing="reply")
    missing = [p.value for p in case.participants if p not in case.contributions]
    if missing:
        raise precondition_failed(f"waiting for the results of {', '.join(missing)}")
    return _report(case, envelope, payload.outcome.value, now, rules)


def _report(
    case: Case, envelope: AnyEnvelope, outcome: str, now: datetime, rules: Rules
) -> Applied:
    reported = enter(cancel(case), Stage.REPORTED, now).evolve(outcome=outcome)
    reported = arm_stage(rules, reported, "feedback", reported.intake, now)
    targets = audience(reported, exclude=[envelope.source])
    return Applied(reported, tuple(copies(envelope, targets)), ("reported",))


def give_feedback(case: Case, envelope: AnyEnvelope, now: datetime, rules: Rules) -> Applied:
    """The intake tells the party the result and records whether they are satisfied."""
    payload = payload_of(envelope, CaseFeedbackGiven)
    if envelope.source != case.intake:
        raise not_permitted(f"only the intake department ({case.intake.value}) gives feedback")
    require_stage(case, Stage.REPORTED, doing="give feedback")
    done = enter(cancel(case, "feedback"), Stage.FED_BACK, now).evolve(
        satisfaction=payload.satisfaction.value
    )
    return Applied(done, tuple(copies(envelope, audience(done))), ("fed_back",))


def close(case: Case, envelope: AnyEnvelope, now: datetime, rules: Rules) -> Applied:
    """The intake closes the loop; a withdrawn dispute or a paid arrears case may close early."""
    payload = payload_of(envelope, CaseClosed)
    if envelope.source != case.intake:
        raise not_permitted(
            f"only the intake department ({case.intake.value}) closes case {case.case_id}"
        )
    early = case.kind is CaseKind.ARREARS or payload.resolution is Resolution.WITHDRAWN
    if not case.is_open:
        raise precondition_failed(f"case {case.case_id} is already closed")
    if not early:
        require_stage(case, Stage.FED_BACK, doing="close (the party has not been told the result)")
    closed = enter(
        case.evolve(deadlines=(), resolution=payload.resolution.value, closed_at=payload.closed_at),
        Stage.CLOSED,
        now,
    )
    return Applied(
        closed,
        tuple(
            copies(envelope, audience(closed, TIER_BODY.get(case.tier))),
        ),
        ("closed",),
    )


def reopen(case: Case, envelope: AnyEnvelope, now: datetime, rules: Rules) -> Applied:
    """The party is not satisfied: the intake reopens and the owner signs for it again."""
    payload_of(envelope, CaseReopened)
    if envelope.source != case.intake:
        raise not_permitted(
            f"only the intake department ({case.intake.value}) reopens case {case.case_id}"
        )
    if case.kind is CaseKind.ARREARS:
        raise precondition_failed("an arrears case is not reopened; serve a new notice")
    require_stage(case, Stage.FED_BACK, Stage.CLOSED, doing="reopen")
    again = enter(
        case.evolve(
            reopened=case.reopened + 1,
            signed=(),
            contributions=(),
            closed_at=None,
            resolution=None,
            outcome=None,
            satisfaction=None,
            deadlines=(),
        ),
        Stage.ROUTED,
        now,
    )
    again = arm_stage(rules, again, "sign", again.owner, now)
    if again.tier is not Tier.ROUTINE:
        again = arm_stage(rules, again, "handle", again.owner, now)
    return Applied(again, tuple(routed(again, "reopened", now)), ("reopened",))


def _extend(rules: Rules, case: Case, tier: Tier) -> Case:
    """Move the major handling limit by ``major.extension`` (counted on from its last day), once."""
    if tier is not Tier.MAJOR:
        raise precondition_failed("only the handling limit of a major case is extended")
    if case.extensions >= 1:
        raise precondition_failed(f"case {case.case_id}'s handling limit was already extended once")
    limit = case.deadline("major.handle")
    if limit is None:
        raise precondition_failed(f"case {case.case_id} has no running major handling limit")
    schedule = rules.policy.schedule(
        "major.extension", limit.due_at - timedelta(seconds=1), rules.calendar, rules.tz
    )
    moved = replace(limit, due_at=schedule.due_at, warn_at=schedule.warn_at, warned=False)
    kept = tuple(moved if d is limit else d for d in case.deadlines)
    return case.evolve(deadlines=kept, extensions=case.extensions + 1)
