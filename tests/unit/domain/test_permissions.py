"""Who may send what (DESIGN §4–§5): hub-only types, openers, unknown cases, and the catalogue.

Each refusal carries ``not_permitted`` (the sender may not) or ``precondition_failed`` (the
case does not allow it now), the reason codes the hub quarantines a message under.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts import CATALOGUE, AnyEnvelope
from contracts.codes import Department, InsuranceType, RejectReason, Tier
from contracts.messages.arrears import ArrearsConfirmationRequested
from contracts.messages.base import Contract
from contracts.messages.sla import SlaBreached, SlaWarning
from hub.domain.flow import Rules
from hub.domain.machine import HANDLERS, HUB_ONLY, OPENERS
from hub.domain.model import Case, Refused

from .builders import (
    EMPLOYER,
    T0,
    accepted,
    case_id,
    joint_requested,
    later,
    message,
    registered,
    step,
    walk,
)
from .money_builders import (
    payment_details,
    payment_record,
)

CID = case_id("tax")


def refusal(case: Case | None, envelope: AnyEnvelope, rules: Rules) -> Refused:
    with pytest.raises(Refused) as excinfo:
        step(case, envelope, rules)
    return excinfo.value


def hub_only_messages(rules: Rules, source: str, case: str) -> list[AnyEnvelope]:
    """One of each type only the hub emits, as if a department had sent it."""
    routed = step(None, registered("tax"), rules).emits[0]
    assert routed.type == "case.routed"
    due = later(days=1)
    hrss, routine = Department.HRSS, Tier.ROUTINE
    request = ArrearsConfirmationRequested(
        notice_no="n1",
        employer=EMPLOYER,
        insurance_types=(InsuranceType.ENTERPRISE_PENSION,),
        period_start="2026-01",
        period_end="2026-02",
        principal=Decimal("1.00"),
        late_fee=Decimal("0.00"),
        late_fee_until=T0.date(),
        window_opens_on=T0.date(),
        latest_application_by=T0.date(),
        confirm_by=None,
    )
    payloads: list[tuple[str, Contract]] = [
        ("case.routed", routed.payload),
        (
            "sla.warning",
            SlaWarning(stage="sign", tier=routine, department=hrss, started_at=T0, due_at=due),
        ),
        (
            "sla.breached",
            SlaBreached(
                stage="sign",
                tier=routine,
                department=hrss,
                started_at=T0,
                due_at=due,
                breached_at=due,
                escalated_to=None,
            ),
        ),
        ("arrears.confirmation_requested", request),
    ]
    return [message(type_, payload, source=source, case=case) for type_, payload in payloads]


def test_hub_only_types_are_refused_from_departments(rules: Rules) -> None:
    """sla.*, case.routed and arrears.confirmation_requested are the hub's to send (DESIGN §4)."""
    case = walk(rules, registered("tax"))
    envelopes = hub_only_messages(rules, "tax", CID)
    assert {e.type for e in envelopes} == HUB_ONLY
    for envelope in envelopes:
        refused = refusal(case, envelope, rules)
        assert refused.reason is RejectReason.NOT_PERMITTED, envelope.type
        assert "emitted by the hub" in refused.detail


def test_messages_claiming_to_come_from_the_hub_are_refused(rules: Rules) -> None:
    case = walk(rules, registered("tax"))
    refused = refusal(case, accepted("hub", CID, at=later(hours=1)), rules)
    assert refused.reason is RejectReason.NOT_PERMITTED


def test_task_force_and_office_take_cases_by_escalation_not_by_registration(
    rules: Rules,
) -> None:
    for source in ("taskforce", "lgo"):
        assert refusal(None, registered(source), rules).reason is RejectReason.NOT_PERMITTED


def test_any_county_department_may_be_first_contact(rules: Rules) -> None:
    """通知四(一) 第一个接待争议的部门 … 受理: townships, the union, the court, the police …"""
    for source in ("township", "union", "court", "police", "justice", "finance"):
        case = walk(rules, registered(source))
        assert (case.intake.value, case.owner) == (source, Department.HRSS)


def test_registering_a_case_twice_is_refused(rules: Rules) -> None:
    case = walk(rules, registered("tax"))
    assert refusal(case, registered("tax"), rules).reason is RejectReason.PRECONDITION_FAILED


def test_message_for_a_case_the_hub_does_not_know_is_refused(rules: Rules) -> None:
    refused = refusal(None, accepted("hrss", case_id("tax", 99)), rules)
    assert refused.reason is RejectReason.PRECONDITION_FAILED
    assert "tax-2026-000099" in refused.detail


def test_payment_details_are_not_case_messages(rules: Rules) -> None:
    envelope = payment_details([payment_record("R1", "110", "1.00")])
    assert refusal(None, envelope, rules).reason is RejectReason.NOT_PERMITTED


def test_joint_handling_cannot_name_the_task_force_or_the_office(rules: Rules) -> None:
    case = walk(rules, registered("tax"))
    envelope = joint_requested("hrss", CID, "hrss", ["taskforce"], at=later(hours=1))
    assert refusal(case, envelope, rules).reason is RejectReason.NOT_PERMITTED
    stranger = joint_requested("court", CID, "medins", ["hrss"], at=later(hours=1))
    assert refusal(case, stranger, rules).reason is RejectReason.NOT_PERMITTED


def test_every_catalogue_type_is_handled_or_refused_by_the_machine() -> None:
    """A new message type cannot slip past the state machine unnoticed."""
    payment_types = {"payment.details", "payment.receipt"}  # hub.domain.payments, not case-bound
    covered = set(OPENERS) | set(HANDLERS) | HUB_ONLY | payment_types
    assert covered == set(CATALOGUE)
    assert not (set(OPENERS) & set(HANDLERS))
    assert not ((set(OPENERS) | set(HANDLERS)) & HUB_ONLY)
    assert "case.routed" in HUB_ONLY
