"""What the API answers: response models, and pure functions building them from the ledger.

Nothing here reads the database; routes load cases and audit entries and pass them in.
Personal data (the party's name, ID number and phone) is shown only to a department
that follows the case; everyone else who may see the case sees it masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.codes import Department, RejectReason, RoutingMode, Tier
from contracts.identifiers import mask
from hub.domain.model import Case, CaseKind, Deadline, Registration, Stage
from hub.store.audit import AuditEntry

#: Fields of a registration's ``party`` that are personal data.
PERSONAL_FIELDS = ("name", "id_number", "phone")


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class MessageReceipt(_View):
    """What became of a message the hub took: applied now, or applied before (a duplicate)."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [{"message_id": "0193f6d2-8c1e-7b4a-9f00-5c1d2e3f4a02", "outcome": "applied"}]
    })  # fmt: skip

    message_id: str = Field(description="The envelope's message_id, the idempotency key.")
    outcome: Literal["applied", "duplicate"]


class DeadlineView(_View):
    """A live deadline of a case and the time left on it."""

    key: str = Field(description="Policy key, e.g. routine.sign.", examples=["routine.sign"])
    stage: str = Field(description="The stage it guards (the metrics label).")
    department: Department = Field(description="Who must act by then.")
    tier: Tier
    kind: Literal["sla", "timer"] = Field(description="sla: breaching escalates; timer: opens a window.")
    started_at: datetime
    due_at: datetime
    warn_at: datetime | None
    seconds_left: float = Field(description="Seconds until due_at; negative once it has passed.")
    overdue: bool = Field(description="An SLA deadline that has passed without the step being done.")


class RoutingView(_View):
    """Why the case went where it went: the rules that fired and the notice's clauses."""

    rule: str
    clause: str
    explanation: str


class TimelineEntry(_View):
    """One entry of the case's audit log (the message body itself is not shown)."""

    seq: int = Field(ge=1)
    at: datetime = Field(description="When the hub recorded it.")
    occurred_at: datetime = Field(description="When it happened, as the message says.")
    type: str = Field(examples=["case.accepted"])
    source: str = Field(description="The department that sent it, or hub for deadlines.")
    trigger: str = Field(description="message, replay, or deadline:<key>:<department>.")
    message_id: str
    note: str | None = None


class CaseSummary(_View):
    """A case as the ledger lists it."""

    case_id: str = Field(examples=["tax-2026-000123"])
    kind: CaseKind
    stage: Stage
    tier: Tier
    mode: RoutingMode
    intake: Department
    owner: Department
    participants: list[Department]
    coordinator: Department | None
    registered_at: datetime
    next_due_at: datetime | None = Field(description="The earliest live SLA deadline.")
    overdue: bool = Field(description="An SLA deadline has passed.")


class CaseView(CaseSummary):
    """A case with its routing, deadlines and full timeline."""

    routing: RoutingView | None
    stage_since: datetime | None
    closed_at: datetime | None
    outcome: str | None
    satisfaction: str | None
    resolution: str | None
    reopened: int
    breaches: int
    transfers: int
    version: int
    deadlines: list[DeadlineView]
    registration: dict[str, Any] | None = Field(
        description="The registration payload; the party's name, ID number and phone are "
        "masked unless the caller's department follows the case."
    )
    personal_data_masked: bool
    timeline: list[TimelineEntry]


class CasePage(_View):
    """One page of the ledger; ``next`` is the URL of the following page, if there is one."""

    items: list[CaseSummary]
    next: str | None = Field(description="Relative URL of the next page (keyset: after=<last case_id>).")


class ContractSummary(_View):
    """One message type of the catalogue."""

    type: str = Field(examples=["case.registered"])
    versions: list[int]
    latest: int
    description: str
    schema_url: str = Field(description="Where the newest version's JSON Schema is served.")


class ContractList(_View):
    """The message catalogue (DESIGN §4) and where its documents are."""

    contracts: list[ContractSummary]
    asyncapi_url: str


class RowProblemView(_View):
    """A row of an upload that was not sent: where, and why (never the cell's value)."""

    row: int = Field(ge=1, description="As a spreadsheet counts: the header is row 1.")
    column: str = Field(description="The column as the file names it.")
    reason: str


