"""Arrears dunning, joint confirmation and court enforcement (notice §4.3.4; 行政强制法)."""

from __future__ import annotations

from typing import Self

from pydantic import ConfigDict, Field, model_validator

from contracts.codes import Department, EnforcementResult, InsuranceType, Ruling
from contracts.messages.base import Contract, Employer, check_period_order, rule_error
from contracts.values import Count, Day, Instant, Label, Period, Text, Yuan


class ArrearsNotice(Contract):
    """The tax bureau served a demand for payment (催告书); opens an arrears case."""

    model_config = ConfigDict(json_schema_extra={"format": "sihub-arrears-notice"})

    notice_no: Label
    employer: Employer
    insurance_types: tuple[InsuranceType, ...] = Field(min_length=1)
    period_start: Period
    period_end: Period
    principal: Yuan
    late_fee_from: Day
    served_on: Day
    pay_by: Day
    workers_affected: Count

    @model_validator(mode="after")
    def _dates(self) -> Self:
        check_period_order(self.period_start, self.period_end, "period_end")
        if self.pay_by < self.served_on:
            raise rule_error("notice_dates", "pay_by cannot be before served_on", "pay_by")
        return self


class ArrearsConfirmationRequested(Contract):
    """The hub asks hrss/medins to confirm the arrears data; the legal window is open."""

    notice_no: Label
    employer: Employer
    insurance_types: tuple[InsuranceType, ...] = Field(min_length=1)
    period_start: Period
    period_end: Period
    principal: Yuan
    late_fee: Yuan
    late_fee_until: Day
    window_opens_on: Day
    latest_application_by: Day
    confirm_by: Instant | None


class ArrearsConfirmed(Contract):
    """A department confirms (or disputes) the arrears data of its insurance types."""

    notice_no: Label
    confirmed: bool
    insurance_types: tuple[InsuranceType, ...] = Field(min_length=1)
    principal_confirmed: Yuan
    note: Text | None = None


class EnforcementApplied(Contract):
    """The tax bureau applies to the court for compulsory enforcement."""

    application_no: Label
    principal: Yuan
    late_fee: Yuan
    late_fee_until: Day
    notice_served_on: Day
    confirmations: tuple[Department, ...] = Field(
        min_length=1, json_schema_extra={"uniqueItems": True}
    )
    court_case_ref: Label | None

    @model_validator(mode="after")
    def _unique(self) -> Self:
        if len(set(self.confirmations)) != len(self.confirmations):
            raise rule_error("unique", "confirmations must not repeat", "confirmations")
        return self


class EnforcementAccepted(Contract):
    """The court accepts (立案) an enforcement application."""

    court_case_ref: Label
    accepted_on: Day
    note: Text | None = None


class EnforcementRuled(Contract):
    """The court rules whether to enforce (裁定)."""

    court_case_ref: Label
    ruling: Ruling
    ruled_on: Day
    reason: Text | None = None


class EnforcementConcluded(Contract):
    """Enforcement ended: what was recovered."""

    court_case_ref: Label
    result: EnforcementResult
    amount_recovered: Yuan
    concluded_on: Day
    note: Text | None = None
