"""The audit log's hash chain, its verification, and rebuilding a case from it.

Each case has a chain: entry ``seq`` (1, 2, …) stores the exact message body that
changed the case and ``hash = sha256(prev_hash ‖ canonical fields ‖ body)``, where
``prev_hash`` is the previous entry's hash (:data:`GENESIS` for the first). Editing a
body or a field, re-linking, inserting or deleting an entry breaks the chain at
that entry; deleting the last entries is caught by the chain's recorded head.
All functions here are pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Final

import orjson

from contracts.parse import parse
from contracts.values import ValidationSettings
from hub.domain.flow import Rules
from hub.domain.machine import transition
from hub.domain.model import Case, Refused
from hub.domain.timers import fire

__all__ = [
    "GENESIS",
    "AuditEntry",
    "AuditReport",
    "Tampered",
    "entry_hash",
    "first_tampered",
    "replay_case",
    "verify",
]

#: ``prev_hash`` of the first entry of every chain.
GENESIS: Final = "0" * 64
_DEFAULT_SETTINGS: Final = ValidationSettings()


@dataclass(frozen=True)
class AuditEntry:
    """One link of a case's chain. ``trigger``: ``message``, ``deadline:<key>:<dept>`` or ``replay``."""

    county: str
    case_id: str
    seq: int
    message_id: str
    type: str
    source: str
    trigger: str
    occurred_at: datetime
    recorded_at: datetime
    body: bytes
    prev_hash: str
    hash: str
    actor: str | None = None  # replays: who
    note: str | None = None  # replays: why

    def expected_hash(self) -> str:
        """What :attr:`hash` must be for this entry's content and ``prev_hash``."""
        return entry_hash(
            self.prev_hash, self.county, self.case_id, self.seq, self.message_id, self.type,
            self.source, self.trigger, self.occurred_at, self.recorded_at, self.actor, self.note,
            self.body,
        )  # fmt: skip


@dataclass(frozen=True)
class Tampered:
    """The first entry of a chain that does not verify, and why."""

    county: str
    case_id: str
    seq: int
    message_id: str | None  # None when the entry is missing altogether
    problem: str

    def __str__(self) -> str:
        message = f" message {self.message_id}" if self.message_id else ""
        return f"case {self.case_id} seq {self.seq}{message}: {self.problem}"


@dataclass(frozen=True)
class AuditReport:
    """What verifying the audit log found: chains and entries read, the first break of each."""

    chains: int
    entries: int
    tampered: tuple[Tampered, ...]

    @property
    def ok(self) -> bool:
        """Whether every chain verified."""
        return not self.tampered


@lru_cache(maxsize=4096)
def _instant(moment: datetime) -> str:
    # UTC, microseconds: what both databases give back, whatever offset went in. Cached: an
    # aware datetime hashes by its instant, and a batch repeats a few instants many times.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    prev_hash: str,
    county: str,
    case_id: str,
    seq: int,
    message_id: str,
    type: str,
    source: str,
    trigger: str,
    occurred_at: datetime,
    recorded_at: datetime,
    actor: str | None,
    note: str | None,
    body: bytes,
) -> str:
    """The hex SHA-256 linking an entry to ``prev_hash``."""
    fields = [
        county, case_id, seq, message_id, type, source, trigger,
        _instant(occurred_at), _instant(recorded_at), actor, note,
    ]  # fmt: skip
    # Byte for byte ``json.dumps(fields, ensure_ascii=False, separators=(",", ":"))`` (tested), faster.
    canonical = orjson.dumps(fields)
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(b"\n" + canonical + b"\n")
    digest.update(body)
    return digest.hexdigest()


def first_tampered(entries: Sequence[AuditEntry], head: tuple[int, str] | None) -> Tampered | None:
    """The first entry of one case's chain (in ``seq`` order) that does not verify.

    ``head`` is the (seq, hash) the store recorded as the chain's last link, or None
    when it recorded none.
    """
    expected_prev = GENESIS
    for position, entry in enumerate(entries, start=1):
        if entry.seq != position:
            return Tampered(entry.county, entry.case_id, position, None,
                            f"entry {position} is missing (next entry is seq {entry.seq})")
        problem = None
        if entry.prev_hash != expected_prev:
            problem = "prev_hash does not link to the previous entry"
        elif entry.expected_hash() != entry.hash:
            problem = "hash does not match the entry's content (body or fields altered)"
        if problem is not None:
            return Tampered(entry.county, entry.case_id, entry.seq, entry.message_id, problem)
        expected_prev = entry.hash
    last = entries[-1] if entries else None
    recorded = (last.seq, last.hash) if last else None
    if head is not None and head != recorded:
        county, case_id = (last.county, last.case_id) if last else ("", "")
        seq = recorded[0] + 1 if recorded else 1
        return Tampered(county, case_id, seq, None,
                        f"the chain ends at seq {recorded[0] if recorded else 0}, "
                        f"but its head records seq {head[0]}: entries were removed")
    return None


def verify(entries: Sequence[AuditEntry]) -> int | None:
    """The ``seq`` of the first entry of one case's chain that does not verify, or None."""
    found = first_tampered(entries, None)
    return found.seq if found else None


def replay_case(
    entries: Sequence[AuditEntry], rules: Rules, settings: ValidationSettings = _DEFAULT_SETTINGS
) -> Case | None:
    """Rebuild a case from its chain by re-applying every entry at its ``recorded_at``.

    ``message`` and ``replay`` entries go through the contracts and the state machine;
    ``deadline:<key>:<department>`` entries fire that deadline. A message the machine
    refuses is skipped, as it was when it first arrived.

    Raises:
        ValueError: an entry names a trigger this function does not know, or a
            deadline the rebuilt case does not carry (the chain and the rules disagree).
    """
    case: Case | None = None
    for entry in entries:
        if entry.trigger in ("message", "replay"):
            envelope = parse(entry.body, settings=settings)
            try:
                case = transition(case, envelope, entry.recorded_at, rules).case
            except Refused:
                continue
        elif entry.trigger.startswith("deadline:") and case is not None:
            _, key, department = entry.trigger.split(":", 2)
            armed = next(
                (d for d in case.deadlines if (d.key, d.department.value) == (key, department)), None
            )
            if armed is None:
                raise ValueError(f"seq {entry.seq}: deadline {key} of {department} is not armed")
            fired = fire(case, armed, entry.recorded_at, rules).case
            # The scheduler saves a firing as a new version, like a message.
            case = fired.evolve(version=case.version + 1) if fired != case else case
        else:
            raise ValueError(f"seq {entry.seq}: cannot replay trigger {entry.trigger!r}")
    return case
