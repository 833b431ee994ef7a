"""The store's pure parts: the hash chain, error classification, gauge labels, row differences."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from types import ModuleType
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import exc

import hub.store
from contracts.codes import Department, Tier
from hub.domain.calendar import WorkCalendar
from hub.domain.model import Case, CaseKind, Deadline, Stage
from hub.store.audit import GENESIS, AuditEntry, entry_hash, first_tampered, verify
from hub.store.case_writes import Tracked, row_changes
from hub.store.errors import Conflict, StoreError, Unavailable, classify
from hub.store.rows import deadline_key
from hub.store.snapshot import next_workday_end, waiting_on

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)


def chain(n: int, case_id: str = "tax-2026-000123") -> list[AuditEntry]:
    """``n`` correctly linked entries."""
    entries: list[AuditEntry] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        fields = ("340322", case_id, seq, f"m{seq}", "case.accepted", "hrss", "message",
                  T0 + timedelta(minutes=seq), T0 + timedelta(minutes=seq, seconds=1), None, None)  # fmt: skip
        body = f'{{"n":{seq}}}'.encode()
        digest = entry_hash(prev, *fields, body)
        entries.append(AuditEntry(*fields[:9], body=body, prev_hash=prev, hash=digest))
        prev = digest
    return entries


def test_audit_chain_of_linked_entries_verifies() -> None:
    entries = chain(4)
    assert verify(entries) is None
    assert first_tampered(entries, (4, entries[-1].hash)) is None


def test_audit_chain_hash_ignores_the_offset_a_time_was_written_with() -> None:
    (entry,) = chain(1)
    in_utc = replace(entry, occurred_at=entry.occurred_at.astimezone(UTC), recorded_at=entry.recorded_at.astimezone(UTC))
    assert in_utc.expected_hash() == entry.hash


@pytest.mark.parametrize(
    ("tamper", "bad_seq"),
    [
        (lambda e: [e[0], replace(e[1], body=b'{"n":20}'), *e[2:]], 2),
        (lambda e: [e[0], e[1], replace(e[2], source="tax"), e[3]], 3),
        (lambda e: [e[0], e[2], e[3]], 2),  # seq 2 deleted
        (lambda e: [e[1], e[2], e[3]], 1),  # seq 1 deleted
        (lambda e: [e[0], e[1], replace(e[3], seq=3)], 3),  # 3 deleted, 4 renumbered
        (lambda e: [replace(x, case_id="tax-2026-000999") for x in e], 1),  # moved to another case
    ],
)
def test_audit_chain_names_the_first_entry_that_breaks(tamper: object, bad_seq: int) -> None:
    assert callable(tamper)
    assert verify(tamper(chain(4))) == bad_seq


def test_audit_chain_truncation_is_caught_by_the_recorded_head() -> None:
    entries = chain(4)
    found = first_tampered(entries[:3], (4, entries[-1].hash))
    assert found is not None and (found.seq, found.message_id) == (4, None)
    assert verify(entries[:3]) is None  # the chain alone cannot see it


def _dbapi(error: Exception) -> exc.DBAPIError:
    return exc.DBAPIError("SELECT 1", None, error)


def _sqlite_error(kind: type[sqlite3.Error], code: int) -> sqlite3.Error:
    error = kind("boom")
    error.sqlite_errorcode = code
    return error


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (_dbapi(_sqlite_error(sqlite3.OperationalError, 5)), Unavailable),  # SQLITE_BUSY
        (_dbapi(_sqlite_error(sqlite3.OperationalError, 517)), Unavailable),  # SQLITE_BUSY_SNAPSHOT
        (_dbapi(_sqlite_error(sqlite3.IntegrityError, 1555)), Conflict),  # primary key
        (_dbapi(_sqlite_error(sqlite3.IntegrityError, 787)), StoreError),  # foreign key: a bug
        (_dbapi(_sqlite_error(sqlite3.OperationalError, 1)), StoreError),  # no such table
        (_dbapi(_PgError("23505")), Conflict),
        (_dbapi(_PgError("40P01")), Conflict),
        (_dbapi(_PgError("42P01")), StoreError),
        (exc.TimeoutError("pool exhausted"), Unavailable),
    ],
)
def test_store_errors_classify_driver_failures(error: exc.SQLAlchemyError, kind: type[StoreError]) -> None:
    assert type(classify(error)) is kind


def test_store_errors_classify_a_lost_postgresql_connection_as_unavailable() -> None:
    lost = exc.OperationalError("SELECT 1", None, _PgError("08006"))
    assert type(classify(lost)) is Unavailable


def test_gauges_end_the_next_working_day_across_a_holiday_and_a_weekend() -> None:
    calendar = WorkCalendar.from_chinesecalendar()
    # Wednesday 30 September 2026: National Day holidays follow.
    holiday_eve = datetime(2026, 9, 30, 15, 0, tzinfo=SHANGHAI)
    first_after = calendar.add_workdays(date(2026, 9, 30), 1)
    assert first_after > date(2026, 10, 7)
    assert next_workday_end(holiday_eve, calendar, SHANGHAI) == datetime.combine(
        first_after + timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI
    )
    friday = datetime(2026, 11, 27, 23, 30, tzinfo=SHANGHAI)
    assert next_workday_end(friday, calendar, SHANGHAI) == datetime(2026, 12, 1, tzinfo=SHANGHAI)
    # Late Friday in UTC is already Saturday in the county.
    assert next_workday_end(datetime(2026, 11, 27, 17, 0, tzinfo=UTC), calendar, SHANGHAI) == datetime(
        2026, 12, 1, tzinfo=SHANGHAI
    )


@pytest.mark.parametrize(
    ("stage", "kind", "tier", "expected"),
    [
        ("routed", "dispute", "routine", ("hrss", "sign")),
        ("routed", "petition", "routine", ("hrss", "accept")),
        ("routed", "petition", "difficult", ("hrss", "sign")),
        ("accepted", "dispute", "routine", ("hrss", "handle")),
        ("convening", "dispute", "difficult", ("taskforce", "convene")),
        ("convening", "dispute", "joint_meeting", ("lgo", "convene")),
        ("reported", "dispute", "routine", ("tax", "feedback")),
        ("confirming", "arrears", "routine", ("hrss", "confirm")),
        ("limbo", "dispute", "routine", None),
    ],
)
def test_gauges_label_an_open_case_by_whom_it_waits_on(
    stage: str, kind: str, tier: str, expected: tuple[str, str] | None
) -> None:
    assert waiting_on(stage, kind, tier, owner="hrss", intake="tax") == expected


def _deadline(key: str, department: str, hours: int, warned: bool = False) -> Deadline:
    return Deadline(key, Department(department), Tier.ROUTINE, T0, T0 + timedelta(hours=hours), None, warned=warned)


def test_row_changes_touch_only_what_changed() -> None:
    sign, handle = _deadline("routine.sign", "hrss", 24), _deadline("routine.handle", "hrss", 240)
    feedback = _deadline("routine.feedback", "tax", 48)
    before = Case(case_id="tax-2026-000001", kind=CaseKind.DISPUTE, intake=Department.TAX, registered_at=T0,
                  stage=Stage.ROUTED, tier=Tier.ROUTINE, owner=Department.HRSS,
                  participants=(Department.MEDINS,), deadlines=(sign, handle), version=1)  # fmt: skip
    after = before.evolve(version=2, participants=(Department.COURT,),
                          deadlines=(replace(sign, warned=True), handle, feedback))  # fmt: skip
    tracked = Tracked(1, {deadline_key(d): d for d in before.deadlines}, frozenset({"hrss", "tax", "medins"}), after)
    changes = row_changes("340322", [tracked])
    assert changes.replace_all == []
    assert [(r["k_key"], r["k_department"]) for r in changes.deadlines_gone] == [("routine.sign", "hrss")]
    assert sorted((r["key"], r["warned"]) for r in changes.deadlines_added) == [
        ("routine.feedback", False), ("routine.sign", True)
    ]
    assert [r["k_department"] for r in changes.departments_gone] == ["medins"]
    assert [r["department"] for r in changes.departments_added] == ["court"]
    blind = row_changes("340322", [Tracked(1, None, None, after)])
    assert blind.replace_all == ["tax-2026-000001"] and len(blind.deadlines_added) == 3


def test_store_package_all_is_exactly_its_public_names() -> None:
    public = {name for name, value in vars(hub.store).items()
              if not name.startswith("_") and not isinstance(value, ModuleType)}  # fmt: skip
    assert set(hub.store.__all__) == public
    assert {"Store", "Tx", "Conflict", "Unavailable", "StoreError", "OutboxMessage"} <= public
