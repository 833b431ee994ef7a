"""Concise builders for the case messages, the rules contexts, and a driver for the machine.

The money flows (arrears, enforcement, payment details) are in :mod:`.money_builders`.

Every builder returns a validated envelope (through :func:`contracts.build`) with
sensible, valid defaults: a checked ID number and credit code, a jurisdiction
under Wuhe County, ``case_id`` prefixed with its source. Codes may be given as
enum members or as their wire strings (``matters=["arrears"]``, ``insurance_types=["110"]``).
``at`` is both ``occurred_at`` and, in :func:`step`, the injected clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from itertools import count
from uuid import UUID

from contracts import AnyEnvelope, build
from contracts.codes import (
    Category,
    Channel,
    Department,
    EscalationTrigger,
    FeedbackMethod,
    InsuranceType,
    Matter,
    MeetingDecision,
    Outcome,
    PartyKind,
    Resolution,
    Satisfaction,
    Tier,
)
from contracts.messages.base import Contract, Employer, FeePeriod, Party
from contracts.messages.case import (
    CaseAccepted,
    CaseClosed,
    CaseEscalated,
    CaseFeedbackGiven,
    CaseHandled,
    CaseJointHandlingRequested,
    CaseMeetingConcluded,
    CaseRegistered,
    CaseReopened,
    CaseReplied,
    CaseTransferred,
    PetitionRegistered,
)
from hub.domain.calendar import WorkCalendar
from hub.domain.durations import COUNTY_TZ
from hub.domain.flow import Rules
from hub.domain.machine import transition
from hub.domain.model import Applied, Case, Emit
from hub.domain.sla_policy import KEYS_OF_RECORD, load_policy, parse_policy

Dept = Department | str

#: A Monday morning in Wuhe (no holiday near it): the default clock of every builder.
T0 = datetime(2026, 11, 23, 9, 30, tzinfo=COUNTY_TZ)
#: Valid identifiers (GB 11643 and GB 32100 check characters verified).
ID_NUMBER = "11010519491231002X"
USCC = "91350100M000100Y43"
#: 新集镇, Wuhe County.
JURISDICTION = "340322101"

EMPLOYER = Employer(name="五河县某建材有限公司", uscc=USCC)

_sequence = count(1)


def case_id(source: Dept = "tax", number: int = 1) -> str:
    """A case id of ``source`` (``tax-2026-000001``)."""
    return f"{Department(source).value}-2026-{number:06d}"


def message(
    type_: str, payload: Contract, *, source: Dept, case: str | None = None, at: datetime = T0
) -> AnyEnvelope:
    """Any envelope, built and validated as the hub would (fresh ``message_id``)."""
    return build(
        type_,
        payload,
        source=Department(source),
        message_id=UUID(int=next(_sequence)),
        occurred_at=at,
        case_id=case,
    )


# --- the case lifecycle -------------------------------------------------------------------


def registration(
    *,
    matters: Iterable[Matter | str] = (Matter.ARREARS,),
    insurance_types: Iterable[InsuranceType | str] = (InsuranceType.ENTERPRISE_PENSION,),
    period: tuple[str, str] | None = ("2023-01", "2023-06"),
    category: Category | str = Category.ENROLLMENT_PAYMENT_BENEFIT,
    at: datetime = T0,
    people_count: int | None = None,
) -> CaseRegistered:
    """The payload of ``case.registered`` (or ``petition.registered`` given ``people_count``)."""
    base = CaseRegistered(
        channel=Channel.WINDOW,
        received_at=at,
        intake_clerk="窗口 07",
        party=Party(
            kind=PartyKind.EMPLOYEE, name="张三", id_number=ID_NUMBER, uscc=None, phone=None
        ),
        employer=EMPLOYER,
        jurisdiction=JURISDICTION,
        category=Category(category),
        matters=tuple(Matter(m) for m in matters),
        insurance_types=tuple(InsuranceType(t) for t in insurance_types),
        fee_period=None if period is None else FeePeriod(start=period[0], end=period[1]),
        amount_in_dispute=Decimal("1080.00"),
        summary="单位少缴养老保险费",
        initial_opinion="按职责转办",
        urgent=False,
    )
    if people_count is None:
        return base
    return PetitionRegistered(
        **dict(base), petition_no="五信〔2026〕031号", people_count=people_count
    )


def registered(
    source: Dept = "tax",
    case: str | None = None,
    *,
    matters: Iterable[Matter | str] = (Matter.ARREARS,),
    insurance_types: Iterable[InsuranceType | str] = (InsuranceType.ENTERPRISE_PENSION,),
    period: tuple[str, str] | None = ("2023-01", "2023-06"),
    category: Category | str = Category.ENROLLMENT_PAYMENT_BENEFIT,
    at: datetime = T0,
) -> AnyEnvelope:
    """``case.registered`` at ``source``'s window (first contact)."""
    payload = registration(
        matters=matters, insurance_types=insurance_types, period=period, category=category, at=at
    )
    return message("case.registered", payload, source=source, case=case or case_id(source), at=at)


