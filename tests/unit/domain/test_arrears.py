"""Arrears to compulsory enforcement (notice §4.3.4; 附件二 县人民法院, 县税务局): dunning, joint
confirmation by tax, hrss and medins, the court's statutory limits (行政强制法 arts. 53–57), and
the late fee (社会保险法 art. 86).

The scenario: tax serves a demand (催告书) on Monday 3 August 2026, to be paid by Thursday
13 August; 186 400.00 yuan of pension and medical fees are in arrears since 16 February.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from contracts import AnyEnvelope
from contracts.codes import Department, EnforcementResult, RejectReason, Resolution, Tier
from contracts.messages.arrears import ArrearsConfirmationRequested
from contracts.messages.sla import SlaBreached
from hub.domain.flow import Rules
from hub.domain.model import Applied, Case, Refused, Stage
from hub.domain.timers import fire

from .builders import (
    accepted,
    case_id,
    closed,
    county_rules,
    local,
    meeting,
    only,
    reopened,
    sent,
    step,
)
from .money_builders import (
    arrears_confirmed,
    arrears_notice,
    enforcement_accepted,
    enforcement_applied,
    enforcement_concluded,
    enforcement_ruled,
    notice,
)

HRSS, MEDINS, TAX, COURT = Department.HRSS, Department.MEDINS, Department.TAX, Department.COURT
CID = case_id("tax")
SERVED = local(2026, 8, 3, 10)


def deadlines(case: Case) -> list[tuple[str, Department, datetime]]:
    return [(d.key, d.department, d.due_at) for d in case.deadlines]


def served(rules: Rules) -> Case:
    return step(None, arrears_notice(at=SERVED), rules).case


def window_open(rules: Rules) -> Applied:
    case = served(rules)
    window = case.deadline("arrears.earliest_enforcement")
    assert window is not None
    return fire(case, window, window.due_at, rules)


def confirmed(rules: Rules) -> Case:
    case = window_open(rules).case
    case = step(case, arrears_confirmed("hrss", CID, at=local(2026, 8, 19, 9)), rules).case
    return step(case, arrears_confirmed("medins", CID, at=local(2026, 8, 19, 10)), rules).case


def at_court(rules: Rules) -> Case:
    return step(confirmed(rules), enforcement_applied(CID, at=local(2026, 8, 20, 10)), rules).case


def refused(case: Case, envelope: AnyEnvelope, rules: Rules) -> Refused:
    with pytest.raises(Refused) as excinfo:
        step(case, envelope, rules)
    return excinfo.value


def test_served_demand_opens_an_arrears_case_and_tells_the_confirming_bureaus(
    rules: Rules,
) -> None:
    """通知四(三)4 经税务部门催报催缴: hrss (pension) and medins (medical) will confirm their data."""
    applied = step(None, arrears_notice(at=SERVED), rules)
    case = applied.case
    assert sent(applied) == [("arrears.notice", HRSS), ("arrears.notice", MEDINS)]
    assert (case.stage, case.owner, case.intake) == (Stage.DUNNING, TAX, TAX)
    assert case.arrears is not None and case.arrears.confirmers == (HRSS, MEDINS)
    # 行政强制法 art. 54: ten working days after the 催告 (and past the payment date).
    assert case.arrears.window_opens_on == date(2026, 8, 18)
    # art. 53: three months after the payment date lapses; the last day is Friday 13 November.
    assert case.arrears.latest_application_by == date(2026, 11, 13)
    assert deadlines(case) == [
        ("arrears.earliest_enforcement", TAX, local(2026, 8, 18)),
        ("arrears.latest_enforcement", TAX, local(2026, 11, 14)),
    ]


def test_pension_only_arrears_are_confirmed_by_hrss_alone() -> None:
    """附件二: who confirms follows the insurance types in arrears."""
    case = step(
        None, arrears_notice(notice(insurance_types=["110", "410"]), at=SERVED), county_rules()
    ).case
    assert case.arrears is not None and case.arrears.confirmers == (HRSS,)


def test_window_opening_asks_for_joint_confirmation_with_the_late_fee_to_date(
    rules: Rules,
) -> None:
    """通知四(三)4 税务、人社、医保确认欠费资料; 社会保险法 art. 86: 0.05 % a day, 184 days."""
    applied = window_open(rules)
    assert sent(applied) == [
        ("arrears.confirmation_requested", HRSS),
        ("arrears.confirmation_requested", MEDINS),
        ("arrears.confirmation_requested", TAX),
    ]
    request = only(applied.emits, "arrears.confirmation_requested")
    assert isinstance(request, ArrearsConfirmationRequested)
    assert (request.late_fee, request.late_fee_until) == (Decimal("17148.80"), date(2026, 8, 18))
    assert request.confirm_by == local(2026, 8, 26)
    assert applied.case.stage is Stage.CONFIRMING
    assert deadlines(applied.case) == [
        ("arrears.latest_enforcement", TAX, local(2026, 11, 14)),
        ("arrears.confirm", HRSS, local(2026, 8, 26)),
        ("arrears.confirm", MEDINS, local(2026, 8, 26)),
    ]


def test_arrears_not_cleared_after_dunning_go_to_court_after_joint_confirmation(
    rules: Rules,
) -> None:
    """通知四(三)4: refused before the window, refused without every confirmation, refused with
    a wrong late fee; accepted in the window with 17 335.20 yuan (186 days) to 20 August."""
    dunning = served(rules)
    early = refused(dunning, enforcement_applied(CID, at=local(2026, 8, 17, 10)), rules)
    assert early.reason is RejectReason.PRECONDITION_FAILED
    assert "2026-08-18" in early.detail

    half = step(
        window_open(rules).case, arrears_confirmed("hrss", CID, at=local(2026, 8, 19)), rules
    )
    assert (half.case.stage, sent(half)) == (Stage.CONFIRMING, [("arrears.confirmed", TAX)])
    missing = refused(half.case, enforcement_applied(CID, at=local(2026, 8, 20, 10)), rules)
    assert missing.reason is RejectReason.PRECONDITION_FAILED

    ready = confirmed(rules)
    assert ready.stage is Stage.READY
    wrong = refused(
        ready, enforcement_applied(CID, fee="17148.80", at=local(2026, 8, 20, 10)), rules
    )
    assert wrong.reason is RejectReason.PRECONDITION_FAILED
    assert "17335.20" in wrong.detail

    applied = step(
        ready, enforcement_applied(CID, fee="17335.20", at=local(2026, 8, 20, 10)), rules
    )
    assert sent(applied) == [("enforcement.applied", COURT)]
    case = applied.case
    assert (case.stage, case.owner) == (Stage.AT_COURT, COURT)
    assert case.arrears is not None and case.arrears.application_no == "五税强申〔2026〕3号"
    # 行政强制法 art. 56: the court decides on acceptance within 5 days.
    assert deadlines(case) == [("court.accept", COURT, local(2026, 8, 26))]


def test_enforcement_application_after_three_months_is_refused(rules: Rules) -> None:
    """行政强制法 art. 53: no application once three months after the payment date have passed."""
    ready = confirmed(rules)
    last_day = enforcement_applied(
        CID, late_fee_until=date(2026, 11, 13), at=local(2026, 11, 13, 16)
    )
    assert step(ready, last_day, rules).case.stage is Stage.AT_COURT
    too_late = refused(
        ready,
        enforcement_applied(CID, late_fee_until=date(2026, 11, 14), at=local(2026, 11, 14, 9)),
        rules,
    )
    assert too_late.reason is RejectReason.PRECONDITION_FAILED
    assert "2026-11-13" in too_late.detail


def test_application_must_name_every_confirmation_and_the_notice_served(rules: Rules) -> None:
    """The court gets an application whose data tax, hrss and medins all confirmed."""
    ready = confirmed(rules)
    at = local(2026, 8, 20, 10)
    only_hrss = refused(ready, enforcement_applied(CID, confirmations=["hrss"], at=at), rules)
    assert only_hrss.reason is RejectReason.PRECONDITION_FAILED
    other_notice = refused(
        ready, enforcement_applied(CID, served=notice(principal="1.00"), at=at), rules
    )
    assert other_notice.reason is RejectReason.PRECONDITION_FAILED


def test_disputed_arrears_data_keeps_the_case_from_court(rules: Rules) -> None:
    """A bureau that cannot confirm the data says so; tax hears it and cannot apply yet."""
    case = window_open(rules).case
    case = step(case, arrears_confirmed("hrss", CID, at=local(2026, 8, 19)), rules).case
    disputed = step(
        case, arrears_confirmed("medins", CID, confirmed=False, at=local(2026, 8, 19, 11)), rules
    )
    assert (disputed.case.stage, disputed.events) == (Stage.CONFIRMING, ("disputed",))
    assert sent(disputed) == [("arrears.confirmed", TAX)]
    # medins corrects itself later: the case becomes ready.
    fixed = step(disputed.case, arrears_confirmed("medins", CID, at=local(2026, 8, 21)), rules)
    assert fixed.case.stage is Stage.READY


def test_only_the_bureaus_asked_confirm_and_only_for_the_notice_served(rules: Rules) -> None:
    case = window_open(rules).case
    stranger = refused(case, arrears_confirmed("court", CID, at=local(2026, 8, 19)), rules)
    assert stranger.reason is RejectReason.NOT_PERMITTED
    wrong = refused(
        case,
        arrears_confirmed("hrss", CID, notice_no="其他〔2026〕1号", at=local(2026, 8, 19)),
        rules,
    )
    assert wrong.reason is RejectReason.PRECONDITION_FAILED


def test_only_court_rules(rules: Rules) -> None:
    """附件二 县人民法院: 依法及时受理 … 强制执行 — acceptance, ruling and conclusion are the court's."""
    case = at_court(rules)
    for envelope in (
        enforcement_accepted(CID, source="tax", at=local(2026, 8, 24)),
        enforcement_ruled(CID, source="tax", at=local(2026, 8, 24)),
        enforcement_concluded(CID, source="hrss", at=local(2026, 8, 24)),
    ):
        assert refused(case, envelope, rules).reason is RejectReason.NOT_PERMITTED
    # And in its order: no ruling before acceptance.
    early = refused(case, enforcement_ruled(CID, at=local(2026, 8, 24)), rules)
    assert early.reason is RejectReason.PRECONDITION_FAILED


