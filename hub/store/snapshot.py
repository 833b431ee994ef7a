"""The ledger gauges' snapshot, read with SQL aggregates (no case document is decoded).

Each query reads an index range or a group of narrow columns: open cases by
(tier, owner, stage), unsigned cases, deadlines due by the end of the next working
day or already overdue, the outbox backlog and payment batches awaiting receipt.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, case, false, func, select

from contracts.codes import Tier
from hub.domain.calendar import WorkCalendar
from hub.domain.flow import TIER_BODY
from hub.domain.model import CaseKind, Stage
from hub.metrics import LedgerSnapshot, stage_label
from hub.store.schema import cases, deadlines, outbox, payment_batch_targets

__all__ = ["WAIT_LABELS", "next_workday_end", "read_snapshot", "waiting_on"]

log = logging.getLogger("sihub.store")

#: The SLA stage label (``hub.metrics.STAGES``) of what an open case in each stage waits for.
WAIT_LABELS: Final[Mapping[Stage, str]] = MappingProxyType({
    Stage.ROUTED: "sign",
    Stage.ACCEPTED: "handle",
    Stage.CONVENING: "convene",
    Stage.REPORTED: "feedback",
    Stage.FED_BACK: "feedback",  # told the party; the intake has yet to close
    Stage.DUNNING: "earliest_enforcement",
    Stage.CONFIRMING: "confirm",
    Stage.READY: "latest_enforcement",
    Stage.AT_COURT: "court_accept",
    Stage.COURT_ACCEPTED: "court_rule",
    Stage.ENFORCING: "conclude",
})


def next_workday_end(now: datetime, calendar: WorkCalendar, tz: ZoneInfo) -> datetime:
    """The end (24:00 local) of the first working day after ``now``'s local date."""
    after: date = calendar.add_workdays(now.astimezone(tz).date(), 1)
    return datetime.combine(after + timedelta(days=1), time(0), tzinfo=tz)


def waiting_on(stage: str, kind: str, tier: str, owner: str, intake: str) -> tuple[str, str] | None:
    """(department, stage label) an open case waits on; None for a stage without a label.

    The owner must sign and handle; a convening case waits on its tier's body (task
    force, leading-group office); a reported or fed-back case waits on the intake.
    """
    try:
        label = WAIT_LABELS[Stage(stage)]
    except (ValueError, KeyError):
        log.warning("ledger gauges: no stage label for case stage %r; left out", stage)
        return None
    if label == "sign" and kind == CaseKind.PETITION.value and tier == Tier.ROUTINE.value:
        return owner, "accept"  # a routine petition waits for acceptance (petition.accept)
    if label == "convene":
        body = TIER_BODY.get(Tier(tier))
        return (body.value if body else owner), label
    if label == "feedback":
        return intake, label
    return owner, label


def _deadline_label(key: str) -> str | None:
    try:
        return stage_label(key)
    except ValueError:
        log.warning("ledger gauges: deadline key %r has no stage label; left out", key)
        return None


def read_snapshot(
    connection: Connection, county: str, now: datetime, horizon: datetime, fallback_years: frozenset[int]
) -> LedgerSnapshot:
    """The snapshot of ``county`` at ``now``; ``horizon`` ends the "due soon" window."""
    open_rows = connection.execute(
        select(cases.c.tier, cases.c.owner, cases.c.intake, cases.c.stage, cases.c.kind, func.count())
        .where(cases.c.county == county, cases.c.stage != Stage.CLOSED.value)
        .group_by(cases.c.tier, cases.c.owner, cases.c.intake, cases.c.stage, cases.c.kind)
    ).all()
    cases_open = [
        (tier, *waiting, int(count))
        for tier, owner, intake, stage, kind, count in open_rows
        if (waiting := waiting_on(stage, kind, tier, owner, intake)) is not None
    ]
    routed_since = func.min(func.coalesce(cases.c.stage_since, cases.c.registered_at))
    unsigned = connection.execute(
        select(cases.c.tier, cases.c.owner, func.count(), routed_since)
        .where(cases.c.county == county, cases.c.stage == Stage.ROUTED.value)
        .group_by(cases.c.tier, cases.c.owner)
    ).all()
    overdue = deadlines.c.due_at <= now
    due = connection.execute(
        select(
            deadlines.c.tier, deadlines.c.department, deadlines.c.key,
            func.sum(case((overdue, 1), else_=0)), func.sum(case((overdue, 0), else_=1)),
        )
        .where(deadlines.c.county == county, deadlines.c.kind == "sla", deadlines.c.due_at <= horizon)
        .group_by(deadlines.c.tier, deadlines.c.department, deadlines.c.key)
    ).all()  # fmt: skip
    soon_rows, late_rows = [], []
    for tier, department, key, late, soon in due:
        label = _deadline_label(key)
        if label is None:
            continue
        if late:
            late_rows.append((tier, department, label, int(late)))
        if soon:
            soon_rows.append((tier, department, label, int(soon)))
    backlog = connection.execute(
        select(func.count(), func.min(outbox.c.created_at))
        .where(outbox.c.county == county, outbox.c.sent_at.is_(None))
    ).one()  # fmt: skip
    awaiting = connection.execute(
        select(
            payment_batch_targets.c.target, func.count(),
            func.sum(case((payment_batch_targets.c.due_at <= now, 1), else_=0)),
        )
        .where(payment_batch_targets.c.county == county, payment_batch_targets.c.receipted == false())
        .group_by(payment_batch_targets.c.target)
    ).all()  # fmt: skip
    return LedgerSnapshot(
        cases_open=cases_open,
        cases_unsigned=[(tier, owner, int(count)) for tier, owner, count, _ in unsigned],
        unsigned_oldest_routed_at=[(owner, since) for _, owner, _, since in unsigned if since is not None],
        deadlines_due_next_workday=soon_rows,
        deadlines_overdue=late_rows,
        outbox_pending=int(backlog[0]),
        outbox_oldest_created_at=backlog[1],
        payment_batches_awaiting_receipt=[(target, int(count)) for target, count, _ in awaiting],
        payment_batches_overdue=[(target, int(late)) for target, _, late in awaiting if late],
        calendar_fallback_years=fallback_years,
    )
