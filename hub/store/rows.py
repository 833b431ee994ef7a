"""Pure conversions between domain values and table rows (plain dicts keyed by column)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final, cast

from contracts.codes import Department, Tier
from hub.domain.model import Case, Deadline, DeadlineKind
from hub.domain.timers import next_fire_time
from hub.store import codec
from hub.store.audit import AuditEntry

__all__ = [
    "DeadlineKey",
    "audit_entry",
    "case_row",
    "deadline_from_row",
    "deadline_key",
    "deadline_row",
    "departments_of",
    "parts_awaiting",
]

#: A deadline's identity within its case: (key, department).
DeadlineKey = tuple[str, str]
_DEADLINE_KINDS: Final = frozenset({"sla", "timer"})


def case_row(county: str, case: Case, updated_at: datetime) -> dict[str, Any]:
    """The ``cases`` row of ``case``: the columns queries filter on, and the whole document."""
    return {
        "county": county,
        "case_id": case.case_id,
        "kind": case.kind.value,
        "stage": case.stage.value,
        "tier": case.tier.value,
        "owner": case.owner.value,
        "intake": case.intake.value,
        "coordinator": case.coordinator.value if case.coordinator else None,
        "participants": [p.value for p in case.participants],
        "mode": case.mode.value,
        "registered_at": case.registered_at,
        "stage_since": case.stage_since,
        "closed_at": case.closed_at,
        "updated_at": updated_at,
        "version": case.version,
        "document": codec.dumps(case),
    }


def departments_of(case: Case) -> frozenset[str]:
    """Departments that see ``case`` in their ledger: owner, participants, coordinator, intake."""
    named = (case.owner, *case.participants, case.coordinator, case.intake)
    return frozenset(d.value for d in named if d is not None)


def deadline_key(deadline: Deadline) -> DeadlineKey:
    """The identity of ``deadline`` within its case."""
    return deadline.key, deadline.department.value


def deadline_row(county: str, case_id: str, deadline: Deadline) -> dict[str, Any]:
    """The ``deadlines`` row of one deadline, with the time the scheduler must look at it."""
    return {
        "county": county,
        "case_id": case_id,
        "key": deadline.key,
        "department": deadline.department.value,
        "tier": deadline.tier.value,
        "kind": deadline.kind,
        "started_at": deadline.started_at,
        "due_at": deadline.due_at,
        "warn_at": deadline.warn_at,
        "warned": deadline.warned,
        "fire_at": next_fire_time(deadline),
    }


def deadline_from_row(row: Mapping[Any, Any]) -> Deadline:
    """The deadline a ``deadlines`` row holds (times in UTC)."""
    kind = row["kind"]
    if kind not in _DEADLINE_KINDS:
        raise ValueError(f"deadline kind {kind!r} is neither 'sla' nor 'timer'")
    return Deadline(
        key=row["key"],
        department=Department(row["department"]),
        tier=Tier(row["tier"]),
        started_at=row["started_at"],
        due_at=row["due_at"],
        warn_at=row["warn_at"],
        kind=cast(DeadlineKind, kind),
        warned=bool(row["warned"]),
    )


def audit_entry(row: Mapping[Any, Any]) -> AuditEntry:
    """The entry an ``audit_log`` row holds."""
    return AuditEntry(
        county=row["county"],
        case_id=row["case_id"],
        seq=row["seq"],
        message_id=row["message_id"],
        type=row["type"],
        source=row["source"],
        trigger=row["trigger"],
        occurred_at=row["occurred_at"],
        recorded_at=row["recorded_at"],
        body=bytes(row["body"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
        actor=row["actor"],
        note=row["note"],
    )


def parts_awaiting(state: Mapping[str, Any]) -> Iterable[tuple[str, bool]]:
    """(target, receipted) for each recipient of a payment batch's state.

    The state is the service's plain dict (``hub.paymentstate``); the store reads only
    ``parts``: ``{target: {"receipt": null | {...}, ...}}``.
    """
    parts = state.get("parts", {})
    if not isinstance(parts, Mapping):
        raise ValueError("payment batch state: 'parts' must map each target to its part")
    for target, part in parts.items():
        if not isinstance(part, Mapping) or "receipt" not in part:
            raise ValueError(f"payment batch state: part {target!r} has no 'receipt' entry")
        yield str(target), part["receipt"] is not None
