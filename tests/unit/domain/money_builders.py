"""Builders for the money flows: arrears and enforcement (notice §4.3.4), payment details.

Same conventions as :mod:`.builders`: validated envelopes, valid defaults, ``at`` as the
message time. The default demand is served Monday 3 August 2026, to be paid by Thursday
13 August; 186 400.00 yuan of pension and medical fees in arrears since 16 February.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from contracts import AnyEnvelope
from contracts.codes import Department, EnforcementResult, InsuranceType, PayerKind, Ruling
from contracts.messages.arrears import (
    ArrearsConfirmed,
    ArrearsNotice,
    EnforcementAccepted,
    EnforcementApplied,
    EnforcementConcluded,
    EnforcementRuled,
)
from contracts.messages.payment import (
    PaymentDetails,
    PaymentReceipt,
    PaymentRecord,
    RejectedRecord,
)
from hub.domain.latefee import late_fee

from .builders import EMPLOYER, T0, USCC, Dept, case_id, message

#: The demand's number (催告书文号).
NOTICE_NO = "五税催〔2026〕12号"


def notice(
    *,
    insurance_types: Iterable[InsuranceType | str] = ("110", "310"),
    principal: str = "186400.00",
    late_fee_from: date = date(2026, 2, 16),
    served_on: date = date(2026, 8, 3),
    pay_by: date = date(2026, 8, 13),
) -> ArrearsNotice:
    """An ``arrears.notice`` payload (催告书)."""
    return ArrearsNotice(
        notice_no=NOTICE_NO,
        employer=EMPLOYER,
        insurance_types=tuple(InsuranceType(t) for t in insurance_types),
        period_start="2026-01",
        period_end="2026-06",
        principal=Decimal(principal),
        late_fee_from=late_fee_from,
        served_on=served_on,
        pay_by=pay_by,
        workers_affected=23,
    )


def arrears_notice(
    payload: ArrearsNotice | None = None,
    *,
    source: Dept = "tax",
    case: str | None = None,
    at: datetime = T0,
) -> AnyEnvelope:
    """``arrears.notice``: tax served a demand; opens an arrears case."""
    return message(
        "arrears.notice", payload or notice(), source=source, case=case or case_id(source), at=at
    )


def arrears_confirmed(
    source: Dept,
    case: str,
    *,
    confirmed: bool = True,
    notice_no: str = NOTICE_NO,
    at: datetime = T0,
) -> AnyEnvelope:
    """``arrears.confirmed`` by hrss or medins."""
    payload = ArrearsConfirmed(
        notice_no=notice_no,
        confirmed=confirmed,
        insurance_types=(InsuranceType.ENTERPRISE_PENSION,),
        principal_confirmed=Decimal("186400.00"),
    )
    return message("arrears.confirmed", payload, source=source, case=case, at=at)


def enforcement_applied(
    case: str,
    *,
    served: ArrearsNotice | None = None,
    late_fee_until: date = date(2026, 8, 20),
    fee: str | None = None,
    confirmations: Iterable[Dept] = ("hrss", "medins"),
    source: Dept = "tax",
    at: datetime = T0,
) -> AnyEnvelope:
    """``enforcement.applied``; the late fee defaults to the one the notice implies."""
    served = served or notice()
    payload = EnforcementApplied(
        application_no="五税强申〔2026〕3号",
        principal=served.principal,
        late_fee=(
            Decimal(fee)
            if fee is not None
            else late_fee(served.principal, served.late_fee_from, late_fee_until)
        ),
        late_fee_until=late_fee_until,
        notice_served_on=served.served_on,
        confirmations=tuple(Department(d) for d in confirmations),
        court_case_ref=None,
    )
    return message("enforcement.applied", payload, source=source, case=case, at=at)


def enforcement_accepted(case: str, *, source: Dept = "court", at: datetime = T0) -> AnyEnvelope:
    """``enforcement.accepted`` (立案) by the court."""
    payload = EnforcementAccepted(court_case_ref="(2026)皖0322执12号", accepted_on=at.date())
    return message("enforcement.accepted", payload, source=source, case=case, at=at)


def enforcement_ruled(
    case: str, *, ruling: Ruling | str = Ruling.ENFORCE, source: Dept = "court", at: datetime = T0
) -> AnyEnvelope:
    """``enforcement.ruled`` (裁定) by the court."""
    payload = EnforcementRuled(
        court_case_ref="(2026)皖0322执12号", ruling=Ruling(ruling), ruled_on=at.date()
    )
    return message("enforcement.ruled", payload, source=source, case=case, at=at)


def enforcement_concluded(case: str, *, source: Dept = "court", at: datetime = T0) -> AnyEnvelope:
    """``enforcement.concluded``: the court enforced."""
    payload = EnforcementConcluded(
        court_case_ref="(2026)皖0322执12号",
        result=EnforcementResult.EXECUTED_IN_FULL,
        amount_recovered=Decimal("212962.00"),
        concluded_on=at.date(),
    )
    return message("enforcement.concluded", payload, source=source, case=case, at=at)


# --- payment details ----------------------------------------------------------------------


def payment_record(
    record_id: str, insurance_type: InsuranceType | str, amount_paid: str
) -> PaymentRecord:
    """One employer contribution of a payment-detail batch."""
    return PaymentRecord(
        record_id=record_id,
        payer_kind=PayerKind.EMPLOYER,
        employer_uscc=USCC,
        employer_name=EMPLOYER.name,
        person_id_number=None,
        insurance_type=InsuranceType(insurance_type),
        period_start="2026-10",
        period_end="2026-10",
        contribution_base=Decimal("4500.00"),
        amount_due=Decimal(amount_paid),
        amount_paid=Decimal(amount_paid),
        late_fee=Decimal("0.00"),
        tax_voucher_no=f"V{record_id}",
        paid_on=date(2026, 11, 20),
        treasury_on=None,
    )


def payment_details(
    records: Iterable[PaymentRecord],
    *,
    batch_id: str = "B20261123-01",
    source: Dept = "tax",
    at: datetime = T0,
) -> AnyEnvelope:
    """``payment.details``: a batch from tax."""
    payload = PaymentDetails(
        batch_id=batch_id, collected_on=date(2026, 11, 20), records=tuple(records)
    )
    return message("payment.details", payload, source=source, at=at)


def payment_receipt(
    source: Dept,
    *,
    received: int,
    amount_paid_total: str,
    rejected: Iterable[str] = (),
    batch_id: str = "B20261123-01",
    at: datetime = T0,
) -> AnyEnvelope:
    """``payment.receipt`` from a recipient; ``rejected`` names record ids it refused."""
    refused = tuple(RejectedRecord(record_id=r, reason="无此参保人") for r in rejected)
    payload = PaymentReceipt(
        batch_id=batch_id,
        received=received,
        accepted=received - len(refused),
        rejected=refused,
        amount_paid_total=Decimal(amount_paid_total),
    )
    return message("payment.receipt", payload, source=source, at=at)
