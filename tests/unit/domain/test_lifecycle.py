"""The closed loop of notice §4.1–§4.2: 首接负责、内部流转、闭环处理、限时办结, transfer (转办) and
objection, joint handling (联合办理) with one unified reply (统一答复), feedback, reopening.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from contracts.codes import Department, RejectReason, RoutingMode, Satisfaction, Tier
from contracts.messages.case import CaseRouted
from hub.domain.flow import Rules
from hub.domain.model import Case, Refused, Stage

from .builders import (
    accepted,
    case_id,
    closed,
    feedback,
    handled,
    joint_requested,
    later,
    local,
    only,
    registered,
    reopened,
    replied,
    sent,
    step,
    transferred,
    walk,
)

HRSS, MEDINS, TAX = Department.HRSS, Department.MEDINS, Department.TAX
CID = case_id("tax")


def deadlines(case: Case) -> list[tuple[str, Department, datetime]]:
    """``(key, department, due_at)`` of every live deadline."""
    return [(d.key, d.department, d.due_at) for d in case.deadlines]


def refusal(excinfo: pytest.ExceptionInfo[Refused]) -> RejectReason:
    return excinfo.value.reason


def test_routine_case_closes_the_loop_from_registration_to_closing(rules: Rules) -> None:
    """通知四(一) 闭环处理、限时办结: registered → routed → signed → handled → reported →
    fed back → closed, each waiting stage on its clock (DESIGN §5 default policy)."""
    case = walk(rules, registered("tax"))
    assert deadlines(case) == [("routine.sign", HRSS, local(2026, 11, 25))]

    signed = step(case, accepted("hrss", CID, at=later(hours=2)), rules)
    assert sent(signed) == [("case.accepted", TAX)]
    assert signed.case.stage is Stage.ACCEPTED
    # 办结 within 10 working days of Monday 23 November: the end of Monday 7 December.
    assert deadlines(signed.case) == [("routine.handle", HRSS, local(2026, 12, 8))]

    done = step(signed.case, handled("hrss", CID, at=later(days=3)), rules)
    assert sent(done) == [("case.handled", TAX)]  # 办理结果报送给受理人员
    assert done.case.stage is Stage.REPORTED and done.case.outcome == "explained"
    # Feedback to the party within 2 working days of Thursday 26: the end of Monday 30.
    assert deadlines(done.case) == [("routine.feedback", TAX, local(2026, 12, 1))]

    told = step(done.case, feedback("tax", CID, at=later(days=4)), rules)
    assert sent(told) == [("case.feedback_given", HRSS)]  # 反馈当事人, handler informed
    assert told.case.stage is Stage.FED_BACK and told.case.deadlines == ()
    assert told.case.satisfaction == "satisfied"

    shut = step(told.case, closed("tax", CID, at=later(days=4, hours=1)), rules)
    assert sent(shut) == [("case.closed", HRSS)]
    assert shut.case.stage is Stage.CLOSED and not shut.case.is_open
    assert shut.case.closed_at == later(days=4, hours=1)
    assert (shut.case.resolution, shut.case.version) == ("resolved", 5)


def test_case_registered_on_the_mid_autumn_holiday_is_signed_for_by_the_next_working_day(
    rules: Rules,
) -> None:
    """Civil Code arts. 201, 203: 2026-09-25 is a holiday; 1 working day ends on Monday 28."""
    case = walk(rules, registered("tax", at=local(2026, 9, 25, 10)))
    assert deadlines(case) == [("routine.sign", HRSS, local(2026, 9, 29))]


def test_case_transferred_on_the_eve_of_national_day_gets_its_deadline_after_the_holiday(
    rules: Rules,
) -> None:
    """通知四(一) 转办 on Wednesday 2026-09-30: 1 October to 7 October are holidays, so the new
    owner signs by the end of Thursday 8 October, and may object until the end of Tuesday
    13 October (5 working days counting the 调休 Saturday 10 October)."""
    hrss_case = walk(rules, registered("tax", at=local(2026, 9, 28, 9)))
    applied = step(hrss_case, transferred("hrss", CID, "medins", at=local(2026, 9, 30, 15)), rules)
    case = applied.case
    assert (case.owner, case.previous_owner, case.stage) == (MEDINS, HRSS, Stage.ROUTED)
    assert deadlines(case) == [("routine.sign", MEDINS, local(2026, 10, 9))]
    assert case.objection_until == local(2026, 10, 14)
    # The new owner learns of it by case.routed (because: transferred); so does the intake.
    assert sent(applied) == [("case.routed", MEDINS), ("case.routed", TAX)]
    routed = only(applied.emits, "case.routed")
    assert isinstance(routed, CaseRouted)
    assert (routed.because, routed.sign_by) == ("transferred", local(2026, 10, 9))
    assert routed.rule.endswith("+transfer")


def test_only_the_owner_transfers(rules: Rules) -> None:
    """通知四(一): 属于其他部门职责的要及时转办 — by the department that holds it, no one else."""
    case = walk(rules, registered("tax"))
    for sender in ("tax", "medins", "petition"):
        with pytest.raises(Refused) as excinfo:
            step(case, transferred(sender, CID, "medins", at=later(hours=1)), rules)
        assert refusal(excinfo) is RejectReason.NOT_PERMITTED
    # And not to a body that takes cases only by escalation.
    with pytest.raises(Refused) as excinfo:
        step(case, transferred("hrss", CID, "taskforce", at=later(hours=1)), rules)
    assert refusal(excinfo) is RejectReason.NOT_PERMITTED


def test_objection_to_misdirected_transfer_within_five_working_days(rules: Rules) -> None:
    """信访工作条例 (2022): the receiver of a misdirected transfer may object within 5 working
    days; the case goes back with the objection on record, and cannot bounce again."""
    moved = walk(
        rules,
        registered("tax"),
        transferred("hrss", CID, "medins", at=later(hours=1)),
    )
    assert moved.objection_until == local(2026, 12, 1)  # Mon 23 + 5 working days
    back = step(
        moved, transferred("medins", CID, "hrss", objection=True, at=local(2026, 11, 30, 17)), rules
    )
    assert (back.case.owner, back.case.objection_until, back.events) == (HRSS, None, ("objection",))
    assert back.case.routing is not None and back.case.routing.rule.endswith("+objection")
    assert deadlines(back.case) == [("routine.sign", HRSS, local(2026, 12, 2))]
    # No objection to an objection.
    with pytest.raises(Refused) as excinfo:
        step(back.case, transferred("hrss", CID, "medins", objection=True, at=later(days=8)), rules)
    assert refusal(excinfo) is RejectReason.PRECONDITION_FAILED


def test_objection_after_the_five_working_days_is_refused(rules: Rules) -> None:
    """The window ends at the end of the fifth working day; one minute later is too late."""
    moved = walk(rules, registered("tax"), transferred("hrss", CID, "medins", at=later(hours=1)))
    with pytest.raises(Refused) as excinfo:
        step(
            moved,
            transferred("medins", CID, "hrss", objection=True, at=local(2026, 12, 1, 0, 1)),
            rules,
        )
    assert refusal(excinfo) is RejectReason.PRECONDITION_FAILED
    assert "window" in excinfo.value.detail


def test_case_transferred_to_a_participant_that_signed_can_be_signed_for_as_owner(
    rules: Rules,
) -> None:
    """通知四(一) 转办 within a joint case: medins signed for its part, then tax transferred the
    whole case to medins; medins must be able to sign for it as the new owner."""
    joint = walk(
        rules,
        registered(
            "tax",
            matters=["arrears"],
            insurance_types=["110", "310"],
            period=("2023-07", "2024-03"),
        ),
        accepted("medins", CID, at=later(hours=1)),
        transferred("tax", CID, "medins", at=later(hours=2)),
    )
    assert (joint.owner, joint.stage) == (MEDINS, Stage.ROUTED)
    signed = step(joint, accepted("medins", CID, at=later(hours=3)), rules)
    assert signed.case.stage is Stage.ACCEPTED
    assert [(d.key, d.department) for d in signed.case.deadlines] == [("routine.handle", MEDINS)]


def test_multi_department_case_gets_one_unified_reply(rules: Rules) -> None:
    """通知四(二) 所有事项实行统一答复: participants report to the lead, the lead replies once,
    and the intake hears one answer only after every participant has reported."""
    cid = case_id("township")
    case = walk(
        rules,
        registered("township", matters=["benefit"], insurance_types=["310", "110"]),
        accepted("hrss", cid, at=later(hours=1)),
    )
    assert (case.owner, case.participants, case.mode) == (HRSS, (MEDINS,), RoutingMode.JOINT)

    own = step(case, handled("hrss", cid, at=later(days=1)), rules)
    assert sent(own) == [("case.handled", MEDINS)]  # the lead's part goes to the participant
    with pytest.raises(Refused) as excinfo:
        step(own.case, replied("hrss", cid, at=later(days=1, hours=1)), rules)
    assert refusal(excinfo) is RejectReason.PRECONDITION_FAILED
    assert "medins" in excinfo.value.detail

    part = step(own.case, handled("medins", cid, at=later(days=2)), rules)
    assert sent(part) == [("case.handled", HRSS)]  # not to the intake: one answer only
    assert part.case.stage is Stage.ACCEPTED

    with pytest.raises(Refused) as excinfo:
        step(part.case, replied("medins", cid, at=later(days=2, hours=1)), rules)
    assert refusal(excinfo) is RejectReason.NOT_PERMITTED

    answer = step(part.case, replied("hrss", cid, at=later(days=3)), rules)
    assert sent(answer) == [("case.replied", MEDINS), ("case.replied", Department.TOWNSHIP)]
    assert (answer.case.stage, answer.case.outcome) == (Stage.REPORTED, "adjusted")
    assert deadlines(answer.case) == [("routine.feedback", Department.TOWNSHIP, local(2026, 12, 1))]


def test_joint_handling_requested_by_the_owner_moves_the_handling_clock_to_the_new_lead(
    rules: Rules,
) -> None:
    """通知四(一) 联合办理: hrss signed, then asked for joint handling led by medins. medins
    signs and handles on its own clock; hrss, now a participant, carries no deadline."""
    case = walk(rules, registered("tax"), accepted("hrss", CID, at=later(hours=1)))
    joint = step(case, joint_requested("hrss", CID, "medins", ["hrss"], at=later(hours=2)), rules)
    assert (joint.case.owner, joint.case.participants) == (MEDINS, (HRSS,))
    assert joint.case.stage is Stage.ROUTED
    assert sorted(sent(joint)) == sorted([("case.routed", d) for d in (MEDINS, HRSS, TAX)])
    assert deadlines(joint.case) == [("routine.sign", MEDINS, local(2026, 11, 25))]

    signed = step(joint.case, accepted("medins", CID, at=later(hours=3)), rules)
    assert deadlines(signed.case) == [("routine.handle", MEDINS, local(2026, 12, 8))]


def test_only_a_handler_signs_for_a_case_and_only_once(rules: Rules) -> None:
    """签收 is the owner's (or a participant's, for its part); a second signature is refused."""
    case = walk(rules, registered("tax"))
    with pytest.raises(Refused) as excinfo:
        step(case, accepted("medins", CID, at=later(hours=1)), rules)
    assert refusal(excinfo) is RejectReason.NOT_PERMITTED
    signed = step(case, accepted("hrss", CID, at=later(hours=1)), rules).case
    with pytest.raises(Refused) as excinfo:
        step(signed, accepted("hrss", CID, at=later(hours=2)), rules)
    assert refusal(excinfo) is RejectReason.PRECONDITION_FAILED


def test_only_the_intake_closes(rules: Rules) -> None:
    """通知四(一) 首接负责: the department that took the dispute in closes it, after feedback."""
    told = walk(
        rules,
        registered("tax"),
        accepted("hrss", CID, at=later(hours=1)),
        handled("hrss", CID, at=later(days=1)),
        feedback("tax", CID, at=later(days=2)),
    )
    for sender in ("hrss", "medins", "taskforce"):
        with pytest.raises(Refused) as excinfo:
            step(told, closed(sender, CID, at=later(days=3)), rules)
        assert refusal(excinfo) is RejectReason.NOT_PERMITTED
    assert step(told, closed("tax", CID, at=later(days=3)), rules).case.stage is Stage.CLOSED


def test_intake_cannot_close_before_the_party_was_told_unless_it_was_withdrawn(
    rules: Rules,
) -> None:
    """承办人员应将办理结果及时反馈给当事人: closing skips no step, except a withdrawn dispute."""
    reported = walk(
        rules,
        registered("tax"),
        accepted("hrss", CID, at=later(hours=1)),
        handled("hrss", CID, at=later(days=1)),
    )
    with pytest.raises(Refused) as excinfo:
        step(reported, closed("tax", CID, at=later(days=2)), rules)
    assert refusal(excinfo) is RejectReason.PRECONDITION_FAILED
    withdrawn = step(reported, closed("tax", CID, resolution="withdrawn", at=later(days=2)), rules)
    assert (withdrawn.case.stage, withdrawn.case.deadlines) == (Stage.CLOSED, ())


def test_feedback_is_given_by_the_intake_once_the_result_is_reported(rules: Rules) -> None:
    """The intake tells the party (反馈当事人); not before there is a result, not someone else."""
    signed = walk(rules, registered("tax"), accepted("hrss", CID, at=later(hours=1)))
    with pytest.raises(Refused) as excinfo:
        step(signed, feedback("tax", CID, at=later(hours=2)), rules)
    assert refusal(excinfo) is RejectReason.PRECONDITION_FAILED
    reported = step(signed, handled("hrss", CID, at=later(hours=3)), rules).case
    with pytest.raises(Refused) as excinfo:
        step(reported, feedback("hrss", CID, at=later(hours=4)), rules)
    assert refusal(excinfo) is RejectReason.NOT_PERMITTED


def test_unsatisfied_party_reopens_the_case(rules: Rules) -> None:
    """通知四(三)5: 不满意的 … 核实处理 — the intake reopens; the owner signs and handles again."""
    told = walk(
        rules,
        registered("tax"),
        accepted("hrss", CID, at=later(hours=1)),
        handled("hrss", CID, at=later(days=1)),
        feedback("tax", CID, satisfaction=Satisfaction.NOT_SATISFIED, at=later(days=2)),
    )
    assert told.satisfaction == "not_satisfied"
    with pytest.raises(Refused) as excinfo:
        step(told, reopened("hrss", CID, at=later(days=3)), rules)
    assert refusal(excinfo) is RejectReason.NOT_PERMITTED

    again = step(told, reopened("tax", CID, at=later(days=3)), rules)
    case = again.case
    assert (case.stage, case.owner, case.tier, case.reopened) == (
        Stage.ROUTED,
        HRSS,
        Tier.ROUTINE,
        1,
    )
    assert (case.signed, case.contributions, case.outcome, case.satisfaction) == (
        (),
        (),
        None,
        None,
    )
    assert sent(again) == [("case.routed", HRSS), ("case.routed", TAX)]
    routed = only(again.emits, "case.routed")
    assert isinstance(routed, CaseRouted) and routed.because == "reopened"
    # Reopened Thursday 26 November: sign by the end of Friday 27.
    assert deadlines(case) == [("routine.sign", HRSS, local(2026, 11, 28))]

    closed_again = walk(
        rules,
        registered("tax"),
        accepted("hrss", CID, at=later(hours=1)),
        handled("hrss", CID, at=later(days=1)),
        feedback("tax", CID, at=later(days=2)),
        closed("tax", CID, at=later(days=2, hours=1)),
        reopened("tax", CID, at=later(days=10)),
    )
    assert (closed_again.stage, closed_again.closed_at, closed_again.resolution) == (
        Stage.ROUTED,
        None,
        None,
    )
