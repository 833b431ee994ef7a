"""Shared steps of the case flows: the rules context, arming deadlines, escalation, copies."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from contracts.codes import Department, EscalationTrigger, Tier
from contracts.envelope import AnyEnvelope
from contracts.messages.base import Contract
from contracts.messages.case import CaseEscalated, CaseRouted
from hub.domain.calendar import WorkCalendar
from hub.domain.durations import COUNTY_TZ
from hub.domain.model import (
    Case,
    CaseKind,
    Deadline,
    DeadlineKind,
    Emit,
    Stage,
    precondition_failed,
)
from hub.domain.sla_policy import SlaPolicy

#: Who convenes on a case of each tier above routine.
TIER_BODY = {
    Tier.DIFFICULT: Department.TASKFORCE,
    Tier.MAJOR: Department.LGO,
    Tier.JOINT_MEETING: Department.LGO,
}


T = TypeVar("T", bound=Contract)


def payload_of(envelope: AnyEnvelope, kind: type[T]) -> T:
    """The payload of ``envelope``, which the type table guarantees is a ``kind``."""
    payload = envelope.payload
    if not isinstance(payload, kind):
        raise TypeError(f"{envelope.type} carries {type(payload).__name__}, not {kind.__name__}")
    return payload


def require_stage(case: Case, *stages: Stage, doing: str) -> None:
    """Refuse as ``precondition_failed`` unless the case is in one of ``stages``."""
    if case.stage not in stages:
        allowed = ", ".join(s.value for s in stages)
        raise precondition_failed(
            f"cannot {doing}: case {case.case_id} is {case.stage.value} (needs {allowed})"
        )


@dataclass(frozen=True)
class Rules:
    """Everything the pure rules need besides the case and the message."""

    policy: SlaPolicy
    calendar: WorkCalendar
    process_change: date = date(2024, 1, 1)
    tz: ZoneInfo = COUNTY_TZ


def policy_key(rules: Rules, case: Case, stage: str) -> str | None:
    """The policy key of ``stage`` for this case's tier and kind, falling back to routine."""
    candidates = []
    if case.kind is CaseKind.PETITION and case.tier is Tier.ROUTINE:
        candidates.append(f"petition.{'accept' if stage == 'sign' else stage}")
    candidates += [f"{case.tier.value}.{stage}", f"routine.{stage}"]
    if case.tier is Tier.JOINT_MEETING:
        candidates.insert(len(candidates) - 1, f"major.{stage}")
    return next((key for key in candidates if key in rules.policy.deadlines), None)


def arm(
    rules: Rules,
    key: str,
    department: Department,
    tier: Tier,
    start: datetime,
    kind: DeadlineKind = "sla",
) -> Deadline:
    """A deadline of policy ``key`` starting at ``start`` for ``department``."""
    schedule = rules.policy.schedule(key, start, rules.calendar, rules.tz)
    warn = schedule.warn_at if kind == "sla" else None
    return Deadline(key, department, tier, start, schedule.due_at, warn, kind)


def arm_stage(
    rules: Rules, case: Case, stage: str, department: Department, start: datetime
) -> Case:
    """Arm the deadline of ``stage`` for ``department`` (if the policy has one), replacing any."""
    key = policy_key(rules, case, stage)
    if key is None:
        return case
    kept = tuple(d for d in case.deadlines if not (d.key == key and d.department == department))
    return case.evolve(deadlines=(*kept, arm(rules, key, department, case.tier, start)))


def cancel(case: Case, *stages: str) -> Case:
    """Drop the live deadlines that guard ``stages`` (all when none are named)."""
    if not stages:
        return case.evolve(deadlines=tuple(d for d in case.deadlines if d.kind != "sla"))
    return case.evolve(deadlines=tuple(d for d in case.deadlines if d.stage not in stages))


def enter(case: Case, stage: Stage, now: datetime) -> Case:
    """Move to ``stage`` and note when."""
    return case.evolve(stage=stage, stage_since=now)


def audience(
    case: Case, *extra: Department | None, exclude: Iterable[Department] = ()
) -> list[Department]:
    """The departments that follow a case: handlers, coordinator, intake, plus ``extra``."""
    wanted = [*case.handlers, case.coordinator, case.intake, *extra]
    skip = set(exclude) | {Department.HUB}
    return [d for d in dict.fromkeys(w for w in wanted if w is not None) if d not in skip]


def copies(envelope: AnyEnvelope, targets: Iterable[Department]) -> list[Emit]:
    """The same payload forwarded to each target other than its sender."""
    return [
        Emit(envelope.type, t, envelope.payload)
        for t in dict.fromkeys(targets)
        if t != envelope.source
    ]


def routed(case: Case, because: str, now: datetime) -> list[Emit]:
    """``case.routed`` to everyone who follows the case, with the owner's sign-by time."""
    assert case.routing is not None and case.registration is not None
    sign = next(
        (d for d in case.deadlines if d.stage in ("sign", "accept") and d.department == case.owner),
        None,
    )
    payload = CaseRouted(
        owner=case.owner,
        participants=case.participants,
        coordinator=case.coordinator,
        intake=case.intake,
        mode=case.mode,
        tier=case.tier,
        because=because,
        rule=case.routing.rule,
        clause=case.routing.clause,
        explanation=case.routing.explanation,
        sign_by=sign.due_at if sign else None,
        registration=case.registration,
    )
    return [Emit("case.routed", target, payload) for target in audience(case)]


def escalate(
    rules: Rules, case: Case, to_tier: Tier, trigger: EscalationTrigger, reason: str, now: datetime
) -> tuple[Case, list[Emit], str]:
    """Move a case up to ``to_tier``: its body convenes, the tier's own deadlines start."""
    from_tier = case.tier
    body = TIER_BODY[to_tier]
    lifted = enter(cancel(case.evolve(tier=to_tier)), Stage.CONVENING, now)
    lifted = arm_stage(rules, lifted, "convene", body, now)
    lifted = arm_stage(rules, lifted, "handle", body, now)
    convene = next((d for d in lifted.deadlines if d.stage == "convene"), None)
    payload = CaseEscalated(
        from_tier=from_tier,
        to_tier=to_tier,
        trigger=trigger,
        reason=reason,
        convene_by=convene.due_at if convene else None,
    )
    emits = [Emit("case.escalated", target, payload) for target in audience(lifted, body)]
    return lifted, emits, f"escalated:{from_tier.value}:{to_tier.value}:{trigger.value}"
