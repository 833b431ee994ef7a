"""Routing by duty (attachment §2, notice §4.1 and §4.3): who handles a registered case.

The duty table is data (:data:`DUTY_RULES`): each rule names the clause it
implements. :func:`route` evaluates it for every (matter, insurance type, side of
the process change) the case touches and collects the owners; several owners mean
joint handling with a lead. Two overrides come first: data, refund and late-fee
disputes are verified jointly by tax, hrss and medins (§4.3.1), and a petition is
coordinated by the petition bureau while the owner by duty handles it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Literal

from contracts.codes import Category, Department, InsuranceType, Matter, RoutingMode
from contracts.messages.case import CaseRegistered, PetitionRegistered
from hub.domain.model import RoutingDecision, RuleHit

Side = Literal["before", "after"]

#: Insurance types whose duties lie with hrss: pension, unemployment, work injury.
HRSS_TYPES = frozenset(
    {
        InsuranceType.ENTERPRISE_PENSION,
        InsuranceType.INSTITUTION_PENSION,
        InsuranceType.RESIDENT_PENSION,
        InsuranceType.UNEMPLOYMENT,
        InsuranceType.WORK_INJURY,
    }
)
#: Insurance types whose duties lie with medins: basic medical incl. maternity.
MEDINS_TYPES = frozenset(
    {InsuranceType.EMPLOYEE_MEDICAL, InsuranceType.RESIDENT_MEDICAL, InsuranceType.MATERNITY}
)
#: Collection-side matters: before the process change the insurance bureau's, after it the tax bureau's.
COLLECTION_MATTERS = frozenset(
    {
        Matter.ARREARS,
        Matter.DECLARATION,
        Matter.COLLECTION,
        Matter.ACCOUNTING,
        Matter.PAYMENT_INSPECTION,
        Matter.CONTRIBUTION_BASE,
        Matter.AMOUNT_DUE,
        Matter.SPECIAL_PAYMENT,
        Matter.PAYMENT_CERTIFICATE,
    }
)
#: Matters the insurance bureaus keep whatever the period.
INSURANCE_MATTERS = frozenset(
    {
        Matter.REGISTRATION,
        Matter.ENROLLMENT,
        Matter.CONTRIBUTION_YEARS,
        Matter.BACK_PAYMENT,
        Matter.BENEFIT,
    }
)
#: Matters verified jointly by tax, hrss and medins (notice §4.3.1).
JOINT_VERIFICATION_MATTERS = frozenset({Matter.PAYMENT_DATA, Matter.REFUND, Matter.LATE_FEE})
JOINT_VERIFICATION_CATEGORIES = frozenset({Category.PAYMENT_DATA, Category.SPECIAL_REFUND_LATE_FEE})
#: The departments that handle cases by duty, in the order a lead is chosen among them.
LEAD_ORDER = (Department.TAX, Department.HRSS, Department.MEDINS)


@dataclass(frozen=True)
class DutyRule:
    """One line of the duty table: matters × insurance types × side → owner."""

    id: str
    clause: str
    matters: frozenset[Matter]
    types: frozenset[InsuranceType] | None  # None: applies when the case names no insurance type
    side: Side | None  # None: either side of the process change
    owner: Department
    explanation: str


DUTY_RULES: tuple[DutyRule, ...] = (
    DutyRule(
        "hrss.registration_benefit",
        "附件二(县人力资源社会保障局)",
        INSURANCE_MATTERS - {Matter.CONTRIBUTION_YEARS},
        HRSS_TYPES,
        None,
        Department.HRSS,
        "Pension, unemployment and work-injury registration, policy back-payment and benefits are hrss's duty.",
    ),
    DutyRule(
        "hrss.arrears_before_change",
        "附件二(县人力资源社会保障局)",
        COLLECTION_MATTERS,
        HRSS_TYPES,
        "before",
        Department.HRSS,
        "Pension, unemployment and work-injury fees from before the process change are hrss's (历史欠费).",
    ),
    DutyRule(
        "medins.registration_benefit",
        "附件二(县医保局)",
        INSURANCE_MATTERS,
        MEDINS_TYPES,
        None,
        Department.MEDINS,
        "Medical and maternity registration, contribution years, policy back-payment and benefits are medins's duty.",
    ),
    DutyRule(
        "medins.arrears_before_change",
        "附件二(县医保局)",
        COLLECTION_MATTERS,
        MEDINS_TYPES,
        "before",
        Department.MEDINS,
        "Medical and maternity fees from before the process change are medins's (历史欠费).",
    ),
    DutyRule(
        "tax.collection_after_change",
        "附件二(县税务局)",
        COLLECTION_MATTERS,
        HRSS_TYPES | MEDINS_TYPES,
        "after",
        Department.TAX,
        "Declaration, collection, inspection and arrears from after the process change are tax's.",
    ),
    DutyRule(
        "tax.collection_untyped",
        "附件二(县税务局)",
        COLLECTION_MATTERS,
        None,
        None,
        Department.TAX,
        "Collection matters naming no insurance type go to the collecting tax bureau.",
    ),
)


def side_of(month: str, process_change: date) -> Side:
    """Whether a fee month ``YYYY-MM`` falls wholly before the process change, or not."""
    year, mon = int(month[:4]), int(month[5:7])
    next_month_start = date(year + mon // 12, mon % 12 + 1, 1)
    return "before" if next_month_start <= process_change else "after"


def sides(registration: CaseRegistered, process_change: date) -> tuple[Side, ...]:
    """The sides of the process change a case's fee period touches (after, if it names none)."""
    period = registration.fee_period
    if period is None:
        return ("after",)
    found = dict.fromkeys(
        (side_of(period.start, process_change), side_of(period.end, process_change))
    )
    return tuple(found)


