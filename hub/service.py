"""The hub's application service: one batch of inbound messages in, verdicts out.

The same path serves AMQP ingress (the gate) and HTTP ingress (``POST /v1/messages``):

1. parse with the contracts (reason codes of record on failure);
2. authenticate: the transport's sender (AMQP ``user_id`` / the API token's
   department) must be present and equal the envelope's ``source``; the routing
   key must agree with the envelope; the signature must verify;
3. in ONE database transaction: drop duplicates by ``message_id``, apply each
   message to its case or payment batch, append the audit entry, mark the message
   processed, and write what the transition emits to the outbox.

Only after the commit does the caller ack. A refusal that may be a matter of
order (``precondition_failed``) is answered ``retry`` until the message has been
redelivered ``retry_limit`` times, then quarantined.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from contracts import AnyEnvelope, Rejected, build, parse
from contracts.codes import Department, RejectReason
from contracts.values import ValidationSettings
from hub.config import SignatureMode
from hub.domain.flow import Rules
from hub.domain.machine import transition
from hub.domain.model import Applied, Case, Emit, Refused
from hub.domain.payments import receive_details, receive_receipt
from hub.ids import uuid7
from hub.paymentstate import batch_from_state, batch_to_state
from hub.signing import KeyRing, SignatureError, Signer
from hub.store.store import OutboxMessage, Store, Tx

log = logging.getLogger("sihub.service")

OUT_EXCHANGE = "sihub.out"
PAYMENT_TYPES = frozenset({"payment.details", "payment.receipt"})

Outcome = Literal["applied", "duplicate", "rejected", "retry"]
_DEFAULT_VALIDATION = ValidationSettings()
_NO_KEYS = KeyRing({})


@dataclass(frozen=True)
class Inbound:
    """One message as it arrived, before any validation."""

    body: bytes
    sender: str | None  # AMQP user_id property, or the department of the API token
    routing_key: str | None = None  # None over HTTP
    headers: Mapping[str, Any] = field(default_factory=dict)
    delivery_count: int = 0
    transport: Literal["amqp", "http", "replay"] = "amqp"
    note: str | None = None  # a replay's who and why, kept in the audit log


@dataclass(frozen=True)
class Verdict:
    """What became of one inbound message."""

    outcome: Outcome
    reason: RejectReason | None = None
    detail: str | None = None
    envelope: AnyEnvelope | None = None
    applied: Applied | None = None
    previous: Case | None = None  # the case before this message (stage durations)
    emitted: tuple[Emit, ...] = ()
    signed: bool = False
    handled_at: datetime | None = None
    claimed_id: str | None = None  # the body's message_id when the body was refused

    @property
    def message_id(self) -> str | None:
        """The message's id: parsed, or as the body claims it when it did not parse."""
        return str(self.envelope.message_id) if self.envelope is not None else self.claimed_id


@dataclass
class _Work:
    """Per-batch scratch: cases and payment batches already loaded, in order of change."""

    tx: Tx
    cases: dict[str, Case | None] = field(default_factory=dict)

    def preload(self, case_ids: list[str]) -> None:
        """Load every case a batch names in one query (and lock them on PostgreSQL)."""
        wanted = [c for c in dict.fromkeys(case_ids) if c not in self.cases]
        if wanted:
            found = self.tx.load_cases(wanted, lock=True)
            self.cases.update({c: found.get(c) for c in wanted})

    def case(self, case_id: str) -> Case | None:
        if case_id not in self.cases:
            self.cases[case_id] = self.tx.load_case(case_id, lock=True)
        return self.cases[case_id]