def petition(
    source: Dept = "petition",
    case: str | None = None,
    *,
    people_count: int = 1,
    matters: Iterable[Matter | str] = (Matter.BENEFIT,),
    insurance_types: Iterable[InsuranceType | str] = (InsuranceType.ENTERPRISE_PENSION,),
    period: tuple[str, str] | None = ("2023-01", "2023-06"),
    category: Category | str = Category.PETITION_OPINION,
    at: datetime = T0,
) -> AnyEnvelope:
    """``petition.registered`` at the petition bureau."""
    payload = registration(
        matters=matters,
        insurance_types=insurance_types,
        period=period,
        category=category,
        at=at,
        people_count=people_count,
    )
    return message(
        "petition.registered", payload, source=source, case=case or case_id(source), at=at
    )


def transferred(
    source: Dept, case: str, to: Dept, *, objection: bool = False, at: datetime = T0
) -> AnyEnvelope:
    """``case.transferred`` (转办), or an objection to a misdirected transfer."""
    payload = CaseTransferred(to=Department(to), reason="不属本部门职责", objection=objection)
    return message("case.transferred", payload, source=source, case=case, at=at)


def accepted(source: Dept, case: str, *, at: datetime = T0) -> AnyEnvelope:
    """``case.accepted`` (签收)."""
    return message(
        "case.accepted", CaseAccepted(handler="经办人 12"), source=source, case=case, at=at
    )


def joint_requested(
    source: Dept, case: str, lead: Dept, participants: Iterable[Dept], *, at: datetime = T0
) -> AnyEnvelope:
    """``case.joint_handling_requested`` (联合办理) led by ``lead``."""
    payload = CaseJointHandlingRequested(
        lead=Department(lead),
        participants=tuple(Department(p) for p in participants),
        reason="涉及多个险种",
    )
    return message("case.joint_handling_requested", payload, source=source, case=case, at=at)


def escalated(
    source: Dept, case: str, from_tier: Tier | str, to_tier: Tier | str, *, at: datetime = T0
) -> AnyEnvelope:
    """``case.escalated`` sent by a department (a manual referral up)."""
    payload = CaseEscalated(
        from_tier=Tier(from_tier),
        to_tier=Tier(to_tier),
        trigger=EscalationTrigger.MANUAL,
        reason="无法限时办结",
    )
    return message("case.escalated", payload, source=source, case=case, at=at)


def meeting(
    source: Dept,
    case: str,
    tier: Tier | str,
    decision: MeetingDecision | str,
    *,
    lead: Dept | None = None,
    participants: Iterable[Dept] = (),
    at: datetime = T0,
) -> AnyEnvelope:
    """``case.meeting_concluded`` by the task force or the office."""
    payload = CaseMeetingConcluded(
        tier=Tier(tier),
        meeting_no="专班〔2026〕7号",
        held_at=at,
        attendees=(Department.TAX, Department.HRSS, Department.MEDINS),
        decision=MeetingDecision(decision),
        lead=None if lead is None else Department(lead),
        participants=tuple(Department(p) for p in participants),
        minutes="会商意见",
    )
    return message("case.meeting_concluded", payload, source=source, case=case, at=at)


def handled(
    source: Dept, case: str, *, outcome: Outcome | str = Outcome.EXPLAINED, at: datetime = T0
) -> AnyEnvelope:
    """``case.handled``: a handler's result."""
    payload = CaseHandled(outcome=Outcome(outcome), result="已核实并答复", handled_at=at)
    return message("case.handled", payload, source=source, case=case, at=at)


