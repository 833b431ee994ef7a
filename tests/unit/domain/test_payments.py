"""Payment details (附件二 县税务局: 将征缴明细信息及时传递给相关部门): split by insurance type to
hrss and medins, and reconciled against their receipts.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts.codes import Department, RejectReason
from contracts.messages.payment import PaymentDetails, PaymentReceipt
from hub.domain.flow import Rules
from hub.domain.model import Refused
from hub.domain.payments import PaymentBatch, receive_details, receive_receipt

from .builders import (
    T0,
    later,
    local,
)
from .money_builders import (
    payment_details,
    payment_receipt,
    payment_record,
)

HRSS, MEDINS, TAX = Department.HRSS, Department.MEDINS, Department.TAX

#: Pension, unemployment, work injury → hrss (1 250.00); medical, maternity → medins (880.00).
RECORDS = (
    payment_record("R1", "110", "1000.00"),
    payment_record("R2", "210", "200.00"),
    payment_record("R3", "410", "50.00"),
    payment_record("R4", "310", "800.00"),
    payment_record("R5", "510", "80.00"),
)


def received(rules: Rules) -> PaymentBatch:
    return receive_details(None, payment_details(RECORDS), T0, rules)[0]


def test_payment_details_are_split_by_insurance_type_to_hrss_and_medins(rules: Rules) -> None:
    batch, emits = receive_details(None, payment_details(RECORDS), T0, rules)
    assert [(e.type, e.target) for e in emits] == [
        ("payment.details", HRSS),
        ("payment.details", MEDINS),
    ]
    parts = {e.target: e.payload for e in emits}
    hrss_part, medins_part = parts[HRSS], parts[MEDINS]
    assert isinstance(hrss_part, PaymentDetails) and isinstance(medins_part, PaymentDetails)
    assert hrss_part.batch_id == medins_part.batch_id == "B20261123-01"
    assert [r.record_id for r in hrss_part.records] == ["R1", "R2", "R3"]
    assert [r.record_id for r in medins_part.records] == ["R4", "R5"]
    assert batch.awaiting == (HRSS, MEDINS)
    assert (batch.parts[HRSS].count, batch.parts[HRSS].total) == (3, Decimal("1250.00"))
    assert (batch.parts[MEDINS].count, batch.parts[MEDINS].total) == (2, Decimal("880.00"))
    # Receipts are due within one working day: by the end of Tuesday 24 November.
    assert batch.due_at == local(2026, 11, 25)


def test_pension_only_batch_goes_to_hrss_only(rules: Rules) -> None:
    batch, emits = receive_details(
        None, payment_details([payment_record("R1", "170", "300.00")]), T0, rules
    )
    assert [e.target for e in emits] == [HRSS]
    assert batch.awaiting == (HRSS,)


def test_receipts_that_match_reconcile_and_tax_gets_one_consolidated_receipt(
    rules: Rules,
) -> None:
    batch = received(rules)
    after_hrss, nothing = receive_receipt(
        batch, payment_receipt("hrss", received=3, amount_paid_total="1250.00"), later(hours=2)
    )
    assert nothing == [] and after_hrss.awaiting == (MEDINS,)
    assert after_hrss.parts[HRSS].reconciled is True

    done, emits = receive_receipt(
        after_hrss,
        payment_receipt("medins", received=2, amount_paid_total="880.00"),
        later(hours=3),
    )
    assert [(e.type, e.target) for e in emits] == [("payment.receipt", TAX)]
    assert emits[0].payload == PaymentReceipt(
        batch_id="B20261123-01",
        received=5,
        accepted=5,
        rejected=(),
        amount_paid_total=Decimal("2130.00"),
        departments=(HRSS, MEDINS),
        reconciled=True,
    )
    assert done.completed_at == later(hours=3)


def test_mismatching_receipt_is_marked_unreconciled_with_the_reason(rules: Rules) -> None:
    batch = received(rules)
    wrong_total, _ = receive_receipt(
        batch, payment_receipt("hrss", received=3, amount_paid_total="1200.00"), later(hours=1)
    )
    part = wrong_total.parts[HRSS]
    assert part.reconciled is False
    assert part.problem == "amount_paid_total 1200.00, the accepted records total 1250.00"

    done, emits = receive_receipt(
        wrong_total,
        payment_receipt("medins", received=2, amount_paid_total="880.00"),
        later(hours=2),
    )
    receipt = emits[0].payload
    assert isinstance(receipt, PaymentReceipt) and receipt.reconciled is False


def test_receipt_counting_other_than_what_was_delivered_does_not_reconcile(rules: Rules) -> None:
    batch = received(rules)
    short, _ = receive_receipt(
        batch, payment_receipt("medins", received=1, amount_paid_total="800.00"), later(hours=1)
    )
    assert short.parts[MEDINS].problem == "received 1 records, 2 were delivered"
    unknown, _ = receive_receipt(
        batch,
        payment_receipt("medins", received=2, rejected=["R1"], amount_paid_total="880.00"),
        later(hours=1),
    )
    assert unknown.parts[MEDINS].problem == "rejected records that were not delivered: R1"


def test_rejected_records_are_left_out_of_the_expected_total(rules: Rules) -> None:
    """hrss could not take R2 (200.00): 1 050.00 accepted is a reconciled answer."""
    batch = received(rules)
    part, _ = receive_receipt(
        batch,
        payment_receipt("hrss", received=3, rejected=["R2"], amount_paid_total="1050.00"),
        later(hours=1),
    )
    assert (part.parts[HRSS].reconciled, part.parts[HRSS].problem) == (True, None)
    _, emits = receive_receipt(
        part, payment_receipt("medins", received=2, amount_paid_total="880.00"), later(hours=2)
    )
    receipt = emits[0].payload
    assert isinstance(receipt, PaymentReceipt)
    assert (receipt.accepted, [r.record_id for r in receipt.rejected]) == (4, ["R2"])
    assert receipt.amount_paid_total == Decimal("1930.00") and receipt.reconciled is True


def test_only_tax_sends_payment_details_and_each_batch_once(rules: Rules) -> None:
    with pytest.raises(Refused) as excinfo:
        receive_details(None, payment_details(RECORDS, source="hrss"), T0, rules)
    assert excinfo.value.reason is RejectReason.NOT_PERMITTED
    with pytest.raises(Refused) as excinfo:
        receive_details(received(rules), payment_details(RECORDS), later(hours=1), rules)
    assert excinfo.value.reason is RejectReason.PRECONDITION_FAILED


def test_receipts_come_once_from_a_recipient_of_a_known_batch(rules: Rules) -> None:
    pension_only, _ = receive_details(
        None, payment_details([payment_record("R1", "110", "300.00")]), T0, rules
    )
    medins = payment_receipt("medins", received=1, amount_paid_total="300.00")
    with pytest.raises(Refused) as excinfo:
        receive_receipt(pension_only, medins, later(hours=1))
    assert excinfo.value.reason is RejectReason.NOT_PERMITTED
    with pytest.raises(Refused) as excinfo:
        receive_receipt(None, medins, later(hours=1))
    assert excinfo.value.reason is RejectReason.PRECONDITION_FAILED
    answered, _ = receive_receipt(
        pension_only,
        payment_receipt("hrss", received=1, amount_paid_total="300.00"),
        later(hours=1),
    )
    with pytest.raises(Refused) as excinfo:
        receive_receipt(
            answered,
            payment_receipt("hrss", received=1, amount_paid_total="300.00"),
            later(hours=2),
        )
    assert excinfo.value.reason is RejectReason.PRECONDITION_FAILED
