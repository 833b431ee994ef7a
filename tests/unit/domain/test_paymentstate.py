"""Payment batches through the store's JSON state and back, as the hub saves and loads them between messages."""

from __future__ import annotations

import json
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from contracts.codes import Department
from hub.domain.flow import Rules
from hub.domain.payments import Amounts, Part, PaymentBatch, receive_details, receive_receipt
from hub.paymentstate import batch_from_state, batch_to_state

from .builders import T0, later
from .money_builders import payment_details, payment_receipt, payment_record

HRSS, MEDINS = Department.HRSS, Department.MEDINS

RECORDS = (
    payment_record("R1", "110", "1000.00"),
    payment_record("R2", "210", "200.5"),  # one place: kept exactly as 200.50
    payment_record("R3", "410", "50.00"),
    payment_record("R4", "310", "800.00"),
    payment_record("R5", "510", "80.00"),
)


def through_the_store(batch: PaymentBatch) -> PaymentBatch:
    """Save and load as the hub does: the state must survive JSON (the store's column)."""
    return batch_from_state(json.loads(json.dumps(batch_to_state(batch))))


def test_a_received_batch_keeps_its_amounts_and_totals_through_the_state(rules: Rules) -> None:
    batch, _ = receive_details(None, payment_details(RECORDS), T0, rules)
    state = batch_to_state(batch)

    assert state["parts"]["hrss"]["amounts"] == {"R1": "1000.00", "R2": "200.50", "R3": "50.00"}
    assert state["parts"]["hrss"]["paid_total"] == "1250.50"
    loaded = through_the_store(batch)
    for target in (HRSS, MEDINS):
        assert dict(loaded.parts[target].amounts) == dict(batch.parts[target].amounts)
        assert loaded.parts[target].total == batch.parts[target].total
        assert loaded.parts[target].count == batch.parts[target].count
    assert loaded.parts[HRSS].amounts["R2"] == Decimal("200.50")
    assert loaded.parts[MEDINS].total == Decimal("880.00")


def test_a_loaded_batch_can_be_saved_again_after_each_receipt(rules: Rules) -> None:
    batch, _ = receive_details(None, payment_details(RECORDS), T0, rules)
    loaded = through_the_store(batch)
    after_hrss, _ = receive_receipt(
        loaded, payment_receipt("hrss", received=3, rejected=["R2"], amount_paid_total="1050.00"), later(hours=1)
    )
    loaded = through_the_store(after_hrss)  # a loaded state saved again: must still be JSON

    assert (loaded.parts[HRSS].reconciled, loaded.parts[HRSS].problem) == (True, None)
    done, emits = receive_receipt(
        loaded, payment_receipt("medins", received=2, amount_paid_total="800.00"), later(hours=2)
    )
    assert done.parts[MEDINS].problem == "amount_paid_total 800.00, the accepted records total 880.00"
    assert through_the_store(done).parts[MEDINS].reconciled is False
    assert len(emits) == 1


def test_a_state_written_before_paid_total_was_kept_still_reconciles(rules: Rules) -> None:
    batch, _ = receive_details(None, payment_details(RECORDS), T0, rules)
    state: dict[str, Any] = json.loads(json.dumps(batch_to_state(batch)))
    for part in state["parts"].values():
        del part["paid_total"]

    loaded = batch_from_state(state)

    assert loaded.parts[HRSS].total == Decimal("1250.50")
    after, _ = receive_receipt(
        loaded, payment_receipt("hrss", received=3, amount_paid_total="1250.50"), later(hours=1)
    )
    assert after.parts[HRSS].reconciled is True
    assert batch_to_state(after)["parts"]["hrss"]["paid_total"] == "1250.50"


def test_a_part_built_from_plain_decimals_is_written_as_before(rules: Rules) -> None:
    part = Part(Amounts.of({"R1": Decimal("10"), "R2": Decimal("0.5")}.items()))

    assert part.total == Decimal("10.50")
    batch, _ = receive_details(None, payment_details(RECORDS[:1]), T0, rules)
    state = batch_to_state(PaymentBatch(**{**batch.__dict__, "parts": MappingProxyType({HRSS: part})}))
    assert state["parts"]["hrss"]["amounts"] == {"R1": "10.00", "R2": "0.50"}
    assert state["parts"]["hrss"]["paid_total"] == "10.50"


def test_amounts_read_as_a_mapping_of_decimals() -> None:
    amounts = Amounts({"R1": "1.00", "R2": "2.50"})

    assert len(amounts) == 2 and list(amounts) == ["R1", "R2"]
    assert "R1" in amounts and "R3" not in amounts
    assert amounts["R2"] == Decimal("2.50") and amounts.get("R3") is None
    assert amounts.total() == Decimal("3.50")