class HubService:
    """Validates, authenticates and applies inbound messages; see the module docstring."""

    def __init__(
        self,
        store: Store,
        rules: Rules,
        *,
        clock: Callable[[], datetime],
        validation: ValidationSettings = _DEFAULT_VALIDATION,
        keyring: KeyRing = _NO_KEYS,
        signatures: SignatureMode = "optional",
        signer: Signer | None = None,
        max_body_bytes: int = 4 * 1024 * 1024,
        retry_limit: int = 5,
    ) -> None:
        self.store = store
        self.rules = rules
        self.clock = clock
        self.validation = validation
        self.keyring = keyring
        self.signatures = signatures
        self.signer = signer
        self.max_body_bytes = max_body_bytes
        self.retry_limit = retry_limit

    # -- validation outside the transaction ------------------------------------------

    def check(self, inbound: Inbound) -> Verdict | AnyEnvelope:
        """Parse and authenticate one message: its envelope, or a rejection verdict."""
        try:
            envelope = parse(inbound.body, settings=self.validation, max_bytes=self.max_body_bytes)
        except Rejected as rejected:
            return Verdict("rejected", rejected.reason, rejected.detail, claimed_id=rejected.message_id)
        source = envelope.source.value
        if not inbound.sender:
            return Verdict(
                "rejected",
                RejectReason.MISSING_USER_ID,
                "user_id: the message carries no user_id property",
                envelope,
            )
        if inbound.sender != source:
            return Verdict(
                "rejected",
                RejectReason.SOURCE_MISMATCH,
                f"source: sent by {inbound.sender}, claims to be from {source}",
                envelope,
            )
        if inbound.routing_key is not None and inbound.routing_key != envelope.key:
            return Verdict(
                "rejected",
                RejectReason.SCHEMA_VIOLATION,
                f"routing key {inbound.routing_key!r} disagrees with the envelope ({envelope.key!r})",
                envelope,
            )
        if envelope.source is Department.HUB:
            return Verdict(
                "rejected",
                RejectReason.NOT_PERMITTED,
                "source: only the hub sends as hub",
                envelope,
            )
        if self.signatures != "off":
            try:
                self.keyring.verify(
                    inbound.body, inbound.headers, source, required=self.signatures == "required"
                )
            except SignatureError as error:
                return Verdict(
                    "rejected", RejectReason.BAD_SIGNATURE, f"signature: {error}", envelope
                )
        return envelope

    # -- the transaction ---------------------------------------------------------------

    def process(self, batch: Sequence[Inbound]) -> list[Verdict]:
        """Apply a batch in one transaction; verdicts in the order of ``batch``.

        Raises:
            hub.store.store.Conflict: a case changed under this batch (retry the batch).
            hub.store.store.Unavailable: the database is down (retry; never quarantine).
        """
        checked = [self.check(inbound) for inbound in batch]
        verdicts: list[Verdict | None] = [c if isinstance(c, Verdict) else None for c in checked]
        now = self.clock()
        with self.store.transaction() as tx:
            ids = [str(c.message_id) for c in checked if not isinstance(c, Verdict)]
            already = tx.seen(ids) if ids else set()
            work = _Work(tx)
            work.preload(
                [c.case_id for c in checked if not isinstance(c, Verdict) and c.case_id is not None]
            )
            outbox: list[OutboxMessage] = []
            for index, item in enumerate(checked):
                if isinstance(item, Verdict):
                    continue
                message_id = str(item.message_id)
                if message_id in already:
                    verdicts[index] = Verdict("duplicate", envelope=item)
                    continue
                verdict = self._apply(work, item, batch[index], now, outbox)
                verdicts[index] = verdict
                if verdict.outcome == "applied":
                    already.add(message_id)
            if outbox:
                tx.add_outbox(outbox)
        return [v for v in verdicts if v is not None]

    def _apply(
        self,
        work: _Work,
        envelope: AnyEnvelope,
        inbound: Inbound,
        now: datetime,
        outbox: list[OutboxMessage],
    ) -> Verdict:
        previous: Case | None = None
        try:
            if envelope.type in PAYMENT_TYPES:
                emits = self._apply_payment(work.tx, envelope, now)
                applied = None
            else:
                assert envelope.case_id is not None
                previous = work.case(envelope.case_id)
                applied = transition(previous, envelope, now, self.rules)
                work.cases[applied.case.case_id] = applied.case
                work.tx.save_case(applied.case)
                emits = list(applied.emits)
        except Refused as refused:
            retryable = (
                refused.reason is RejectReason.PRECONDITION_FAILED and inbound.transport == "amqp"
            )
            if retryable and inbound.delivery_count < self.retry_limit:
                return Verdict("retry", refused.reason, refused.detail, envelope)
            return Verdict("rejected", refused.reason, refused.detail, envelope)
        message_id = str(envelope.message_id)
        work.tx.mark_processed(message_id, envelope.case_id, "applied")
        if envelope.case_id is not None:
            work.tx.append_audit(
                envelope.case_id,
                message_id=message_id,
                type=envelope.type,
                source=envelope.source.value,
                trigger="replay" if inbound.transport == "replay" else "message",
                occurred_at=envelope.occurred_at,
                recorded_at=now,
                body=inbound.body,
                note=inbound.note,
            )
        outbox.extend(self.outgoing(emits, envelope.case_id, now, cause=envelope))
        signed = bool(inbound.headers.get("x-sihub-signature"))
        return Verdict(
            "applied",
            envelope=envelope,
            applied=applied,
            previous=previous,
            emitted=tuple(emits),
            signed=signed,
            handled_at=now,
        )

    def _apply_payment(self, tx: Tx, envelope: AnyEnvelope, now: datetime) -> list[Emit]:
        batch_id = str(envelope.payload.batch_id)
        state = tx.load_batch(batch_id)
        existing = batch_from_state(state) if state is not None else None
        if envelope.type == "payment.details":
            batch, emits = receive_details(existing, envelope, now, self.rules)
        else:
            batch, emits = receive_receipt(existing, envelope, now)
        tx.save_batch(batch_id, batch_to_state(batch))
        return emits

    # -- what the hub emits -------------------------------------------------------------

    def outgoing(
        self,
        emits: Sequence[Emit],
        case_id: str | None,
        now: datetime,
        cause: AnyEnvelope | None = None,
    ) -> list[OutboxMessage]:
        """Envelopes from the hub for each emit, as outbox rows for ``sihub.out``."""
        rows = []
        for emit in emits:
            message_id = uuid7()
            envelope = build(
                emit.type,
                emit.payload,
                source=Department.HUB,
                target=emit.target,
                case_id=case_id,
                message_id=message_id,
                occurred_at=now,
                correlation_id=(cause.correlation_id or cause.message_id) if cause else message_id,
                causation_id=cause.message_id if cause else None,
            )
            body = envelope.to_json()
            headers: dict[str, str | int | bool] = {"x-sihub-type": emit.type}
            if self.signer is not None:
                headers.update(self.signer.headers(body))
            rows.append(
                OutboxMessage(
                    exchange=OUT_EXCHANGE,
                    routing_key=f"{emit.target.value}.{emit.type}",
                    body=body,
                    headers=headers,
                    message_id=str(message_id),
                    created_at=now,
                )
            )
        return rows


def deadline_note(key: str, department: str, due_at: datetime, fired_at: datetime) -> bytes:
    """The audit body recorded when a deadline fires (what the scheduler saw)."""
    return json.dumps(
        {
            "deadline": key,
            "department": department,
            "due_at": due_at.isoformat(),
            "fired_at": fired_at.isoformat(),
        }
    ).encode()
