"""Tiers and time limits (notice §4.2 分类分级; §4.3.2–3): warnings, breaches, escalation to the
task force, the leading-group office and the joint meeting, and what each meeting decides.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from contracts import AnyEnvelope
from contracts.codes import Department, EscalationTrigger, RejectReason, Tier
from contracts.messages.case import CaseEscalated, CaseRouted
from contracts.messages.sla import SlaBreached, SlaWarning
from hub.domain.flow import Rules
from hub.domain.model import Applied, Case, Refused, Stage
from hub.domain.timers import fire

from .builders import (
    T0,
    accepted,
    case_id,
    escalated,
    handled,
    later,
    local,
    meeting,
    only,
    registered,
    sent,
    step,
    transferred,
    walk,
)

HRSS, MEDINS, TAX = Department.HRSS, Department.MEDINS, Department.TAX
TASKFORCE, LGO = Department.TASKFORCE, Department.LGO
CID = case_id("tax")


def deadlines(case: Case) -> list[tuple[str, Department, datetime]]:
    return [(d.key, d.department, d.due_at) for d in case.deadlines]


def fire_due(case: Case, key: str, rules: Rules, now: datetime | None = None) -> Applied:
    """Fire the live deadline ``key`` at its due time (or at ``now``)."""
    live = case.deadline(key)
    assert live is not None, f"{key} is not armed: {deadlines(case)}"
    return fire(case, live, now or live.due_at, rules)


def walk_from(case: Case, rules: Rules, *envelopes: AnyEnvelope) -> Case:
    """``case`` after ``envelopes``, each at its own time."""
    for envelope in envelopes:
        case = step(case, envelope, rules).case
    return case


def difficult_case(rules: Rules) -> Case:
    """A routine case hrss never signed for, escalated on the breach (Wednesday 25 Nov 00:00)."""
    return fire_due(walk(rules, registered("tax")), "routine.sign", rules).case


def test_routine_case_not_signed_for_in_one_working_day_escalates_to_task_force(
    rules: Rules,
) -> None:
    """通知四(二): 无法限时办结的事项为疑难争议事项, 由工作专班召集相关部门会商处理."""
    case = walk(rules, registered("tax"))
    applied = fire_due(case, "routine.sign", rules)

    assert sent(applied) == [
        ("sla.breached", HRSS),
        ("sla.breached", TAX),
        ("case.escalated", HRSS),
        ("case.escalated", TAX),
        ("case.escalated", TASKFORCE),
    ]
    breach = only(applied.emits, "sla.breached")
    assert breach == SlaBreached(
        stage="sign",
        tier=Tier.ROUTINE,
        department=HRSS,
        started_at=T0,
        due_at=local(2026, 11, 25),
        breached_at=local(2026, 11, 25),
        escalated_to=Tier.DIFFICULT,
    )
    escalation = only(applied.emits, "case.escalated")
    assert isinstance(escalation, CaseEscalated)
    assert (escalation.from_tier, escalation.to_tier, escalation.trigger) == (
        Tier.ROUTINE,
        Tier.DIFFICULT,
        EscalationTrigger.SLA_BREACH,
    )
    lifted = applied.case
    assert (lifted.tier, lifted.stage, lifted.owner) == (Tier.DIFFICULT, Stage.CONVENING, HRSS)
    # The task force convenes within 5 working days and settles within 30 days.
    assert deadlines(lifted) == [
        ("difficult.convene", TASKFORCE, local(2026, 12, 3)),
        ("difficult.handle", TASKFORCE, local(2026, 12, 26)),
    ]
    assert escalation.convene_by == local(2026, 12, 3)
    assert applied.events == ("breach:sign:routine:hrss", "escalated:routine:difficult:sla_breach")


def test_routine_case_not_handled_in_ten_working_days_escalates_to_task_force(
    rules: Rules,
) -> None:
    """通知四(二) 日常争议事项可限时办结: the 办结 limit breached is the same escalation."""
    case = walk(rules, registered("tax"), accepted("hrss", CID, at=later(hours=1)))
    applied = fire_due(case, "routine.handle", rules)
    assert applied.case.tier is Tier.DIFFICULT
    breach = only(applied.emits, "sla.breached")
    assert isinstance(breach, SlaBreached)
    assert (breach.stage, breach.due_at, breach.escalated_to) == (
        "handle",
        local(2026, 12, 8),
        Tier.DIFFICULT,
    )


def test_warning_fires_once_at_a_fifth_of_the_time_left_and_names_the_department(
    rules: Rules,
) -> None:
    """DESIGN §5 warnings.before = 20%: 38.5 hours to sign, warned 7 h 42 min before the end."""
    case = walk(rules, registered("tax"))
    sign = case.deadline("routine.sign")
    assert sign is not None and sign.warn_at == local(2026, 11, 24, 16, 18)

    assert fire(case, sign, local(2026, 11, 24, 16, 17), rules).emits == ()
    warned = fire(case, sign, local(2026, 11, 24, 16, 18), rules)
    assert sent(warned) == [("sla.warning", HRSS)]
    assert only(warned.emits, "sla.warning") == SlaWarning(
        stage="sign", tier=Tier.ROUTINE, department=HRSS, started_at=T0, due_at=local(2026, 11, 25)
    )
    assert warned.events == ("warning:sign:routine:hrss",)
    again = fire(warned.case, sign, local(2026, 11, 24, 18), rules)
    assert again.emits == () and again.case == warned.case


def test_breached_deadline_never_fires_twice(rules: Rules) -> None:
    """A clock jump or a restart must not escalate a case twice for one breach."""
    case = walk(rules, registered("tax"))
    sign = case.deadline("routine.sign")
    assert sign is not None
    first = fire(case, sign, sign.due_at, rules)
    second = fire(first.case, sign, sign.due_at + timedelta(days=3), rules)
    assert (second.emits, second.case) == ((), first.case)


def test_late_feedback_is_reported_but_does_not_escalate(rules: Rules) -> None:
    """Feeding back is the intake's own step: its breach is counted, the tier stays."""
    reported = walk(
        rules,
        registered("tax"),
        accepted("hrss", CID, at=later(hours=1)),
        handled("hrss", CID, at=later(days=1)),
    )
    applied = fire_due(reported, "routine.feedback", rules)
    assert sent(applied) == [("sla.breached", TAX)]
    breach = only(applied.emits, "sla.breached")
    assert isinstance(breach, SlaBreached) and breach.escalated_to is None
    assert (applied.case.tier, applied.case.stage, applied.case.deadlines) == (
        Tier.ROUTINE,
        Stage.REPORTED,
        (),
    )


