"""Sample payloads and hub messages with valid identifiers, for demos, docs and tests.

Every value is synthetic but passes the contracts: the ID number and credit code
carry correct check characters, the jurisdiction lies in Wuhe County.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from contracts import AnyEnvelope, build
from contracts.codes import (
    Category,
    Channel,
    Department,
    InsuranceType,
    Matter,
    PartyKind,
    PayerKind,
    RoutingMode,
    Tier,
)
from contracts.messages.arrears import (
    ArrearsConfirmationRequested,
    ArrearsNotice,
    EnforcementApplied,
)
from contracts.messages.base import Contract, Employer, FeePeriod, Party
from contracts.messages.case import CaseRegistered, CaseRouted, PetitionRegistered
from contracts.messages.payment import PaymentRecord
from hub.domain.arrears import confirmation_request
from hub.domain.durations import COUNTY_TZ
from hub.domain.latefee import late_fee
from hub.ids import uuid7

ID_NUMBER = "11010519491231002X"
USCC = "91350100M000100Y43"
JURISDICTION = "340322101"  # 新集镇
EMPLOYER = Employer(name="五河县某建材有限公司", uscc=USCC)
NOTICE_NO = "五税催〔2026〕12号"
T0 = datetime(2026, 11, 23, 9, 30, tzinfo=COUNTY_TZ)


def registration(insurance_types: Sequence[InsuranceType] = (InsuranceType.ENTERPRISE_PENSION,)) -> CaseRegistered:
    """A dispute registered at a window: an employee says the employer paid too little."""
    return CaseRegistered(
        channel=Channel.WINDOW,
        received_at=T0,
        intake_clerk="窗口 07",
        party=Party(kind=PartyKind.EMPLOYEE, name="张三", id_number=ID_NUMBER, uscc=None, phone=None),
        employer=EMPLOYER,
        jurisdiction=JURISDICTION,
        category=Category.ENROLLMENT_PAYMENT_BENEFIT,
        matters=(Matter.ARREARS,),
        insurance_types=tuple(insurance_types),
        fee_period=FeePeriod(start="2023-01", end="2023-06"),
        amount_in_dispute=Decimal("1080.00"),
        summary="单位少缴养老保险费",
        initial_opinion="按职责转办",
        urgent=False,
    )


def petition(people_count: int = 1) -> PetitionRegistered:
    """A petition about the same matter; five or more people make it collective."""
    fields = {**dict(registration()), "channel": Channel.VISIT}
    return PetitionRegistered(**fields, petition_no="五信〔2026〕031号", people_count=people_count)


def routed(owner: Department, because: str = "registered", intake: Department = Department.TAX) -> CaseRouted:
    """``case.routed``: the hub assigns a registered case to ``owner``."""
    return CaseRouted(
        owner=owner,
        participants=(),
        coordinator=None,
        intake=intake,
        mode=RoutingMode.SINGLE,
        tier=Tier.ROUTINE,
        because=because,
        rule="pension_arrears_before_change",
        clause="附件二(一)",
        explanation="arrears from before the process change are hrss's",
        sign_by=datetime(2026, 11, 24, 23, 59, 59, tzinfo=COUNTY_TZ),
        registration=registration(),
    )


def payment_record(number: int, insurance_type: InsuranceType = InsuranceType.ENTERPRISE_PENSION,
                   amount_paid: Decimal = Decimal("1080.00")) -> PaymentRecord:
    """One employer contribution of 1080.00 yuan for October 2026."""
    return PaymentRecord(
        record_id=f"r-{number}",
        payer_kind=PayerKind.EMPLOYER,
        employer_uscc=USCC,
        employer_name=EMPLOYER.name,
        person_id_number=ID_NUMBER,
        insurance_type=insurance_type,
        period_start="2026-10",
        period_end="2026-10",
        contribution_base=Decimal("4500.00"),
        amount_due=Decimal("1080.00"),
        amount_paid=amount_paid,
        late_fee=Decimal("0.00"),
        tax_voucher_no=f"33403222600{number:07d}",
        paid_on=date(2026, 11, 20),
        treasury_on=date(2026, 11, 21),
    )


def arrears_notice(served_on: date = date(2026, 11, 2)) -> ArrearsNotice:
    """A demand for 186 400.00 yuan of pension and medical contributions, late fees from 2026-02-16."""
    return ArrearsNotice(
        notice_no=NOTICE_NO,
        employer=EMPLOYER,
        insurance_types=(InsuranceType.ENTERPRISE_PENSION, InsuranceType.EMPLOYEE_MEDICAL),
        period_start="2026-01",
        period_end="2026-06",
        principal=Decimal("186400.00"),
        late_fee_from=date(2026, 2, 16),
        served_on=served_on,
        pay_by=date(2026, 11, 12),
        workers_affected=23,
    )


def confirmation_requested(notice: ArrearsNotice, opens_on: date, until: date) -> ArrearsConfirmationRequested:
    """What the hub sends hrss, medins and tax when the enforcement window opens."""
    return confirmation_request(
        notice, until, window_opens_on=opens_on, latest_application_by=date(2027, 2, 11), confirm_by=None
    )


def enforcement_applied(notice: ArrearsNotice, until: date) -> EnforcementApplied:
    """The tax bureau's application to the court."""
    return EnforcementApplied(
        application_no="五税强申〔2026〕3号",
        principal=notice.principal,
        late_fee=late_fee(notice.principal, notice.late_fee_from, until),
        late_fee_until=until,
        notice_served_on=notice.served_on,
        confirmations=(Department.HRSS, Department.MEDINS),
        court_case_ref=None,
    )


def from_hub(type_: str, payload: Contract, target: Department, case_id: str | None = None) -> AnyEnvelope:
    """An envelope as the hub emits it (``source`` hub) to ``target``."""
    return build(type_, payload, source=Department.HUB, target=target, case_id=case_id,
                 message_id=uuid7(), occurred_at=datetime.now(COUNTY_TZ))
