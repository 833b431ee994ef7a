"""Arrears to enforcement (notice §4.3.4; 行政强制法 arts. 53–57; 社会保险法 art. 86).

The tax bureau serves a demand (``arrears.notice``); once ten working days have
passed and the payment date has lapsed, the window for applying to the court
opens: the hub asks hrss and medins to confirm the arrears data of their insurance
types and tells tax. With every confirmation in, tax may apply (``enforcement.applied``)
until three months after the payment date; the court accepts, rules and concludes,
each within its statutory limit.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

from contracts.codes import Department, Ruling, Tier
from contracts.envelope import AnyEnvelope
from contracts.messages.arrears import (
    ArrearsConfirmationRequested,
    ArrearsConfirmed,
    ArrearsNotice,
    EnforcementAccepted,
    EnforcementApplied,
    EnforcementConcluded,
    EnforcementRuled,
)
from hub.domain.flow import Rules, arm, cancel, copies, enter, payload_of, require_stage
from hub.domain.latefee import late_fee
from hub.domain.model import (
    Applied,
    ArrearsState,
    Case,
    CaseKind,
    Emit,
    Stage,
    not_permitted,
    precondition_failed,
)
from hub.domain.routing import HRSS_TYPES, MEDINS_TYPES

WINDOW_KEY = "arrears.earliest_enforcement"
LATEST_KEY = "arrears.latest_enforcement"


def _midnight(day: date, rules: Rules) -> datetime:
    return datetime.combine(day, time(0), tzinfo=rules.tz)


def confirmers_of(notice: ArrearsNotice) -> tuple[Department, ...]:
    """hrss and/or medins, by the insurance types in arrears."""
    types = set(notice.insurance_types)
    found = [Department.HRSS] if types & HRSS_TYPES else []
    return (*found, Department.MEDINS) if types & MEDINS_TYPES else tuple(found)


def serve_notice(case: Case | None, envelope: AnyEnvelope, now: datetime, rules: Rules) -> Applied:
    """Open an arrears case on a served demand; arm the window and the last application date."""
    notice = payload_of(envelope, ArrearsNotice)
    if case is not None:
        raise precondition_failed(f"case {case.case_id} is already registered")
    if envelope.source is not Department.TAX:
        raise not_permitted("demands for payment are served by the tax bureau")
    assert envelope.case_id is not None
    served = _midnight(notice.served_on, rules)
    ten_days = rules.policy.schedule(WINDOW_KEY, served, rules.calendar, rules.tz).due_at
    opens = max(ten_days, _midnight(notice.pay_by + timedelta(days=1), rules))
    latest_due = rules.policy.schedule(
        LATEST_KEY, _midnight(notice.pay_by, rules), rules.calendar, rules.tz
    ).due_at
    state = ArrearsState(
        notice=notice,
        window_opens_on=opens.date(),
        latest_application_by=latest_due.date() - timedelta(days=1),
        confirmers=confirmers_of(notice),
    )
    window = arm(rules, WINDOW_KEY, Department.TAX, Tier.ROUTINE, served, kind="timer")
    window = replace(window, due_at=opens)
    latest = arm(rules, LATEST_KEY, Department.TAX, Tier.ROUTINE, _midnight(notice.pay_by, rules))
    new = Case(
        case_id=envelope.case_id,
        kind=CaseKind.ARREARS,
        intake=Department.TAX,
        registered_at=envelope.occurred_at,
        stage=Stage.DUNNING,
        stage_since=now,
        tier=Tier.ROUTINE,
        owner=Department.TAX,
        arrears=state,
        deadlines=(window, latest),
    )
    return Applied(new, tuple(copies(envelope, state.confirmers)), ("registered", "arrears_notice"))


def confirmation_request(
    notice: ArrearsNotice,
    until: date,
    *,
    window_opens_on: date,
    latest_application_by: date,
    confirm_by: datetime | None,
) -> ArrearsConfirmationRequested:
    """What the confirmers (and tax) are asked when the window opens: the notice, the late fee to ``until``."""
    return ArrearsConfirmationRequested(
        notice_no=notice.notice_no,
        employer=notice.employer,
        insurance_types=notice.insurance_types,
        period_start=notice.period_start,
        period_end=notice.period_end,
        principal=notice.principal,
        late_fee=late_fee(notice.principal, notice.late_fee_from, until),
        late_fee_until=until,
        window_opens_on=window_opens_on,
        latest_application_by=latest_application_by,
        confirm_by=confirm_by,
    )


def open_window(case: Case, now: datetime, rules: Rules) -> Applied:
    """The window opened: ask the confirmers, and tell tax it may prepare the application."""
    state = case.arrears
    assert state is not None
    if case.stage is not Stage.DUNNING:
        return Applied(cancel(case, "earliest_enforcement"))
    notice = state.notice
    until = now.astimezone(rules.tz).date()
    deadlines = [d for d in case.deadlines if d.key != WINDOW_KEY]
    deadlines += [
        arm(rules, "arrears.confirm", dept, Tier.ROUTINE, now) for dept in state.confirmers
    ]
    confirm_by = max((d.due_at for d in deadlines if d.key == "arrears.confirm"), default=None)
    payload = confirmation_request(
        notice, until, window_opens_on=state.window_opens_on,
        latest_application_by=state.latest_application_by, confirm_by=confirm_by,
    )  # fmt: skip
    stage = Stage.CONFIRMING if state.confirmers else Stage.READY
    opened = enter(case.evolve(deadlines=tuple(deadlines)), stage, now)
    targets = (*state.confirmers, Department.TAX)
    return Applied(
        opened,
        tuple(Emit("arrears.confirmation_requested", t, payload) for t in targets),
        ("window_open",),
    )


def confirm(case: Case, envelope: AnyEnvelope, now: datetime, rules: Rules) -> Applied:
    """hrss or medins confirms (or disputes) the arrears data of its insurance types."""
    payload = payload_of(envelope, ArrearsConfirmed)
    state = _state(case)
    if envelope.source not in state.confirmers:
        raise not_permitted(f"{envelope.source.value} is not asked to confirm case {case.case_id}")
    require_stage(case, Stage.CONFIRMING, Stage.READY, doing="confirm arrears data")
    if payload.notice_no != state.notice.notice_no:
        raise precondition_failed(f"case {case.case_id} is about notice {state.notice.notice_no}")
    entries = tuple((d, ok) for d, ok in state.confirmations if d != envelope.source)
    state = replace(state, confirmations=(*entries, (envelope.source, payload.confirmed)))
    updated = case.evolve(
        arrears=state,
        deadlines=tuple(
            d
            for d in case.deadlines
            if not (d.key == "arrears.confirm" and d.department == envelope.source)
        ),
    )
    ready = state.confirmed_by() >= set(state.confirmers)
    updated = enter(updated, Stage.READY if ready else Stage.CONFIRMING, now)
    return Applied(
        updated,
        tuple(copies(envelope, [Department.TAX])),
        ("confirmed" if payload.confirmed else "disputed",),
    )


def apply_enforcement(case: Case, envelope: AnyEnvelope, now: datetime, rules: Rules) -> Applied:
    """Tax applies to the court: only in the window, with every confirmation, with the right late fee."""
    payload = payload_of(envelope, EnforcementApplied)
    state = _state(case)
    if envelope.source is not Department.TAX:
        raise not_permitted("enforcement is applied for by the tax bureau")
    if case.stage in (Stage.DUNNING, Stage.CONFIRMING):
        opens = state.window_opens_on.isoformat()
        raise precondition_failed(
            f"the enforcement window opens {opens} and needs every confirmation "
            f"(have {sorted(d.value for d in state.confirmed_by())})"
        )
    require_stage(case, Stage.READY, doing="apply for enforcement")
    today = now.astimezone(rules.tz).date()
    if today > state.latest_application_by:
        raise precondition_failed(
            f"the application period ended {state.latest_application_by.isoformat()}"
        )
    if set(payload.confirmations) != set(state.confirmers):
        raise precondition_failed(
            f"confirmations must be {sorted(d.value for d in state.confirmers)}"
        )
    notice = state.notice
    if payload.notice_served_on != notice.served_on or payload.principal != notice.principal:
        raise precondition_failed("principal and notice_served_on must match the notice served")
    expected = late_fee(notice.principal, notice.late_fee_from, payload.late_fee_until)
    if payload.late_fee != expected:
        raise precondition_failed(
            f"late_fee until {payload.late_fee_until} should be {expected:.2f}"
        )
    state = replace(state, application_no=payload.application_no)
    applied = case.evolve(
        arrears=state,
        owner=Department.COURT,
        deadlines=tuple(d for d in case.deadlines if d.key != LATEST_KEY),
    )
    applied = enter(applied, Stage.AT_COURT, now)
    applied = applied.evolve(
        deadlines=(
            *applied.deadlines,
            arm(rules, "court.accept", Department.COURT, Tier.ROUTINE, now),
        )
    )
    return Applied(applied, tuple(copies(envelope, [Department.COURT])), ("enforcement_applied",))


def court_step(case: Case, envelope: AnyEnvelope, now: datetime, rules: Rules) -> Applied:
    """The court accepts, rules on, and concludes an application, each in its limit."""
    state = _state(case)
    if envelope.source is not Department.COURT:
        raise not_permitted("only the court acts on an enforcement application")
    payload = envelope.payload
    key: str | None
    if isinstance(payload, EnforcementAccepted):
        require_stage(case, Stage.AT_COURT, doing="accept the application")
        nxt, stage, key = (
            replace(state, court_case_ref=payload.court_case_ref),
            Stage.COURT_ACCEPTED,
            "court.rule",
        )
    elif isinstance(payload, EnforcementRuled):
        require_stage(case, Stage.COURT_ACCEPTED, doing="rule")
        nxt = replace(state, ruling=payload.ruling.value)
        stage, key = (
            (Stage.ENFORCING, "court.conclude")
            if payload.ruling is Ruling.ENFORCE
            else (Stage.REPORTED, None)
        )
    else:
        concluded = payload_of(envelope, EnforcementConcluded)
        require_stage(case, Stage.ENFORCING, doing="conclude enforcement")
        nxt, stage, key = replace(state, result=concluded.result.value), Stage.REPORTED, None
    moved = enter(cancel(case.evolve(arrears=nxt)), stage, now)
    if key is not None:
        moved = moved.evolve(
            deadlines=(*moved.deadlines, arm(rules, key, Department.COURT, Tier.ROUTINE, now))
        )
    else:
        moved = moved.evolve(owner=Department.TAX)
    return Applied(moved, tuple(copies(envelope, [Department.TAX])), (envelope.type,))


def _state(case: Case) -> ArrearsState:
    if case.arrears is None:
        raise precondition_failed(f"case {case.case_id} is not an arrears case")
    return case.arrears