def test_task_force_meeting_assigns_a_lead_who_answers_for_the_running_clock(
    rules: Rules,
) -> None:
    """通知四(三)2 工作专班会议, 共同会商办理: the meeting names a lead and participants; the
    30-day clock keeps running and the lead now answers for it."""
    applied = step(
        difficult_case(rules),
        meeting(
            "taskforce",
            CID,
            "difficult",
            "assign",
            lead="medins",
            participants=["hrss"],
            at=local(2026, 11, 30, 10),
        ),
        rules,
    )
    case = applied.case
    assert (case.owner, case.participants, case.stage) == (MEDINS, (HRSS,), Stage.ROUTED)
    assert sent(applied) == [
        ("case.meeting_concluded", HRSS),
        ("case.meeting_concluded", TAX),
        ("case.routed", MEDINS),
        ("case.routed", HRSS),
        ("case.routed", TAX),
    ]
    assert deadlines(case) == [
        ("difficult.handle", MEDINS, local(2026, 12, 26)),
        ("difficult.sign", MEDINS, local(2026, 12, 2)),
    ]
    routed = only(applied.emits, "case.routed")
    assert isinstance(routed, CaseRouted)
    assert (routed.because, routed.tier, routed.sign_by) == (
        "meeting",
        Tier.DIFFICULT,
        local(2026, 12, 2),
    )
    # The lead signs; the tier's clock is not restarted.
    signed = step(case, accepted("medins", CID, at=local(2026, 12, 1, 9)), rules).case
    assert deadlines(signed) == [("difficult.handle", MEDINS, local(2026, 12, 26))]


def test_difficult_case_transferred_by_its_lead_keeps_the_task_force_clock(rules: Rules) -> None:
    """通知四(一) 转办 inside the difficult tier: the 30-day limit runs on; the new owner answers."""
    assigned = walk_from(
        difficult_case(rules),
        rules,
        meeting("taskforce", CID, "difficult", "assign", lead="medins", at=local(2026, 11, 30, 10)),
        accepted("medins", CID, at=local(2026, 12, 1, 9)),
        transferred("medins", CID, "hrss", at=local(2026, 12, 4, 9)),
    )
    assert (assigned.owner, assigned.stage) == (HRSS, Stage.ROUTED)
    assert deadlines(assigned) == [
        ("difficult.handle", HRSS, local(2026, 12, 26)),
        ("difficult.sign", HRSS, local(2026, 12, 8)),
    ]


