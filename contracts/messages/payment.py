"""Payment details the tax bureau passes to hrss and medins (征缴明细传递), and receipts."""

from __future__ import annotations

from typing import Self

from pydantic import ConfigDict, Field, model_validator

from contracts.codes import Department, InsuranceType, PayerKind
from contracts.messages.base import (
    Contract,
    check_period_order,
    rule_error,
    schema_not_null,
    schema_when,
)
from contracts.values import Count, Day, IdNumber, Label, Money, Period, Uscc

BatchId = Label


class PaymentRecord(Contract):
    """One collected contribution, as the tax bureau's export has it."""

    model_config = ConfigDict(
        json_schema_extra={
            "format": "sihub-payment-record",
            # the payer rule of _consistent in JSON Schema terms (the period order needs code)
            **schema_when("payer_kind", PayerKind.EMPLOYER.value, schema_not_null("employer_uscc")),
            "else": schema_not_null("person_id_number"),
        }
    )

    record_id: Label
    payer_kind: PayerKind
    employer_uscc: Uscc | None
    employer_name: Label | None
    person_id_number: IdNumber | None
    insurance_type: InsuranceType
    period_start: Period
    period_end: Period
    contribution_base: Money | None
    amount_due: Money
    amount_paid: Money
    late_fee: Money
    tax_voucher_no: Label
    paid_on: Day
    treasury_on: Day | None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_period_order(self.period_start, self.period_end, "period_end")
        if self.payer_kind is PayerKind.EMPLOYER and self.employer_uscc is None:
            raise rule_error(
                "payer_identifier",
                "an employer payment carries the employer's credit code",
                "employer_uscc",
            )
        if self.payer_kind is not PayerKind.EMPLOYER and self.person_id_number is None:
            raise rule_error(
                "payer_identifier",
                "a personal payment carries the payer's ID number",
                "person_id_number",
            )
        return self


class PaymentDetails(Contract):
    """A batch of payment details; the hub splits it by insurance type to hrss and medins."""

    model_config = ConfigDict(json_schema_extra={"format": "sihub-payment-details"})

    batch_id: BatchId
    collected_on: Day
    records: tuple[PaymentRecord, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_records(self) -> Self:
        ids = {record.record_id for record in self.records}
        if len(ids) != len(self.records):
            raise rule_error("unique", "record_id must not repeat within a batch", "records")
        return self


class RejectedRecord(Contract):
    """A record the recipient could not take, with its reason."""

    record_id: Label
    reason: Label


class PaymentReceipt(Contract):
    """A recipient's reconciliation of a batch; the hub sends the consolidated one to tax."""

    model_config = ConfigDict(json_schema_extra={"format": "sihub-payment-receipt"})

    batch_id: BatchId
    received: Count
    accepted: Count
    rejected: tuple[RejectedRecord, ...]
    amount_paid_total: Money
    departments: tuple[Department, ...] = ()  # set by the hub on the consolidated receipt
    reconciled: bool | None = None  # set by the hub: totals agree with what it delivered

    @model_validator(mode="after")
    def _totals(self) -> Self:
        if self.received != self.accepted + len(self.rejected):
            raise rule_error(
                "receipt_totals",
                f"received ({self.received}) must equal accepted ({self.accepted}) "
                f"plus rejected ({len(self.rejected)})",
                "received",
            )
        if len({r.record_id for r in self.rejected}) != len(self.rejected):
            raise rule_error("unique", "rejected record_id must not repeat", "rejected")
        return self
