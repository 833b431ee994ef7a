"""Petitions (附件二 县信访局: 协调税务、人社、医保等部门共同处理 … 信访事项; 信访工作条例 limits)."""

from __future__ import annotations

import pytest

from contracts.codes import Department, RejectReason, RoutingMode, Tier
from contracts.messages.case import CaseRouted
from hub.domain.flow import Rules
from hub.domain.model import Refused, Stage
from hub.domain.timers import fire

from .builders import (
    accepted,
    case_id,
    feedback,
    handled,
    later,
    local,
    only,
    petition,
    sent,
    step,
    walk,
)

HRSS, MEDINS, TAX, PETITION = (
    Department.HRSS,
    Department.MEDINS,
    Department.TAX,
    Department.PETITION,
)
CID = case_id("petition")


def test_petition_bureau_coordinates_while_the_department_by_duty_handles(rules: Rules) -> None:
    """附件二 县信访局 coordinates; the pension benefit is hrss's to handle (附件二 县人社局)."""
    applied = step(None, petition(), rules)
    case = applied.case
    assert (case.owner, case.coordinator, case.intake) == (HRSS, PETITION, PETITION)
    assert case.mode is RoutingMode.PETITION
    assert sent(applied) == [("case.routed", HRSS), ("case.routed", PETITION)]
    routed = only(applied.emits, "case.routed")
    assert isinstance(routed, CaseRouted)
    assert routed.rule == "hrss.registration_benefit+petition.coordinate"
    assert routed.clause == "附件二(县人力资源社会保障局); 附件二(县信访局)"


def test_petition_must_be_accepted_within_fifteen_days(rules: Rules) -> None:
    """信访工作条例: decide on acceptance within 15 days (23 Nov + 15 = Tuesday 8 December)."""
    case = walk(rules, petition())
    assert [(d.key, d.department, d.due_at) for d in case.deadlines] == [
        ("petition.accept", HRSS, local(2026, 12, 9))
    ]
    routed = only(step(None, petition(), rules).emits, "case.routed")
    assert isinstance(routed, CaseRouted) and routed.sign_by == local(2026, 12, 9)


def test_accepted_petition_is_handled_within_sixty_days(rules: Rules) -> None:
    """信访工作条例: handled within 60 days of acceptance (from 24 Nov: Saturday 23 January →
    the next working day, Monday 25 January 2027, on the Monday–Friday fallback)."""
    case = walk(rules, petition(), accepted("hrss", CID, at=local(2026, 11, 24, 9)))
    assert [(d.key, d.department, d.due_at) for d in case.deadlines] == [
        ("petition.handle", HRSS, local(2027, 1, 26))
    ]


def test_petition_not_accepted_in_time_escalates_to_the_task_force(rules: Rules) -> None:
    """通知四(二): a petition left unaccepted is no longer routine."""
    case = walk(rules, petition())
    late = case.deadline("petition.accept")
    assert late is not None
    applied = fire(case, late, late.due_at, rules)
    assert applied.case.tier is Tier.DIFFICULT
    assert ("case.escalated", Department.TASKFORCE) in sent(applied)
    assert ("sla.breached", PETITION) in sent(applied)  # the coordinating intake hears of it


def test_collective_petition_of_five_or_more_people_is_flagged(rules: Rules) -> None:
    """集体访: five or more people (a metric and the dashboards follow the event)."""
    assert step(None, petition(people_count=5), rules).events == (
        "registered",
        "collective_petition",
    )
    assert step(None, petition(people_count=4), rules).events == ("registered",)


def test_petition_about_payment_data_is_coordinated_and_verified_jointly(rules: Rules) -> None:
    """附件二 县信访局 + 通知四(三)1: the three bureaus verify, the petition bureau coordinates."""
    case = walk(rules, petition(matters=["payment_data"], category="payment_data"))
    assert (case.owner, case.participants, case.coordinator) == (TAX, (HRSS, MEDINS), PETITION)
    assert case.mode is RoutingMode.PETITION
    assert case.routing is not None
    assert case.routing.rule == "joint.verification+petition.coordinate"


def test_petitions_are_registered_by_the_petition_bureau_only(rules: Rules) -> None:
    with pytest.raises(Refused) as excinfo:
        step(None, petition(source="tax"), rules)
    assert excinfo.value.reason is RejectReason.NOT_PERMITTED


def test_petition_bureau_follows_every_step_and_tells_the_petitioner(rules: Rules) -> None:
    """The coordinator gets the handler's signature and result, then gives the feedback."""
    case = walk(rules, petition())
    signed = step(case, accepted("hrss", CID, at=later(hours=1)), rules)
    assert sent(signed) == [("case.accepted", PETITION)]
    done = step(signed.case, handled("hrss", CID, at=later(days=5)), rules)
    assert sent(done) == [("case.handled", PETITION)]
    told = step(done.case, feedback("petition", CID, at=later(days=6)), rules)
    assert told.case.stage is Stage.FED_BACK
    assert sent(told) == [("case.feedback_given", HRSS)]