def test_court_accepts_rules_and_enforces_then_tax_closes_the_case(rules: Rules) -> None:
    """行政强制法 arts. 56–57: accept within 5 days, rule within 7; the result goes back to tax."""
    acc = step(at_court(rules), enforcement_accepted(CID, at=local(2026, 8, 24, 10)), rules)
    assert sent(acc) == [("enforcement.accepted", TAX)]
    assert acc.case.stage is Stage.COURT_ACCEPTED
    assert deadlines(acc.case) == [("court.rule", COURT, local(2026, 9, 1))]

    ruled = step(acc.case, enforcement_ruled(CID, at=local(2026, 8, 28, 10)), rules)
    assert (ruled.case.stage, sent(ruled)) == (Stage.ENFORCING, [("enforcement.ruled", TAX)])
    assert [(d.key, d.department) for d in ruled.case.deadlines] == [("court.conclude", COURT)]

    done = step(ruled.case, enforcement_concluded(CID, at=local(2026, 10, 9, 10)), rules)
    assert (done.case.stage, done.case.owner, done.case.deadlines) == (Stage.REPORTED, TAX, ())
    assert done.case.arrears is not None
    assert done.case.arrears.result == EnforcementResult.EXECUTED_IN_FULL.value

    shut = step(
        done.case,
        closed("tax", CID, resolution=Resolution.ENFORCED, at=local(2026, 10, 9, 11)),
        rules,
    )
    assert shut.case.stage is Stage.CLOSED