def replied(
    source: Dept, case: str, *, outcome: Outcome | str = Outcome.ADJUSTED, at: datetime = T0
) -> AnyEnvelope:
    """``case.replied``: the lead's unified reply (统一答复)."""
    payload = CaseReplied(reply="统一答复意见", replied_at=at, outcome=Outcome(outcome))
    return message("case.replied", payload, source=source, case=case, at=at)


def feedback(
    source: Dept,
    case: str,
    *,
    satisfaction: Satisfaction | str = Satisfaction.SATISFIED,
    at: datetime = T0,
) -> AnyEnvelope:
    """``case.feedback_given``: the intake told the party."""
    payload = CaseFeedbackGiven(
        method=FeedbackMethod.PHONE, given_at=at, satisfaction=Satisfaction(satisfaction)
    )
    return message("case.feedback_given", payload, source=source, case=case, at=at)


def closed(
    source: Dept,
    case: str,
    *,
    resolution: Resolution | str = Resolution.RESOLVED,
    at: datetime = T0,
) -> AnyEnvelope:
    """``case.closed`` by the intake."""
    payload = CaseClosed(resolution=Resolution(resolution), closed_at=at)
    return message("case.closed", payload, source=source, case=case, at=at)


def reopened(source: Dept, case: str, *, at: datetime = T0) -> AnyEnvelope:
    """``case.reopened``: the party is not satisfied."""
    payload = CaseReopened(reason="当事人不满意", reopened_at=at)
    return message("case.reopened", payload, source=source, case=case, at=at)


# --- rules contexts -----------------------------------------------------------------------


@cache
def county_calendar() -> WorkCalendar:
    """The real county calendar: the State Council notices via ``chinesecalendar``."""
    return WorkCalendar.from_chinesecalendar()


#: Seconds for every key: the policy of demos and property tests (same shape as the default).
SECONDS: dict[str, str] = {
    **dict.fromkeys(KEYS_OF_RECORD, "60s"),
    "routine.sign": "10s",
    "routine.transfer_objection": "50s",
    "routine.handle": "100s",
    "routine.feedback": "20s",
    "difficult.convene": "50s",
    "difficult.handle": "300s",
    "major.handle": "600s",
    "petition.accept": "150s",
    "arrears.earliest_enforcement": "100s",
    "arrears.latest_enforcement": "900s",
}


def county_rules(process_change: date = date(2024, 1, 1)) -> Rules:
    """The shipped default policy on the real county calendar."""
    return Rules(load_policy(None), county_calendar(), process_change)


def seconds_rules(process_change: date = date(2024, 1, 1)) -> Rules:
    """The default policy with every deadline in seconds (see :data:`SECONDS`)."""
    lines = "\n".join(f'"{key}" = "{value}"' for key, value in SECONDS.items())
    policy = parse_policy(f"[deadlines]\n{lines}\n", "(test) seconds", base=load_policy(None))
    return Rules(policy, county_calendar(), process_change)


# --- driving the machine ------------------------------------------------------------------


def step(
    case: Case | None, envelope: AnyEnvelope, rules: Rules, now: datetime | None = None
) -> Applied:
    """One transition at ``now`` (default: the message's ``occurred_at``)."""
    return transition(case, envelope, now or envelope.occurred_at, rules)


def walk(rules: Rules, *envelopes: AnyEnvelope) -> Case:
    """The case after applying ``envelopes`` in order, each at its own ``occurred_at``."""
    case: Case | None = None
    for envelope in envelopes:
        case = step(case, envelope, rules).case
    assert case is not None
    return case


def sent(applied: Applied) -> list[tuple[str, Department]]:
    """What the hub sends, as ``(type, target)`` pairs in order."""
    return [(emit.type, emit.target) for emit in applied.emits]


def only(emits: Iterable[Emit], type_: str) -> Contract:
    """The one payload of ``type_`` among ``emits`` (all copies carry the same payload)."""
    found = {id(e.payload): e.payload for e in emits if e.type == type_}
    assert len(found) == 1, f"expected one {type_} payload, got {len(found)}"
    return next(iter(found.values()))


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware Beijing-time instant."""
    return datetime(year, month, day, hour, minute, tzinfo=COUNTY_TZ)


def later(start: datetime = T0, **delta: float) -> datetime:
    """``start`` plus a ``timedelta(**delta)``."""
    return start + timedelta(**delta)