class BatchResult(_View):
    """One ``payment.details`` batch cut from an upload, and what the hub did with it."""

    batch_id: str = Field(examples=["tax-20261126-0001-p001"])
    message_id: str
    records: int = Field(ge=1)
    outcome: Literal["applied", "duplicate", "rejected"]
    reject_reason: RejectReason | None = None
    detail: str | None = None


class UploadReport(_View):
    """What became of an uploaded payment-detail export."""

    batch_id: str = Field(description="The upload's batch id; its parts are <batch_id>-p001, ….")
    format: Literal["csv", "jsonl"]
    encoding: str | None = Field(description="utf-8, utf-8-sig or gbk.")
    rows: int = Field(description="Data rows read (the header not counted).")
    records: int = Field(description="Valid rows sent in batches.")
    refused_rows: int
    problems: list[RowProblemView] = Field(description="The first 1000 refused rows.")
    problems_truncated: bool
    batches: list[BatchResult]


# -- builders ---------------------------------------------------------------------------------


def deadline_view(deadline: Deadline, now: datetime) -> DeadlineView:
    """``deadline`` with the time left at ``now``."""
    left = (deadline.due_at - now).total_seconds()
    return DeadlineView(
        key=deadline.key, stage=deadline.stage, department=deadline.department, tier=deadline.tier,
        kind=deadline.kind, started_at=deadline.started_at, due_at=deadline.due_at,
        warn_at=deadline.warn_at, seconds_left=left, overdue=deadline.kind == "sla" and left < 0,
    )  # fmt: skip


def is_overdue(case: Case, now: datetime) -> bool:
    """Whether an SLA deadline of ``case`` has passed at ``now``."""
    return any(d.kind == "sla" and d.due_at < now for d in case.deadlines)


def _summary_fields(case: Case, now: datetime) -> dict[str, Any]:
    slas = [d.due_at for d in case.deadlines if d.kind == "sla"]
    return {
        "case_id": case.case_id, "kind": case.kind, "stage": case.stage, "tier": case.tier,
        "mode": case.mode, "intake": case.intake, "owner": case.owner,
        "participants": list(case.participants), "coordinator": case.coordinator,
        "registered_at": case.registered_at, "next_due_at": min(slas, default=None),
        "overdue": is_overdue(case, now),
    }  # fmt: skip


def case_summary(case: Case, now: datetime) -> CaseSummary:
    """The ledger line of ``case``."""
    return CaseSummary(**_summary_fields(case, now))


def registration_view(registration: Registration | None, *, personal: bool) -> dict[str, Any] | None:
    """The registration payload as JSON, with the party's personal data masked unless ``personal``."""
    if registration is None:
        return None
    document = registration.model_dump(mode="json")
    party = document.get("party")
    if not personal and isinstance(party, dict):
        for name in PERSONAL_FIELDS:
            if isinstance(party.get(name), str):
                party[name] = mask(party[name])
    return document


def timeline_entry(entry: AuditEntry) -> TimelineEntry:
    """One audit entry without its body."""
    return TimelineEntry(seq=entry.seq, at=entry.recorded_at, occurred_at=entry.occurred_at,
                         type=entry.type, source=entry.source, trigger=entry.trigger,
                         message_id=entry.message_id, note=entry.note)  # fmt: skip


def case_view(case: Case, entries: Sequence[AuditEntry | TimelineEntry], now: datetime, *,
              personal: bool) -> CaseView:  # fmt: skip
    """The full view of ``case`` at ``now``; ``personal``: the caller follows the case."""
    routing = case.routing
    return CaseView(
        **_summary_fields(case, now),
        routing=RoutingView(rule=routing.rule, clause=routing.clause, explanation=routing.explanation)
        if routing is not None else None,
        stage_since=case.stage_since, closed_at=case.closed_at, outcome=case.outcome,
        satisfaction=case.satisfaction, resolution=case.resolution, reopened=case.reopened,
        breaches=case.breaches, transfers=case.transfers, version=case.version,
        deadlines=[deadline_view(d, now) for d in sorted(case.deadlines, key=lambda d: d.due_at)],
        registration=registration_view(case.registration, personal=personal),
        personal_data_masked=not personal and case.registration is not None,
        timeline=[e if isinstance(e, TimelineEntry) else timeline_entry(e) for e in entries],
    )  # fmt: skip