@cache  # DUTY_RULES is a constant table: the answer depends on the arguments alone
def _matching(matter: Matter, itype: InsuranceType | None, side: Side) -> DutyRule | None:
    for rule in DUTY_RULES:
        if matter not in rule.matters:
            continue
        if rule.side is not None and rule.side != side:
            continue
        if (rule.types is None) != (itype is None):
            continue
        if itype is not None and rule.types is not None and itype not in rule.types:
            continue
        return rule
    return None


def choose_lead(owners: Iterable[Department], intake: Department) -> Department:
    """First contact leads where it is an owner (首接负责); else tax, hrss, medins in that order."""
    owner_set = set(owners)
    if intake in owner_set:
        return intake
    for candidate in LEAD_ORDER:
        if candidate in owner_set:
            return candidate
    return sorted(owner_set)[0]


def route(
    registration: CaseRegistered, intake: Department, process_change: date
) -> RoutingDecision:
    """Decide owner, participants, coordinator and mode for a registered case."""
    coordinator = Department.PETITION if isinstance(registration, PetitionRegistered) else None
    joint = _joint_verification(registration)
    if joint is not None:
        owners, hits = [Department.TAX, Department.HRSS, Department.MEDINS], [joint]
    else:
        owners, hits = _by_duty(registration, intake, process_change)
    lead = choose_lead(owners, intake)
    participants = tuple(o for o in dict.fromkeys(owners) if o != lead)
    if coordinator is not None:
        mode = RoutingMode.PETITION
        hits.append(
            RuleHit(
                "petition.coordinate",
                "附件二(县信访局)",
                "The petition bureau coordinates; the departments by duty handle it.",
            )
        )
    elif joint is not None:
        mode = RoutingMode.JOINT_VERIFICATION
    else:
        mode = RoutingMode.JOINT if participants else RoutingMode.SINGLE
    if participants and joint is None:
        hits.append(
            RuleHit(
                "joint.lead",
                "通知四(一)",
                f"Several departments own it: joint handling led by {lead.value}.",
            )
        )
    return RoutingDecision(lead, participants, coordinator, mode, tuple(hits))


def _joint_verification(registration: CaseRegistered) -> RuleHit | None:
    if registration.category in JOINT_VERIFICATION_CATEGORIES or (
        JOINT_VERIFICATION_MATTERS & set(registration.matters)
    ):
        return RuleHit(
            "joint.verification",
            "通知四(三)1",
            "Data, refund and late-fee disputes are verified jointly by tax, hrss and medins.",
        )
    return None


def _by_duty(
    registration: CaseRegistered, intake: Department, process_change: date
) -> tuple[list[Department], list[RuleHit]]:
    owners: list[Department] = []
    hits: list[RuleHit] = []
    types: tuple[InsuranceType | None, ...] = registration.insurance_types or (None,)
    for matter in registration.matters:
        for itype in types:
            for side in sides(registration, process_change):
                rule = _matching(matter, itype, side)
                if rule is None:
                    continue
                owners.append(rule.owner)
                if all(hit.rule != rule.id for hit in hits):
                    hits.append(RuleHit(rule.id, rule.clause, rule.explanation))
    if not owners:
        fallback = intake if intake in LEAD_ORDER else Department.TAX
        owners.append(fallback)
        hits.append(
            RuleHit(
                "other.by_own_duty",
                "通知四(三)5-6",
                f"No specific duty applies: {fallback.value} handles it within its own remit.",
            )
        )
    return list(dict.fromkeys(owners)), hits
