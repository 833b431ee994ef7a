"""The store's test suite, written once and run against SQLite and PostgreSQL.

A test module subclasses :class:`StoreSuite`, provides a ``store`` fixture (a fresh
ledger: its own database, or a county of its own in a shared one) and
:meth:`StoreSuite.explain`; every ``test_*`` method here then runs on its backend.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from prometheus_client import CollectorRegistry
from sqlalchemy import Select, delete, inspect, update

from contracts.codes import Department, Tier
from hub.audit_cli import audit
from hub.domain.flow import Rules
from hub.domain.model import Case, CaseKind, Deadline, Stage
from hub.domain.timers import next_fire_time
from hub.metrics import register_ledger_collector
from hub.store import codec, queries
from hub.store.audit import replay_case
from hub.store.errors import Conflict, StoreError, Unavailable
from hub.store.records import OutboxMessage
from hub.store.schema import audit_heads, audit_log, cases, metadata
from hub.store.store import Store
from tests.support.ledger_scenarios import (
    arrears_to_court,
    breach_and_escalation,
    county_rules,
    drive,
    routine_lifecycle,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: A Wednesday: the next working day ends at 2026-11-27T00:00+08:00.
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI)


def deadline(key: str, department: str, due: datetime, *, warn: datetime | None = None,
             kind: str = "sla", tier: Tier = Tier.ROUTINE) -> Deadline:  # fmt: skip
    """A deadline started a day before ``due``."""
    return Deadline(key, Department(department), tier, due - timedelta(days=1), due, warn,
                    "timer" if kind == "timer" else "sla")  # fmt: skip


def make_case(case_id: str, *, version: int = 1, stage: Stage = Stage.ROUTED, owner: str = "hrss",
              intake: str = "tax", tier: Tier = Tier.ROUTINE, kind: CaseKind = CaseKind.DISPUTE,
              participants: Sequence[str] = (), coordinator: str | None = None,
              deadlines: Sequence[Deadline] = (), stage_since: datetime = NOW - timedelta(hours=3),
              ) -> Case:  # fmt: skip
    """A ledger case with just the fields the store indexes."""
    return Case(
        case_id=case_id, kind=kind, intake=Department(intake), registered_at=NOW - timedelta(days=1),
        stage=stage, tier=tier, owner=Department(owner),
        participants=tuple(Department(p) for p in participants),
        coordinator=Department(coordinator) if coordinator else None, deadlines=tuple(deadlines),
        stage_since=stage_since, version=version,
    )  # fmt: skip


def outbox_message(n: int, created_at: datetime = NOW) -> OutboxMessage:
    """The ``n``-th outbox message of a test."""
    return OutboxMessage(
        exchange="sihub.out", routing_key=f"hrss.case.routed.{n}", body=f'{{"n":{n},"名":"案"}}'.encode(),
        headers={"x-sihub-type": "case.routed", "x-n": n, "x-signed": n % 2 == 0},
        message_id=str(uuid.uuid4()), created_at=created_at,
    )  # fmt: skip


def save(store: Store, *cases: Case) -> None:
    """Save ``cases`` in one transaction."""
    with store.transaction() as tx:
        for case in cases:
            tx.save_case(case)


class StoreSuite:
    """Behaviour every backend of the ledger must show."""

    #: The index the claim query must use.
    FIRE_INDEX = "ix_deadlines_county_fire_at"

    def explain(self, store: Store, query: Select[Any]) -> str:
        """The backend's query plan of ``query``, as text."""
        raise NotImplementedError

    @pytest.fixture
    def rules(self) -> Rules:
        return county_rules()

    # -- cases -------------------------------------------------------------------------------

    def test_store_round_trips_a_saved_case(self, store: Store) -> None:
        case = make_case("tax-2026-000001", participants=["medins"], coordinator="petition",
                         deadlines=[deadline("routine.sign", "hrss", NOW + timedelta(days=1))])  # fmt: skip
        save(store, case)
        with store.transaction() as tx:
            loaded = tx.load_case(case.case_id)
            assert tx.load_case("tax-2026-999999") is None
        assert loaded == case
        assert loaded is not None and codec.dumps(loaded) == codec.dumps(case)

    def test_store_saves_real_lifecycles_whose_audit_logs_replay_to_them(self, store: Store, rules: Rules) -> None:
        lifecycles = {
            "tax-2026-000123": routine_lifecycle(),
            "tax-2026-000124": breach_and_escalation("tax-2026-000124"),
            "tax-2026-000200": arrears_to_court(),
        }
        for case_id, steps in lifecycles.items():
            saved = drive(store, rules, case_id, steps)
            with store.transaction() as tx:
                stored = tx.load_case(case_id)
                entries = tx.audit_entries(case_id)
            assert stored == saved[-1]
            assert [e.seq for e in entries] == list(range(1, len(steps) + 1))
            assert replay_case(entries, rules) == stored
        with store.transaction() as tx:
            breached = tx.load_case("tax-2026-000124")
        assert breached is not None and breached.tier is Tier.DIFFICULT and breached.stage is Stage.CLOSED

    def test_store_refuses_a_second_save_of_the_same_version_with_conflict(self, store: Store) -> None:
        save(store, make_case("tax-2026-000002"))
        with store.transaction() as tx:
            first = tx.load_case("tax-2026-000002")
        with store.transaction() as tx:
            second = tx.load_case("tax-2026-000002")
        assert first is not None and second is not None
        save(store, first.evolve(version=2, stage=Stage.ACCEPTED))
        with pytest.raises(Conflict), store.transaction() as tx:
            tx.load_case("tax-2026-000002")
            tx.save_case(second.evolve(version=2, owner=Department.MEDINS))
        with pytest.raises(Conflict), store.transaction() as tx:  # saved blind, checked at commit
            tx.save_case(second.evolve(version=2, owner=Department.MEDINS))
        with store.transaction() as tx:
            kept = tx.load_case("tax-2026-000002")
        assert kept is not None and (kept.version, kept.stage, kept.owner) == (2, Stage.ACCEPTED, Department.HRSS)

    def test_store_reports_an_unreadable_case_document_as_a_store_error(self, store: Store) -> None:
        save(store, make_case("tax-2026-000013"))
        with store.engine.begin() as connection:
            connection.execute(update(cases).where(cases.c.county == store.county, cases.c.case_id == "tax-2026-000013")
                               .values(document='{"case_id": "tax-2026-000013", "stage": "limbo"}'))  # fmt: skip
        with pytest.raises(StoreError, match="unreadable case document") as caught, store.transaction() as tx:
            tx.load_case("tax-2026-000013")
        assert not isinstance(caught.value, Conflict | Unavailable)

    def test_store_refuses_registering_a_case_twice(self, store: Store) -> None:
        save(store, make_case("tax-2026-000003"))
        with pytest.raises(Conflict), store.transaction() as tx:
            tx.save_case(make_case("tax-2026-000003", owner="medins"))

    def test_store_reads_its_own_writes_and_chains_versions_in_one_transaction(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.save_case(make_case("tax-2026-000004"))
            assert tx.load_case("tax-2026-000004") == make_case("tax-2026-000004")
            tx.save_case(make_case("tax-2026-000004", version=2, stage=Stage.ACCEPTED))
            with pytest.raises(Conflict):
                tx.save_case(make_case("tax-2026-000004", version=4))
        with store.transaction() as tx:
            assert tx.load_case("tax-2026-000004") == make_case("tax-2026-000004", version=2, stage=Stage.ACCEPTED)
            assert set(tx.load_cases(["tax-2026-000004", "tax-2026-000404"])) == {"tax-2026-000004"}

    def test_store_rolls_back_everything_when_the_block_raises(self, store: Store) -> None:
        message_id = str(uuid.uuid4())
        with pytest.raises(RuntimeError), store.transaction() as tx:
            tx.save_case(make_case("tax-2026-000005"))
            tx.mark_processed(message_id, "tax-2026-000005", "applied")
            tx.add_outbox([outbox_message(1)])
            tx.flush()  # written, then undone
            raise RuntimeError("the batch failed half way")
        with store.transaction() as tx:
            assert tx.load_case("tax-2026-000005") is None
            assert tx.seen([message_id]) == set()
        assert store.pending_outbox(10) == []

    # -- idempotency -------------------------------------------------------------------------

    def test_store_sees_a_processed_message_id_and_refuses_marking_it_again(self, store: Store) -> None:
        applied, refused, fresh = (str(uuid.uuid4()) for _ in range(3))
        with store.transaction() as tx:
            tx.mark_processed(applied, "tax-2026-000006", "applied")
            assert tx.seen([applied, fresh]) == {applied}  # this transaction's own marks count
            with pytest.raises(Conflict):
                tx.mark_processed(applied, "tax-2026-000006", "applied")
            tx.mark_processed(refused, None, "refused:not_permitted")
        with store.transaction() as tx:
            assert tx.seen([applied, refused, fresh]) == {applied, refused}
        with pytest.raises(Conflict), store.transaction() as tx:
            tx.mark_processed(applied, "tax-2026-000006", "applied")

    # -- deadlines ---------------------------------------------------------------------------

    def test_store_keeps_deadline_rows_in_line_with_the_case(self, store: Store) -> None:
        sign = deadline("routine.sign", "hrss", NOW + timedelta(days=1), warn=NOW + timedelta(hours=20))
        handle = deadline("routine.handle", "hrss", NOW + timedelta(days=10))
        save(store, make_case("tax-2026-000007", deadlines=[sign, handle]))
        warned = Deadline(**{**sign.__dict__, "warned": True})
        feedback = deadline("routine.feedback", "tax", NOW + timedelta(days=2))
        with store.transaction() as tx:
            case = tx.load_case("tax-2026-000007")
            assert case is not None
            tx.save_case(case.evolve(version=2, deadlines=(warned, feedback)))  # handle gone
        with store.transaction() as tx:
            rows = tx.claim_due_deadlines(NOW + timedelta(days=365), 100)
        assert rows == [("tax-2026-000007", warned), ("tax-2026-000007", feedback)]
        save(store, make_case("tax-2026-000007", version=3, deadlines=[]))  # saved without loading
        with store.transaction() as tx:
            assert tx.claim_due_deadlines(NOW + timedelta(days=365), 100) == []

    def test_store_claims_only_what_is_due_in_fire_time_order(self, store: Store) -> None:
        late = deadline("routine.handle", "hrss", NOW - timedelta(hours=1))
        warn_now = deadline("routine.sign", "medins", NOW + timedelta(days=1), warn=NOW - timedelta(hours=2))
        warned = Deadline(**{**warn_now.__dict__, "warned": True})  # fires at due now: not yet
        future = deadline("routine.feedback", "tax", NOW + timedelta(hours=1))
        save(store,
             make_case("tax-2026-000008", deadlines=[late, future]),
             make_case("tax-2026-000009", deadlines=[warn_now]),
             make_case("tax-2026-000010", deadlines=[warned]))  # fmt: skip
        with store.transaction() as tx:
            due = tx.claim_due_deadlines(NOW, 10)
            first = tx.claim_due_deadlines(NOW, 1)
        assert due == [("tax-2026-000009", warn_now), ("tax-2026-000008", late)]
        assert first == due[:1]
        assert [next_fire_time(d) for _, d in due] == sorted(next_fire_time(d) for _, d in due)

    def test_store_next_fire_time_is_the_earliest_warning_or_deadline_of_the_county(self, store: Store) -> None:
        assert store.next_fire_time() is None
        handle = deadline("routine.handle", "hrss", NOW + timedelta(hours=5))
        sign = deadline("routine.sign", "medins", NOW + timedelta(days=1), warn=NOW + timedelta(hours=2))
        save(store, make_case("tax-2026-000011", deadlines=[handle]), make_case("tax-2026-000012", deadlines=[sign]))
        assert store.next_fire_time() == NOW + timedelta(hours=2)  # sign's warning
        assert store.for_county("340399").next_fire_time() is None  # another county's scheduler sees none of it
        save(store, make_case("tax-2026-000012", version=2, deadlines=[]))
        assert store.next_fire_time() == NOW + timedelta(hours=5)

    def test_store_claim_query_reads_the_fire_time_index(self, store: Store) -> None:
        keys = ("routine.sign", "routine.handle", "routine.feedback", "difficult.convene", "arrears.confirm")
        future = [
            make_case(f"tax-2026-{n:06d}", deadlines=[
                deadline(key, "hrss", NOW + timedelta(days=30, minutes=n)) for key in keys
            ])  # fmt: skip
            for n in range(100, 2100)
        ]
        due = [make_case(f"hrss-2026-{n:06d}", deadlines=[deadline("routine.sign", "hrss", NOW - timedelta(minutes=n))])
               for n in range(3)]  # fmt: skip
        save(store, *future, *due)
        with store.transaction() as tx:
            claimed = tx.claim_due_deadlines(NOW, 100)
        assert [case_id for case_id, _ in claimed] == ["hrss-2026-000002", "hrss-2026-000001", "hrss-2026-000000"]
        plan = self.explain(store, queries.claim_due(store.county, NOW, 100, skip_locked=False))
        assert self.FIRE_INDEX in plan, plan

    # -- outbox ------------------------------------------------------------------------------

    def test_store_outbox_hands_out_unsent_rows_in_id_order_until_marked_sent(self, store: Store) -> None:
        messages = [outbox_message(n, NOW + timedelta(seconds=n)) for n in range(3)]
        with store.transaction() as tx:
            tx.add_outbox(messages[:2])
            tx.add_outbox(messages[2:])
        pending = store.pending_outbox(10)
        assert [(r.body, dict(r.headers), r.message_id) for r in pending] == [
            (m.body, dict(m.headers), m.message_id) for m in messages
        ]
        assert [r.id for r in pending] == sorted(r.id for r in pending)
        assert store.outbox_backlog() == (3, NOW.astimezone(UTC))
        store.mark_sent([pending[0].id, pending[2].id])
        assert [r.message_id for r in store.pending_outbox(10)] == [messages[1].message_id]
        assert store.outbox_backlog() == (1, (NOW + timedelta(seconds=1)).astimezone(UTC))
        assert store.pending_outbox(0) == []

    # -- counters ----------------------------------------------------------------------------

    def test_store_case_sequence_is_unique_under_concurrent_threads(self, store: Store) -> None:
        got: list[int] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def take(times: int) -> None:
            try:
                for _ in range(times):
                    with store.transaction() as tx:
                        number = tx.next_case_sequence("tax", 2026)
                    with lock:
                        got.append(number)
            except BaseException as error:  # reported below, not lost in the thread
                errors.append(error)

        threads = [threading.Thread(target=take, args=(10,)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sorted(got) == list(range(1, 61))
        with store.transaction() as tx:
            assert tx.next_case_sequence("tax", 2027) == 1
            assert tx.next_case_sequence("hrss", 2026) == 1

    def test_store_case_sequence_reserves_whole_blocks_under_concurrent_threads(self, store: Store) -> None:
        blocks: list[range] = []
        lock = threading.Lock()

        def take(times: int) -> None:
            for _ in range(times):
                with store.transaction() as tx:
                    last = tx.next_case_sequence("petition", 2026, count=7)
                with lock:
                    blocks.append(range(last - 6, last + 1))

        threads = [threading.Thread(target=take, args=(5,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        numbers = sorted(n for block in blocks for n in block)
        assert numbers == list(range(1, 4 * 5 * 7 + 1))  # contiguous blocks, none shared, no gap
        with store.transaction() as tx:
            assert tx.next_case_sequence("petition", 2026) == 4 * 5 * 7 + 1
            with pytest.raises(ValueError):
                tx.next_case_sequence("petition", 2026, count=0)

    # -- audit -------------------------------------------------------------------------------

    def _chain(self, store: Store, rules: Rules) -> list[Any]:
        drive(store, rules, "tax-2026-000123", routine_lifecycle())
        with store.transaction() as tx:
            return tx.audit_entries("tax-2026-000123")

    def _verify(self, store: Store, *args: str) -> Any:
        url = store.engine.url.render_as_string(hide_password=False)
        return CliRunner().invoke(audit, ["verify", "--database-url", url, "--county", store.county, *args])

    def test_store_audit_chain_verifies_and_the_cli_says_ok(self, store: Store, rules: Rules) -> None:
        entries = self._chain(store, rules)
        assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
        assert store.verify_audit() == [] and store.verify_audit("tax-2026-000123") == []
        result = self._verify(store)
        assert result.exit_code == 0, result.output
        assert "OK" in result.output and "1 chain(s), 5 entr" in result.output

    @pytest.mark.parametrize("tampering", ["body", "hash", "delete", "truncate"])
    def test_store_audit_verify_names_the_first_tampered_entry(
        self, store: Store, rules: Rules, tampering: str
    ) -> None:
        entries = self._chain(store, rules)
        target = entries[-1] if tampering == "truncate" else entries[2]
        where = (audit_log.c.county == store.county, audit_log.c.case_id == target.case_id,
                 audit_log.c.seq == target.seq)  # fmt: skip
        with store.engine.begin() as connection:
            if tampering == "body":
                connection.execute(update(audit_log).where(*where).values(body=target.body.replace(b"upheld", b"not_upheld")))
            elif tampering == "hash":
                connection.execute(update(audit_log).where(*where).values(hash="f" * 64))
            else:
                connection.execute(delete(audit_log).where(*where))
        (found,) = store.verify_audit()
        assert (found.case_id, found.seq) == (target.case_id, target.seq)
        assert found.message_id == (target.message_id if tampering in ("body", "hash") else None)
        result = self._verify(store, "--case", target.case_id)
        assert result.exit_code == 1, result.output
        assert f"case {target.case_id} seq {target.seq}" in result.output
        if tampering in ("body", "hash"):
            assert target.message_id in result.output

    def test_store_audit_appends_continue_the_chain_across_transactions(self, store: Store) -> None:
        with store.transaction() as tx:
            for n in range(2):
                tx.append_audit("tax-2026-000011", message_id=f"m{n}", type="case.accepted", source="hrss",
                                trigger="message", occurred_at=NOW, recorded_at=NOW, body=b"{}")  # fmt: skip
        with store.transaction() as tx:
            tx.append_audit("tax-2026-000011", message_id="m2", type="case.replied", source="hrss",
                            trigger="replay", occurred_at=NOW, recorded_at=NOW, body=b"{}",
                            note="replayed after fixing the key", actor="ops")  # fmt: skip
            entries = tx.audit_entries("tax-2026-000011")
        assert [(e.seq, e.message_id) for e in entries] == [(1, "m0"), (2, "m1"), (3, "m2")]
        assert (entries[2].actor, entries[2].note) == ("ops", "replayed after fixing the key")
        assert store.audit_report().entries == 3 and store.verify_audit() == []
        with store.engine.begin() as connection:  # a forged note breaks the chain
            connection.execute(update(audit_log).where(audit_log.c.seq == 3, audit_log.c.county == store.county)
                               .values(note="nobody replayed this"))  # fmt: skip
        assert [t.seq for t in store.verify_audit("tax-2026-000011")] == [3]

    def test_store_audit_head_without_entries_is_reported(self, store: Store) -> None:
        with store.transaction() as tx:
            tx.append_audit("tax-2026-000012", message_id="m0", type="case.accepted", source="hrss",
                            trigger="message", occurred_at=NOW, recorded_at=NOW, body=b"{}")  # fmt: skip
        with store.engine.begin() as connection:
            connection.execute(delete(audit_log).where(audit_log.c.county == store.county))
        (found,) = store.verify_audit()
        assert (found.case_id, found.seq) == ("tax-2026-000012", 1)
        with store.engine.begin() as connection:
            connection.execute(delete(audit_heads).where(audit_heads.c.county == store.county))
        assert store.verify_audit() == []

    # -- listing -----------------------------------------------------------------------------

    def test_store_lists_cases_a_department_may_see_by_filter_in_keyset_pages(self, store: Store) -> None:
        save(store,
             make_case("tax-2026-000021", owner="hrss", intake="tax"),
             make_case("tax-2026-000022", owner="medins", participants=["hrss"], stage=Stage.ACCEPTED),
             make_case("petition-2026-000023", owner="tax", intake="petition", coordinator="hrss",
                       tier=Tier.DIFFICULT, deadlines=[deadline("difficult.handle", "tax", NOW - timedelta(hours=1))]),
             make_case("court-2026-000024", owner="court", intake="court"))  # fmt: skip
        with store.transaction() as tx:
            def ids(**filters: Any) -> list[str]:
                return [c.case_id for c in tx.list_cases(**filters)]

            assert ids(department="hrss") == ["petition-2026-000023", "tax-2026-000021", "tax-2026-000022"]
            assert ids(department="hrss", limit=2) == ["petition-2026-000023", "tax-2026-000021"]
            assert ids(department="hrss", after="tax-2026-000021") == ["tax-2026-000022"]
            assert ids(department="court") == ["court-2026-000024"]
            assert ids(stage="accepted") == ["tax-2026-000022"]
            assert ids(tier="difficult") == ["petition-2026-000023"]
            assert ids(overdue_at=NOW) == ["petition-2026-000023"]
            assert ids(overdue_at=NOW - timedelta(hours=2)) == []
            assert ids(department="tax", stage="routed", tier="routine") == ["tax-2026-000021"]
            (case,) = tx.list_cases(department="medins")
        assert case == make_case("tax-2026-000022", owner="medins", participants=["hrss"], stage=Stage.ACCEPTED)

    def test_store_keeps_counties_apart(self, store: Store) -> None:
        other = store.for_county("340321")
        save(store, make_case("tax-2026-000031", deadlines=[deadline("routine.sign", "hrss", NOW - timedelta(hours=1))]))
        save(other, make_case("tax-2026-000031", owner="medins"))  # the same id, another county
        with store.transaction(read_only=True) as here, other.transaction(read_only=True) as there:
            mine, theirs = here.load_case("tax-2026-000031"), there.load_case("tax-2026-000031")
            assert mine is not None and theirs is not None and mine.owner != theirs.owner
        with other.transaction() as there:
            assert there.claim_due_deadlines(NOW, 10) == []
        with store.transaction() as here:
            assert [c for c, _ in here.claim_due_deadlines(NOW, 10)] == ["tax-2026-000031"]

    # -- gauges ------------------------------------------------------------------------------

    def test_store_ledger_snapshot_counts_what_the_gauges_show(self, store: Store) -> None:
        soon = NOW + timedelta(hours=30)  # Thursday 16:00, before the next working day ends
        save(store,
             make_case("tax-2026-000041", deadlines=[deadline("routine.sign", "hrss", soon)],
                       stage_since=NOW - timedelta(hours=5)),
             make_case("tax-2026-000042", stage_since=NOW - timedelta(hours=2)),
             make_case("tax-2026-000043", stage=Stage.ACCEPTED, owner="medins", tier=Tier.DIFFICULT,
                       deadlines=[deadline("difficult.handle", "medins", NOW - timedelta(hours=1), tier=Tier.DIFFICULT),
                                  deadline("difficult.convene", "taskforce", NOW + timedelta(days=9), tier=Tier.DIFFICULT)]),
             make_case("petition-2026-000044", kind=CaseKind.PETITION, intake="petition"),
             make_case("tax-2026-000045", stage=Stage.REPORTED),
             make_case("tax-2026-000046", stage=Stage.CONVENING, tier=Tier.MAJOR),
             make_case("tax-2026-000047", stage=Stage.CLOSED))  # fmt: skip
        with store.transaction() as tx:
            tx.add_outbox([outbox_message(1, NOW - timedelta(minutes=5)), outbox_message(2)])
            tx.save_batch("tax-20261124-0001", {
                "batch_id": "tax-20261124-0001", "source": "tax",
                "received_at": (NOW - timedelta(days=1)).isoformat(), "due_at": (NOW - timedelta(hours=1)).isoformat(),
                "completed_at": None,
                "parts": {"hrss": {"amounts": {"r1": "10.00"}, "receipt": None},
                          "medins": {"amounts": {"r2": "5.00"}, "receipt": {"received": 1}}},
            })  # fmt: skip
        snapshot = store.ledger_snapshot(NOW)
        assert sorted(snapshot.cases_open) == [
            ("difficult", "medins", "handle", 1),
            ("major", "lgo", "convene", 1),
            ("routine", "hrss", "accept", 1),
            ("routine", "hrss", "sign", 2),
            ("routine", "tax", "feedback", 1),
        ]
        assert sorted(snapshot.cases_unsigned) == [("routine", "hrss", 3)]
        assert [(d, t.astimezone(UTC)) for d, t in snapshot.unsigned_oldest_routed_at] == [
            ("hrss", (NOW - timedelta(hours=5)).astimezone(UTC))
        ]
        assert snapshot.deadlines_due_next_workday == [("routine", "hrss", "sign", 1)]
        assert snapshot.deadlines_overdue == [("difficult", "medins", "handle", 1)]
        assert (snapshot.outbox_pending, snapshot.outbox_oldest_created_at) == (2, (NOW - timedelta(minutes=5)).astimezone(UTC))
        assert snapshot.payment_batches_awaiting_receipt == [("hrss", 1)]
        assert snapshot.payment_batches_overdue == [("hrss", 1)]
        registry = CollectorRegistry()  # the scrape-time gauges read this store as their source
        register_ledger_collector(registry, store, lambda: NOW)
        assert registry.get_sample_value("sihub_ledger_snapshot_success") == 1
        assert registry.get_sample_value("sihub_cases_open", {"tier": "routine", "department": "hrss", "stage": "sign"}) == 2
        assert registry.get_sample_value("sihub_case_unsigned_oldest_seconds", {"department": "hrss"}) == 5 * 3600
        assert registry.get_sample_value("sihub_outbox_pending") == 2

    # -- payment batches and replays -----------------------------------------------------------

    def test_store_payment_batch_state_round_trips_and_updates(self, store: Store) -> None:
        state: dict[str, Any] = {
            "batch_id": "tax-20261126-0001", "source": "tax", "collected_on": "2026-11-26",
            "received_at": NOW.isoformat(), "due_at": (NOW + timedelta(days=1)).isoformat(), "completed_at": None,
            "parts": {"hrss": {"amounts": {"r-000001": "1080.00"}, "receipt": None, "reconciled": None,
                               "problem": None}},
        }  # fmt: skip
        with store.transaction() as tx:
            assert tx.load_batch("tax-20261126-0001") is None
            tx.save_batch("tax-20261126-0001", state)
        receipted = {**state, "completed_at": (NOW + timedelta(hours=3)).isoformat(),
                     "parts": {"hrss": {**state["parts"]["hrss"], "receipt": {"received": 1}, "reconciled": True}}}
        with store.transaction() as tx:
            assert tx.load_batch("tax-20261126-0001") == state
            tx.save_batch("tax-20261126-0001", receipted)
        with store.transaction() as tx:
            assert tx.load_batch("tax-20261126-0001") == receipted
        assert store.ledger_snapshot(NOW + timedelta(days=2)).payment_batches_awaiting_receipt == []
        with pytest.raises(ValueError, match="due_at"), store.transaction() as tx:
            tx.save_batch("tax-20261126-0002", {"source": "tax", "received_at": NOW.isoformat(), "parts": {}})

    def test_store_records_who_replayed_a_message_and_why(self, store: Store) -> None:
        message_id = str(uuid.uuid4())
        first = store.record_replay(message_id, actor="ops", reason="key rotated", outcome="applied", replayed_at=NOW)
        with store.transaction() as tx:
            second = tx.record_replay(message_id, actor="lead", reason="again", outcome="duplicate", replayed_at=NOW)
        records = store.replays_of(message_id)
        assert [(r.id, r.actor, r.reason, r.outcome) for r in records] == [
            (first, "ops", "key rotated", "applied"), (second, "lead", "again", "duplicate")
        ]
        assert records[0].replayed_at == NOW

    def test_store_purges_sent_outbox_rows_and_old_message_ids(self, store: Store) -> None:
        old = str(uuid.uuid4())
        with store.transaction() as tx:
            tx.add_outbox([outbox_message(1), outbox_message(2)])
            tx.mark_processed(old, None, "applied")
        sent, unsent = store.pending_outbox(10)
        store.mark_sent([sent.id], sent_at=NOW)
        removed_rows, removed_ids = store.purge(datetime.now(UTC) + timedelta(seconds=1))
        assert removed_rows == 1 and removed_ids >= 1
        assert [r.id for r in store.pending_outbox(10)] == [unsent.id]
        with store.transaction() as tx:
            assert tx.seen([old]) == set()

    # -- schema ------------------------------------------------------------------------------

    def test_store_migrations_create_exactly_the_schema_of_the_code(self, store: Store) -> None:
        names = set(inspect(store.engine).get_table_names())
        assert {t.name for t in metadata.sorted_tables} | {"alembic_version"} <= names
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
        assert differences == []