def test_task_force_meeting_escalates_to_the_leading_group_office(rules: Rules) -> None:
    """通知四(二)/(三)2: 工作专班无法办结的为重大疑难争议, 由县领导小组办公室召开会议协商解决."""
    applied = step(
        difficult_case(rules),
        meeting("taskforce", CID, "difficult", "escalate", at=local(2026, 11, 30, 10)),
        rules,
    )
    case = applied.case
    assert (case.tier, case.stage) == (Tier.MAJOR, Stage.CONVENING)
    assert sent(applied) == [
        ("case.meeting_concluded", HRSS),
        ("case.meeting_concluded", TAX),
        ("case.escalated", HRSS),
        ("case.escalated", TAX),
        ("case.escalated", LGO),
    ]
    escalation = only(applied.emits, "case.escalated")
    assert isinstance(escalation, CaseEscalated) and escalation.trigger is EscalationTrigger.MEETING
    # 60 days from Monday 30 November: Friday 29 January 2027 (a year the seed does not list).
    assert deadlines(case) == [("major.handle", LGO, local(2027, 1, 30))]
    assert applied.events == ("meeting", "escalated:difficult:major:meeting")


def test_meeting_that_settles_the_case_reports_the_result_to_the_intake(rules: Rules) -> None:
    """通知四(二) 会商处理 → 统一答复: a resolution goes to the intake, who tells the party."""
    applied = step(
        difficult_case(rules),
        meeting("taskforce", CID, "difficult", "resolved", at=local(2026, 11, 30, 10)),
        rules,
    )
    assert (applied.case.stage, applied.case.outcome) == (Stage.REPORTED, "resolved_by_meeting")
    assert sent(applied) == [("case.meeting_concluded", HRSS), ("case.meeting_concluded", TAX)]
    assert deadlines(applied.case) == [("difficult.feedback", TAX, local(2026, 12, 3))]


def test_only_taskforce_concludes_difficult_meetings(rules: Rules) -> None:
    """附件三 工作专班: difficult cases are the task force's; major ones the office's."""
    case = difficult_case(rules)
    at = local(2026, 11, 30, 10)
    for sender in ("lgo", "hrss", "tax"):
        with pytest.raises(Refused) as excinfo:
            step(case, meeting(sender, CID, "difficult", "resolved", at=at), rules)
        assert excinfo.value.reason is RejectReason.NOT_PERMITTED
    with pytest.raises(Refused) as excinfo:
        step(case, meeting("taskforce", CID, "major", "resolved", at=at), rules)
    assert excinfo.value.reason is RejectReason.NOT_PERMITTED
    with pytest.raises(Refused) as excinfo:  # the office, on a case not yet its tier
        step(case, meeting("lgo", CID, "major", "resolved", at=at), rules)
    assert excinfo.value.reason is RejectReason.PRECONDITION_FAILED


def test_department_that_cannot_resolve_it_under_the_law_refers_it_to_the_leading_group(
    rules: Rules,
) -> None:
    """通知四(三)3: 依法履职后仍无法解决的事项 → 领导小组; the owner refers it up directly."""
    case = walk(rules, registered("tax"), accepted("hrss", CID, at=later(hours=1)))
    applied = step(case, escalated("hrss", CID, "routine", "major", at=later(days=2)), rules)
    assert (applied.case.tier, applied.case.stage) == (Tier.MAJOR, Stage.CONVENING)
    # Everyone but the sender hears of it, the office included.
    assert sent(applied) == [("case.escalated", TAX), ("case.escalated", LGO)]
    assert deadlines(applied.case) == [("major.handle", LGO, local(2027, 1, 26))]


