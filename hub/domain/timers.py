"""What happens when a deadline's time comes: a warning, a breach, or a window opening.

:func:`fire` is called by the scheduler for a deadline whose warning or due time
has passed. It is idempotent in effect: a breached deadline leaves the case, a
warned one is marked, so a clock jump or a restart fires each at most once.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from contracts.codes import EscalationTrigger, next_tier
from contracts.messages.sla import SlaBreached, SlaWarning
from hub.domain.arrears import WINDOW_KEY, open_window
from hub.domain.flow import Rules, escalate
from hub.domain.model import Applied, Case, Deadline, Emit


def is_due(deadline: Deadline, now: datetime) -> bool:
    """Whether ``deadline`` has something to fire at ``now``."""
    if now >= deadline.due_at:
        return True
    return deadline.warn_at is not None and not deadline.warned and now >= deadline.warn_at


def next_fire_time(deadline: Deadline) -> datetime:
    """When the scheduler should next look at ``deadline``."""
    if deadline.warn_at is not None and not deadline.warned:
        return min(deadline.warn_at, deadline.due_at)
    return deadline.due_at


def fire(case: Case, deadline: Deadline, now: datetime, rules: Rules) -> Applied:
    """Fire ``deadline`` of ``case`` at ``now``; a deadline no longer armed fires nothing."""
    live = next(
        (
            d
            for d in case.deadlines
            if d == deadline or (d.key, d.department) == (deadline.key, deadline.department)
        ),
        None,
    )
    if live is None or not is_due(live, now) or not case.is_open:
        return Applied(case)
    if live.kind == "timer":
        if live.key == WINDOW_KEY:
            return open_window(case, now, rules)
        return Applied(case.evolve(deadlines=tuple(d for d in case.deadlines if d is not live)))
    if now < live.due_at:
        warned = tuple(replace(d, warned=True) if d is live else d for d in case.deadlines)
        warning = SlaWarning(
            stage=live.stage,
            tier=live.tier,
            department=live.department,
            started_at=live.started_at,
            due_at=live.due_at,
        )
        return Applied(
            case.evolve(deadlines=warned),
            (Emit("sla.warning", live.department, warning),),
            (f"warning:{live.stage}:{live.tier.value}:{live.department.value}",),
        )
    return _breach(case, live, now, rules)


def _breach(case: Case, live: Deadline, now: datetime, rules: Rules) -> Applied:
    remaining = case.evolve(
        deadlines=tuple(d for d in case.deadlines if d is not live), breaches=case.breaches + 1
    )
    # Only the tiers' own deadlines escalate: court.accept shares the stage name "accept"
    # with petition.accept, but the court's limits are no dispute tier.
    higher = next_tier(case.tier) if live.escalates else None
    breach = SlaBreached(
        stage=live.stage,
        tier=live.tier,
        department=live.department,
        started_at=live.started_at,
        due_at=live.due_at,
        breached_at=now,
        escalated_to=higher,
    )
    targets = dict.fromkeys([live.department, case.intake])
    emits = [Emit("sla.breached", t, breach) for t in targets]
    events = [f"breach:{live.stage}:{live.tier.value}:{live.department.value}"]
    if higher is None:
        return Applied(remaining, tuple(emits), tuple(events))
    reason = f"{live.department.value} missed the {live.key} deadline of {live.due_at.isoformat()}"
    lifted, escalation, event = escalate(
        rules, remaining, higher, EscalationTrigger.SLA_BREACH, reason, now
    )
    return Applied(lifted, (*emits, *escalation), (*events, event))
