"""Payloads the hub emits when a deadline approaches or passes (DESIGN §5, SLA)."""

from __future__ import annotations

from contracts.codes import Department, Tier
from contracts.messages.base import Contract
from contracts.values import Instant, Label


class SlaWarning(Contract):
    """A deadline is near: the responsible department is reminded."""

    stage: Label
    tier: Tier
    department: Department
    started_at: Instant
    due_at: Instant


class SlaBreached(Contract):
    """A deadline passed: counted, and the case escalates one tier where a tier applies."""

    stage: Label
    tier: Tier
    department: Department
    started_at: Instant
    due_at: Instant
    breached_at: Instant
    escalated_to: Tier | None
