"""Hypothesis strategies for valid messages of every type, built from the value types.

``st.builds`` alone cannot respect the cross-field rules (an employer party carries
a credit code, receipt totals add up, ...), so each rule-bearing payload has a
composite strategy of its own. :data:`PAYLOADS` maps every payload class to its
strategy; a test checks that it covers the whole catalogue.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from hypothesis import strategies as st

from contracts.codes import (
    Category,
    Channel,
    Department,
    EnforcementResult,
    EscalationTrigger,
    FeedbackMethod,
    InsuranceType,
    Matter,
    MeetingDecision,
    Outcome,
    PartyKind,
    PayerKind,
    Resolution,
    RoutingMode,
    Ruling,
    Satisfaction,
    Tier,
)
from contracts.envelope import CASELESS_TYPES, REGISTERING_TYPES, AnyEnvelope
from contracts.identifiers import USCC_CHARSET, id_number_check_char, uscc_check_char
from contracts.messages import arrears, case, payment, sla
from contracts.messages.base import Contract, Employer, FeePeriod, Party
from contracts.registry import ContractVersion

T = TypeVar("T")
E = TypeVar("E", bound=Enum)
Draw = st.DrawFn

labels = st.text(min_size=1, max_size=12)
texts = st.text(min_size=1, max_size=40)
counts = st.integers(0, 10_000_000)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2099, 12, 31),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=8)), timezone(-timedelta(hours=5, minutes=30))]
    ),
)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
periods = st.builds("{:04d}-{:02d}".format, st.integers(2000, 2099), st.integers(1, 12))
period_ranges = st.lists(periods, min_size=2, max_size=2).map(sorted)
#: Up to 13 digits of yuan and two of fen.
money = st.integers(0, 10**15 - 1).map(lambda fen: Decimal(fen).scaleb(-2))
id_numbers = st.text("0123456789", min_size=17, max_size=17).map(
    lambda digits: digits + id_number_check_char(digits)
)
usccs = st.text(USCC_CHARSET, min_size=17, max_size=17).map(lambda s: s + uscc_check_char(s))
phones = st.from_regex(r"\+?[0-9][0-9 \-]{4,19}", fullmatch=True)
jurisdictions = st.from_regex(r"340322([0-9]{3}|[0-9]{6})", fullmatch=True)
departments = st.sampled_from(Department)


def optional(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | strategy


def distinct(members: type[E], min_size: int = 0) -> st.SearchStrategy[tuple[E, ...]]:
    """A tuple of enum members without repeats."""
    return st.lists(st.sampled_from(members), unique=True, min_size=min_size, max_size=4).map(tuple)


def case_ids(department: Department | None = None) -> st.SearchStrategy[str]:
    prefix = st.just(department) if department else departments
    tail = st.from_regex(r"[0-9]{4}-[0-9]{6,10}", fullmatch=True)
    return st.builds(lambda d, t: f"{d.value}-{t}", prefix, tail)


fee_periods = period_ranges.map(lambda p: FeePeriod(start=p[0], end=p[1]))
employers = st.builds(Employer, name=labels, uscc=usccs)


@st.composite
def parties(draw: Draw) -> Party:
    kind = draw(st.sampled_from(PartyKind))
    employer = kind is PartyKind.EMPLOYER
    return Party(
        kind=kind,
        name=draw(labels),
        id_number=draw(optional(id_numbers) if employer else id_numbers),
        uscc=draw(usccs if employer else optional(usccs)),
        phone=draw(optional(phones)),
    )


_REGISTRATION = {
    "channel": st.sampled_from(Channel),
    "received_at": instants,
    "intake_clerk": labels,
    "party": parties(),
    "employer": optional(employers),
    "jurisdiction": jurisdictions,
    "category": st.sampled_from(Category),
    "matters": distinct(Matter, min_size=1),
    "insurance_types": distinct(InsuranceType),
    "fee_period": optional(fee_periods),
    "amount_in_dispute": optional(money),
    "summary": texts,
    "initial_opinion": texts,
    "urgent": st.booleans(),
}
registrations = st.builds(case.CaseRegistered, **_REGISTRATION)
petitions = st.builds(
    case.PetitionRegistered,
    **_REGISTRATION,
    petition_no=labels,
    people_count=st.integers(1, 10_000_000),
)


@st.composite
def joint_requests(draw: Draw) -> case.CaseJointHandlingRequested:
    lead = draw(departments)
    others = [d for d in Department if d is not lead]
    participants = draw(st.lists(st.sampled_from(others), unique=True, min_size=1, max_size=4))
    return case.CaseJointHandlingRequested(
        lead=lead, participants=tuple(participants), reason=draw(texts)
    )


@st.composite
def meetings(draw: Draw) -> case.CaseMeetingConcluded:
    decision = draw(st.sampled_from(MeetingDecision))
    lead = draw(departments if decision is MeetingDecision.ASSIGN else optional(departments))
    return case.CaseMeetingConcluded(
        tier=draw(st.sampled_from(Tier)),
        meeting_no=draw(labels),
        held_at=draw(instants),
        attendees=tuple(draw(st.lists(departments, min_size=1, max_size=4))),
        decision=decision,
        lead=lead,
        participants=tuple(draw(st.lists(departments, max_size=3))),
        minutes=draw(texts),
    )


@st.composite
def payment_records(draw: Draw, record_id: str) -> payment.PaymentRecord:
    payer = draw(st.sampled_from(PayerKind))
    employer = payer is PayerKind.EMPLOYER
    start, end = draw(period_ranges)
    return payment.PaymentRecord(
        record_id=record_id,
        payer_kind=payer,
        employer_uscc=draw(usccs if employer else optional(usccs)),
        employer_name=draw(optional(labels)),
        person_id_number=draw(optional(id_numbers) if employer else id_numbers),
        insurance_type=draw(st.sampled_from(InsuranceType)),
        period_start=start,
        period_end=end,
        contribution_base=draw(optional(money)),
        amount_due=draw(money),
        amount_paid=draw(money),
        late_fee=draw(money),
        tax_voucher_no=draw(labels),
        paid_on=draw(days),
        treasury_on=draw(optional(days)),
    )


@st.composite
def batches(draw: Draw) -> payment.PaymentDetails:
    ids = draw(st.lists(labels, unique=True, min_size=1, max_size=3))
    return payment.PaymentDetails(
        batch_id=draw(labels),
        collected_on=draw(days),
        records=tuple(draw(payment_records(record_id)) for record_id in ids),
    )


@st.composite
def receipts(draw: Draw) -> payment.PaymentReceipt:
    ids = draw(st.lists(labels, unique=True, max_size=3))
    rejected = tuple(payment.RejectedRecord(record_id=i, reason=draw(labels)) for i in ids)
    accepted = draw(st.integers(0, 10_000_000 - len(rejected)))
    return payment.PaymentReceipt(
        batch_id=draw(labels),
        received=accepted + len(rejected),
        accepted=accepted,
        rejected=rejected,
        amount_paid_total=draw(money),
        departments=tuple(draw(st.lists(departments, max_size=3))),
        reconciled=draw(optional(st.booleans())),
    )


@st.composite
def notices(draw: Draw) -> arrears.ArrearsNotice:
    start, end = draw(period_ranges)
    served_on = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 1, 1)))
    return arrears.ArrearsNotice(
        notice_no=draw(labels),
        employer=draw(employers),
        insurance_types=tuple(draw(st.lists(st.sampled_from(InsuranceType), min_size=1))),
        period_start=start,
        period_end=end,
        principal=draw(money),
        late_fee_from=draw(days),
        served_on=served_on,
        pay_by=served_on + timedelta(days=draw(st.integers(0, 90))),
        workers_affected=draw(counts),
    )


_SLA = {
    "stage": labels,
    "tier": st.sampled_from(Tier),
    "department": departments,
    "started_at": instants,
    "due_at": instants,
}
_INSURANCE_TYPES = st.lists(st.sampled_from(InsuranceType), min_size=1, max_size=4).map(tuple)

#: A strategy of valid payloads for every payload class of the catalogue.
PAYLOADS: dict[type[Contract], st.SearchStrategy[Any]] = {
    case.CaseRegistered: registrations,
    case.PetitionRegistered: petitions,
    case.CaseRouted: st.builds(
        case.CaseRouted,
        owner=departments,
        participants=st.lists(departments, max_size=3).map(tuple),
        coordinator=optional(departments),
        intake=departments,
        mode=st.sampled_from(RoutingMode),
        tier=st.sampled_from(Tier),
        because=labels,
        rule=texts,
        clause=texts,
        explanation=texts,
        sign_by=optional(instants),
        registration=registrations | petitions,
    ),
    case.CaseTransferred: st.builds(
        case.CaseTransferred, to=departments, reason=texts, objection=st.booleans()
    ),
    case.CaseAccepted: st.builds(case.CaseAccepted, handler=labels, note=optional(texts)),
    case.CaseJointHandlingRequested: joint_requests(),
    case.CaseEscalated: st.builds(
        case.CaseEscalated,
        from_tier=st.sampled_from(Tier),
        to_tier=st.sampled_from(Tier),
        trigger=st.sampled_from(EscalationTrigger),
        reason=texts,
        convene_by=optional(instants),
    ),
    case.CaseMeetingConcluded: meetings(),
    case.CaseHandled: st.builds(
        case.CaseHandled, outcome=st.sampled_from(Outcome), result=texts, handled_at=instants
    ),
    case.CaseReplied: st.builds(
        case.CaseReplied, reply=texts, replied_at=instants, outcome=st.sampled_from(Outcome)
    ),
    case.CaseFeedbackGiven: st.builds(
        case.CaseFeedbackGiven,
        method=st.sampled_from(FeedbackMethod),
        given_at=instants,
        satisfaction=st.sampled_from(Satisfaction),
        note=optional(texts),
    ),
    case.CaseClosed: st.builds(
        case.CaseClosed, resolution=st.sampled_from(Resolution), closed_at=instants
    ),
    case.CaseReopened: st.builds(
        case.CaseReopened, reason=texts, reopened_at=instants, amount_in_dispute=optional(money)
    ),
    sla.SlaWarning: st.builds(sla.SlaWarning, **_SLA),
    sla.SlaBreached: st.builds(
        sla.SlaBreached, **_SLA, breached_at=instants, escalated_to=optional(st.sampled_from(Tier))
    ),
    payment.PaymentDetails: batches(),
    payment.PaymentReceipt: receipts(),
    arrears.ArrearsNotice: notices(),
    arrears.ArrearsConfirmationRequested: st.builds(
        arrears.ArrearsConfirmationRequested,
        notice_no=labels,
        employer=employers,
        insurance_types=_INSURANCE_TYPES,
        period_start=periods,
        period_end=periods,
        principal=money,
        late_fee=money,
        late_fee_until=days,
        window_opens_on=days,
        latest_application_by=days,
        confirm_by=optional(instants),
    ),
    arrears.ArrearsConfirmed: st.builds(
        arrears.ArrearsConfirmed,
        notice_no=labels,
        confirmed=st.booleans(),
        insurance_types=_INSURANCE_TYPES,
        principal_confirmed=money,
        note=optional(texts),
    ),
    arrears.EnforcementApplied: st.builds(
        arrears.EnforcementApplied,
        application_no=labels,
        principal=money,
        late_fee=money,
        late_fee_until=days,
        notice_served_on=days,
        confirmations=distinct(Department, min_size=1),
        court_case_ref=optional(labels),
    ),
    arrears.EnforcementAccepted: st.builds(
        arrears.EnforcementAccepted, court_case_ref=labels, accepted_on=days, note=optional(texts)
    ),
    arrears.EnforcementRuled: st.builds(
        arrears.EnforcementRuled,
        court_case_ref=labels,
        ruling=st.sampled_from(Ruling),
        ruled_on=days,
        reason=optional(texts),
    ),
    arrears.EnforcementConcluded: st.builds(
        arrears.EnforcementConcluded,
        court_case_ref=labels,
        result=st.sampled_from(EnforcementResult),
        amount_recovered=money,
        concluded_on=days,
        note=optional(texts),
    ),
}


@st.composite
def envelopes_of(draw: Draw, contract: ContractVersion) -> AnyEnvelope:
    """A valid envelope of one type and version, honouring the envelope's case rules."""
    source = draw(departments)
    if contract.name in CASELESS_TYPES:
        case_id = draw(optional(case_ids()))
    else:
        case_id = draw(case_ids(source if contract.name in REGISTERING_TYPES else None))
    return contract.envelope(
        message_id=draw(st.uuids()),
        type=contract.name,
        schema_version=contract.version,
        source=source,
        target=draw(optional(departments)),
        case_id=case_id,
        correlation_id=draw(optional(st.uuids())),
        causation_id=draw(optional(st.uuids())),
        occurred_at=draw(instants),
        payload=draw(PAYLOADS[contract.payload]),
    )
