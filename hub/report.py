"""Comprehensive analysis (综合分析, notice §4.4): trends and risk nodes over the ledger.

A pure function over cases (:func:`analyse`) and two renderings (text, JSON). The
report counts cases registered in a period — by month, category, intake window,
owner, channel, township and tier reached — how many closed and how fast, which
deadlines were missed by whom, and the risk nodes the notice asks to watch:
collective petitions, cases that climbed to the task force or above, townships
with the most disputes, and arrears taken to the court.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from contracts.codes import Tier
from contracts.messages.case import COLLECTIVE_PETITION_MIN_PEOPLE, PetitionRegistered
from hub.domain.durations import COUNTY_TZ
from hub.domain.model import Case, CaseKind, Stage

#: Division codes of Wuhe's townships (DESIGN §4), for readable risk nodes.
TOWNSHIPS = {
    "340322100": "城关镇",
    "340322101": "新集镇",
    "340322103": "小溪镇",
    "340322104": "双忠庙镇",
    "340322105": "小圩镇",
    "340322106": "东刘集镇",
    "340322107": "头铺镇",
    "340322108": "大新镇",
    "340322109": "武桥镇",
    "340322110": "朱顶镇",
    "340322111": "浍南镇",
    "340322112": "申集镇",
}


@dataclass(frozen=True)
class Report:
    """The figures of one period."""

    since: date
    until: date
    registered: int
    closed: int
    open: int
    by_month: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    by_intake: dict[str, int] = field(default_factory=dict)
    by_owner: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    by_tier_reached: dict[str, int] = field(default_factory=dict)
    by_township: dict[str, int] = field(default_factory=dict)
    open_by_stage: dict[str, int] = field(default_factory=dict)
    closed_within_sla: int = 0
    missed_deadlines: int = 0
    median_days_to_close: float | None = None
    collective_petitions: int = 0
    escalated_cases: list[str] = field(default_factory=list)
    reopened_cases: list[str] = field(default_factory=list)
    arrears_cases: int = 0
    arrears_principal: str = "0.00"

    @property
    def compliance(self) -> float | None:
        """Share of closed cases that missed no deadline."""
        return self.closed_within_sla / self.closed if self.closed else None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (dates as ISO strings)."""
        data = asdict(self)
        data["since"], data["until"] = self.since.isoformat(), self.until.isoformat()
        data["compliance"] = self.compliance
        return data


def _local_day(moment: datetime) -> date:
    return moment.astimezone(COUNTY_TZ).date()


def analyse(cases: Iterable[Case], since: date, until: date) -> Report:
    """The report of the cases registered from ``since`` to ``until`` (both included)."""
    chosen = [c for c in cases if since <= _local_day(c.registered_at) <= until]
    closed = [c for c in chosen if c.stage is Stage.CLOSED]
    counters: dict[str, Counter[str]] = {
        name: Counter()
        for name in (
            "month",
            "kind",
            "category",
            "intake",
            "owner",
            "channel",
            "tier",
            "township",
            "stage",
        )
    }
    collective = 0
    principal = Decimal("0.00")
    for case in chosen:
        counters["month"][f"{case.registered_at.astimezone(COUNTY_TZ):%Y-%m}"] += 1
        counters["kind"][case.kind.value] += 1
        counters["intake"][case.intake.value] += 1
        counters["owner"][case.owner.value] += 1
        counters["tier"][case.tier.value] += 1
        if case.is_open:
            counters["stage"][case.stage.value] += 1
        registration = case.registration
        if registration is not None:
            counters["category"][registration.category.value] += 1
            counters["channel"][registration.channel.value] += 1
            code = registration.jurisdiction
            counters["township"][TOWNSHIPS.get(code, code)] += 1
            if (
                isinstance(registration, PetitionRegistered)
                and registration.people_count >= COLLECTIVE_PETITION_MIN_PEOPLE
            ):
                collective += 1
        if case.kind is CaseKind.ARREARS and case.arrears is not None:
            principal += case.arrears.notice.principal
    durations = [
        (c.closed_at - c.registered_at).total_seconds() / 86400 for c in closed if c.closed_at
    ]
    return Report(
        since=since,
        until=until,
        registered=len(chosen),
        closed=len(closed),
        open=len(chosen) - len(closed),
        by_month=dict(sorted(counters["month"].items())),
        **{
            f"by_{name}": dict(counters[key].most_common())
            for name, key in (
                ("kind", "kind"),
                ("category", "category"),
                ("intake", "intake"),
                ("owner", "owner"),
                ("channel", "channel"),
                ("township", "township"),
            )
        },
        by_tier_reached={
            t.value: counters["tier"][t.value] for t in Tier if counters["tier"][t.value]
        },
        open_by_stage=dict(counters["stage"].most_common()),
        closed_within_sla=sum(1 for c in closed if c.breaches == 0),
        missed_deadlines=sum(c.breaches for c in chosen),
        median_days_to_close=round(statistics.median(durations), 1) if durations else None,
        collective_petitions=collective,
        escalated_cases=sorted(c.case_id for c in chosen if c.tier is not Tier.ROUTINE),
        reopened_cases=sorted(c.case_id for c in chosen if c.reopened),
        arrears_cases=counters["kind"][CaseKind.ARREARS.value],
        arrears_principal=f"{principal:.2f}",
    )


def render_text(report: Report) -> str:
    """The report as an operator reads it."""

    def block(title: str, values: dict[str, int]) -> list[str]:
        if not values:
            return []
        width = max(len(k) for k in values)
        return [title, *(f"  {k:<{width}}  {v:>5}" for k, v in values.items())]

    compliance = f"{report.compliance:.0%}" if report.compliance is not None else "-"
    lines = [
        f"综合分析 (comprehensive analysis) {report.since} – {report.until}",
        f"registered {report.registered}, closed {report.closed}, open {report.open}; "
        f"closed within every time limit {report.closed_within_sla} ({compliance}); "
        f"deadlines missed {report.missed_deadlines}; median days to close {report.median_days_to_close or '-'}",
    ]
    for title, values in (
        ("by month", report.by_month),
        ("by kind", report.by_kind),
        ("by category (通知三)", report.by_category),
        ("by intake window (首接)", report.by_intake),
        ("by owner", report.by_owner),
        ("by channel", report.by_channel),
        ("by tier reached", report.by_tier_reached),
        ("by township (risk nodes)", report.by_township),
        ("open, by stage", report.open_by_stage),
    ):
        lines += block(title, values)
    lines.append(f"collective petitions: {report.collective_petitions}")
    lines.append(f"escalated above routine: {', '.join(report.escalated_cases) or '-'}")
    lines.append(f"reopened: {', '.join(report.reopened_cases) or '-'}")
    lines.append(
        f"arrears cases: {report.arrears_cases} (principal {report.arrears_principal} yuan)"
    )
    return "\n".join(lines)