def test_manual_escalation_goes_up_from_the_cases_tier_by_someone_on_the_case(
    rules: Rules,
) -> None:
    """A referral names the tier the case is at and a higher one, and comes from its people."""
    case = walk(rules, registered("tax"), accepted("hrss", CID, at=later(hours=1)))
    at = later(days=1)
    cases = [
        (escalated("court", CID, "routine", "difficult", at=at), RejectReason.NOT_PERMITTED),
        (escalated("hrss", CID, "difficult", "major", at=at), RejectReason.PRECONDITION_FAILED),
        (escalated("hrss", CID, "routine", "routine", at=at), RejectReason.PRECONDITION_FAILED),
    ]
    for envelope, reason in cases:
        with pytest.raises(Refused) as excinfo:
            step(case, envelope, rules)
        assert excinfo.value.reason is reason
    # The intake may refer it up too (首接负责 keeps watching).
    assert step(case, escalated("tax", CID, "routine", "difficult", at=at), rules).case.tier is (
        Tier.DIFFICULT
    )


def test_joint_meeting_top_tier_breach_does_not_escalate_further(rules: Rules) -> None:
    """通知四(二) 重大问题报县领导小组联席会议: the top tier; a breach there is only reported."""
    top = step(
        walk(rules, registered("tax")),
        escalated("tax", CID, "routine", "joint_meeting", at=later(hours=1)),
        rules,
    ).case
    assert top.tier is Tier.JOINT_MEETING
    assert [(d.key, d.department) for d in top.deadlines] == [
        ("joint_meeting.convene", LGO),
        ("joint_meeting.handle", LGO),
    ]
    applied = fire_due(top, "joint_meeting.convene", rules)
    assert sent(applied) == [("sla.breached", LGO), ("sla.breached", TAX)]
    breach = only(applied.emits, "sla.breached")
    assert isinstance(breach, SlaBreached) and breach.escalated_to is None
    assert (applied.case.tier, applied.case.stage) == (Tier.JOINT_MEETING, Stage.CONVENING)
    assert [d.key for d in applied.case.deadlines] == ["joint_meeting.handle"]
    with pytest.raises(Refused) as excinfo:
        step(
            applied.case, meeting("lgo", CID, "joint_meeting", "escalate", at=later(days=20)), rules
        )
    assert excinfo.value.reason is RejectReason.PRECONDITION_FAILED


def test_seconds_policy_runs_the_same_escalation_in_seconds(fast_rules: Rules) -> None:
    """Policies load from a file so demos and tests use seconds (DESIGN §5)."""
    case = walk(fast_rules, registered("tax"))
    assert deadlines(case) == [("routine.sign", HRSS, T0 + timedelta(seconds=10))]
    lifted = fire_due(case, "routine.sign", fast_rules).case
    assert lifted.tier is Tier.DIFFICULT
    assert deadlines(lifted) == [
        ("difficult.convene", TASKFORCE, T0 + timedelta(seconds=60)),
        ("difficult.handle", TASKFORCE, T0 + timedelta(seconds=310)),
    ]


def test_leading_group_office_extends_a_major_case_once_by_thirty_days(rules: Rules) -> None:
    """DESIGN §5 (信访工作条例): major cases are handled in 60 days, extendable once by 30."""
    major = step(
        difficult_case(rules),
        meeting("taskforce", CID, "difficult", "escalate", at=local(2026, 11, 30, 10)),
        rules,
    ).case
    extended = step(
        major, meeting("lgo", CID, "major", "extend", at=local(2026, 12, 10, 10)), rules
    )
    # The 60 days ended Friday 29 January 2027; thirty more end Sunday 28 February,
    # which moves to Monday 1 March (Civil Code art. 203): due as 2 March begins.
    assert deadlines(extended.case) == [("major.handle", LGO, local(2027, 3, 2))]
    assert extended.case.extensions == 1 and extended.events == ("meeting", "extended")
    with pytest.raises(Refused) as again:
        step(
            extended.case, meeting("lgo", CID, "major", "extend", at=local(2026, 12, 20, 10)), rules
        )
    assert (
        again.value.reason is RejectReason.PRECONDITION_FAILED
        and "already extended" in again.value.detail
    )
    with pytest.raises(Refused) as task_force:
        step(major, meeting("taskforce", CID, "major", "extend", at=local(2026, 12, 10, 10)), rules)
    assert task_force.value.reason is RejectReason.NOT_PERMITTED


def test_only_a_major_handling_limit_is_extended(rules: Rules) -> None:
    with pytest.raises(Refused) as refused:
        step(
            difficult_case(rules),
            meeting("taskforce", CID, "difficult", "extend", at=local(2026, 11, 30, 10)),
            rules,
        )
    assert refused.value.reason is RejectReason.PRECONDITION_FAILED