def test_court_refusing_enforcement_returns_the_case_to_tax(rules: Rules) -> None:
    acc = step(at_court(rules), enforcement_accepted(CID, at=local(2026, 8, 24, 10)), rules)
    ruled = step(acc.case, enforcement_ruled(CID, ruling="refuse", at=local(2026, 8, 28)), rules)
    assert (ruled.case.stage, ruled.case.owner, ruled.case.deadlines) == (Stage.REPORTED, TAX, ())


def test_court_missing_its_acceptance_limit_is_reported_but_not_escalated_to_the_task_force(
    rules: Rules,
) -> None:
    """The court's statutory limits are not the dispute tiers: a breach is counted and reported
    to the court and tax, and the application stays at court (no task-force meeting on it)."""
    case = at_court(rules)
    late = case.deadline("court.accept")
    assert late is not None
    applied = fire(case, late, late.due_at, rules)
    assert sent(applied) == [("sla.breached", COURT), ("sla.breached", TAX)]
    breach = only(applied.emits, "sla.breached")
    assert isinstance(breach, SlaBreached) and breach.escalated_to is None
    assert (applied.case.tier, applied.case.stage) == (Tier.ROUTINE, Stage.AT_COURT)
    # The court can still accept it, late.
    assert step(
        applied.case, enforcement_accepted(CID, at=local(2026, 8, 27)), rules
    ).case.stage is (Stage.COURT_ACCEPTED)
    with pytest.raises(Refused):  # and no meeting can take it over
        step(
            applied.case,
            meeting("taskforce", CID, "difficult", "assign", lead="hrss", at=local(2026, 8, 27)),
            rules,
        )


def test_arrears_paid_after_the_demand_close_early_and_are_not_reopened(rules: Rules) -> None:
    """An employer that pays ends the case at any stage; a new default needs a new notice."""
    case = served(rules)
    assert refused(case, closed("hrss", CID, resolution="paid"), rules).reason is (
        RejectReason.NOT_PERMITTED
    )
    paid = step(case, closed("tax", CID, resolution=Resolution.PAID, at=local(2026, 8, 10)), rules)
    assert (paid.case.stage, paid.case.deadlines, sent(paid)) == (Stage.CLOSED, (), [])
    again = refused(paid.case, reopened("tax", CID, at=local(2026, 8, 11)), rules)
    assert again.reason is RejectReason.PRECONDITION_FAILED


def test_dispute_messages_do_not_apply_to_an_arrears_case(rules: Rules) -> None:
    case = served(rules)
    assert refused(case, accepted("tax", CID, at=local(2026, 8, 4)), rules).reason is (
        RejectReason.PRECONDITION_FAILED
    )


def test_only_tax_serves_demands(rules: Rules) -> None:
    """附件二 县税务局: 欠费追缴 after the process change is the tax bureau's."""
    envelope = arrears_notice(source="hrss", at=SERVED)
    with pytest.raises(Refused) as excinfo:
        step(None, envelope, rules)
    assert excinfo.value.reason is RejectReason.NOT_PERMITTED
