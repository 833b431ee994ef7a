"""Group commit of HTTP ingress: concurrent callers share a transaction and keep their own verdicts."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from hub.api.app import create_app
from hub.api.batcher import GroupCommit
from hub.api.ingress import submit
from hub.api.problems import ProblemError
from hub.api.registration import CaseNumbers
from hub.runtime import HubRuntime
from hub.service import Inbound, Verdict

from .helpers import auth, body, envelope, registration

#: Long enough that callers released together by a barrier land in one batch on a busy machine.
GATHER = timedelta(milliseconds=200)


def _registration(case_id: str, **payload_changes: object) -> Inbound:
    """A tax window's registration of ``case_id`` as HTTP ingress hands it to the service."""
    message = envelope("case.registered", case_id=case_id, source="tax")
    message["payload"].update(payload_changes)
    return Inbound(body=body(message), sender="tax", transport="http")


def _all_at_once(commit: GroupCommit, messages: Sequence[Inbound]) -> list[Verdict | BaseException]:
    """Submit ``messages`` from one thread each, released together; each caller's verdict or error."""
    barrier = threading.Barrier(len(messages))

    def call(message: Inbound) -> Verdict | BaseException:
        barrier.wait()
        try:
            return commit.submit(message)
        except Exception as error:
            return error

    with ThreadPoolExecutor(len(messages)) as pool:
        return list(pool.map(call, messages))


def _verdicts(answers: Sequence[Verdict | BaseException]) -> list[Verdict]:
    assert all(isinstance(a, Verdict) for a in answers), answers
    return [a for a in answers if isinstance(a, Verdict)]


def test_group_commit_applies_concurrent_registrations_in_shared_transactions(runtime: HubRuntime) -> None:
    commit = GroupCommit.over(runtime, linger=GATHER)
    messages = [_registration(f"tax-2026-{n:06d}") for n in range(1, 13)]

    answers = _verdicts(_all_at_once(commit, messages))
    commit.stop()

    assert max(commit.batch_sizes) > 1
    assert sum(commit.batch_sizes) == len(messages)
    assert [a.outcome for a in answers] == ["applied"] * len(messages)
    # Each caller gets the verdict of its own message, not a neighbour's.
    assert [a.envelope.case_id for a in answers if a.envelope] == [f"tax-2026-{n:06d}" for n in range(1, 13)]
    with runtime.store.transaction() as tx:
        stored = tx.load_cases([f"tax-2026-{n:06d}" for n in range(1, 13)])
    assert len(stored) == len(messages)


def test_group_commit_refuses_only_the_bad_message_of_a_shared_batch(runtime: HubRuntime) -> None:
    commit = GroupCommit.over(runtime, linger=GATHER)
    good = [_registration(f"tax-2026-{n:06d}") for n in range(1, 5)]
    bad = _registration("tax-2026-000009", category="no_such_category")

    answers = _verdicts(_all_at_once(commit, [*good[:2], bad, *good[2:]]))
    commit.stop()

    assert max(commit.batch_sizes) > 1
    assert [a.outcome for a in answers] == ["applied", "applied", "rejected", "applied", "applied"]
    assert answers[2].reason is not None and answers[2].reason.value == "schema_violation"


def test_group_commit_wakes_the_relay_after_a_commit(runtime: HubRuntime) -> None:
    commit = GroupCommit.over(runtime)
    runtime.outbox_wake.clear()

    verdict = commit.submit(_registration("tax-2026-000001"))
    commit.stop()

    assert verdict.outcome == "applied"
    assert runtime.outbox_wake.is_set()


class _PoisonedApply:
    """Applies batches like the service, but fails any batch holding the poisoned body."""

    def __init__(self, poison: bytes) -> None:
        self.poison = poison
        self.batches: list[list[bytes]] = []

    def __call__(self, batch: Sequence[Inbound]) -> list[Verdict]:
        self.batches.append([message.body for message in batch])
        if any(message.body == self.poison for message in batch):
            raise RuntimeError("a bug met while applying the poisoned message")
        return [Verdict("applied", detail=message.body.decode()) for message in batch]


def test_group_commit_fails_only_the_request_that_fails_when_applied_alone() -> None:
    messages = [Inbound(body=f"m{n}".encode(), sender="tax", transport="http") for n in range(6)]
    apply = _PoisonedApply(poison=b"m3")
    commit = GroupCommit(apply, linger=GATHER)

    answers = _all_at_once(commit, messages)
    commit.stop()

    assert isinstance(answers[3], RuntimeError)
    others = [a for i, a in enumerate(answers) if i != 3]
    assert [a.detail for a in others if isinstance(a, Verdict)] == ["m0", "m1", "m2", "m4", "m5"]
    # The shared batch failed and was re-applied one message at a time.
    assert any(len(batch) > 1 for batch in apply.batches)
    assert [b"m3"] in apply.batches


def test_group_commit_answers_every_caller_of_a_batch_503_when_the_ledger_is_locked(runtime: HubRuntime) -> None:
    path = str(runtime.settings.database_url).removeprefix("sqlite:///")
    commit = GroupCommit(lambda batch: submit(runtime, batch), linger=GATHER)
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")  # another writer holds the ledger past the busy timeout
    try:
        answers = _all_at_once(commit, [_registration(f"tax-2026-{n:06d}") for n in range(1, 5)])
    finally:
        holder.rollback()
        holder.close()
    commit.stop()

    assert all(isinstance(a, ProblemError) and a.problem.status == 503 for a in answers), answers
    assert max(commit.batch_sizes) > 1


def test_a_stopped_group_commit_takes_no_more_messages(runtime: HubRuntime) -> None:
    commit = GroupCommit.over(runtime)
    commit.stop()

    with pytest.raises(RuntimeError, match="stopped"):
        commit.submit(_registration("tax-2026-000001"))


def test_the_registration_answer_is_the_view_a_later_read_gives(client: TestClient) -> None:
    registered = client.post("/v1/cases", json=registration(), headers=auth("tax"))
    read_back = client.get(registered.headers["location"], headers=auth("tax"))

    assert registered.status_code == 201
    # Built from the verdict, not read back: it must still say exactly what the ledger says.
    assert registered.json() == read_back.json()
    assert [entry["type"] for entry in registered.json()["timeline"]] == ["case.registered"]


def test_the_app_stops_its_group_commit_on_shutdown(runtime: HubRuntime) -> None:
    app = create_app(runtime)
    with TestClient(app) as client:
        assert client.post("/v1/cases", json=registration(), headers=auth("tax")).status_code == 201

    with pytest.raises(RuntimeError, match="stopped"):
        app.state.group_commit.submit(_registration("tax-2026-000099"))


def test_submit_async_shares_batches_and_survives_a_caller_that_goes_away(runtime: HubRuntime) -> None:
    commit = GroupCommit.over(runtime, linger=GATHER)

    async def scenario() -> tuple[list[Verdict], Verdict]:
        # A caller cancelled while its batch is pending (a client that disconnected): the worker must
        # still answer the others and apply the cancelled caller's message exactly once.
        gone = asyncio.ensure_future(commit.submit_async(_registration("tax-2026-000100")))
        others = [commit.submit_async(_registration(f"tax-2026-{n:06d}")) for n in range(101, 106)]
        await asyncio.sleep(0)
        gone.cancel()
        answers = await asyncio.gather(*others)
        after = await commit.submit_async(_registration("tax-2026-000106"))
        return list(answers), after

    answers, after = asyncio.run(scenario())
    commit.stop()

    assert [a.outcome for a in answers] == ["applied"] * 5
    assert [a.envelope.case_id for a in answers if a.envelope] == [f"tax-2026-{n:06d}" for n in range(101, 106)]
    assert after.outcome == "applied"
    assert max(commit.batch_sizes) > 1
    with runtime.store.transaction() as tx:
        stored = tx.load_cases([f"tax-2026-{n:06d}" for n in range(100, 107)])
    assert sorted(stored) == [f"tax-2026-{n:06d}" for n in range(100, 107)]


def test_case_numbers_hand_out_reserved_numbers_without_waiting_and_never_twice(runtime: HubRuntime) -> None:
    numbers = CaseNumbers(runtime.store, block=3)
    assert numbers.take_reserved("tax", 2026) is None  # nothing reserved yet: the caller must go to the ledger
    first = numbers.take("tax", 2026)
    following = [numbers.take_reserved("tax", 2026), numbers.take_reserved("tax", 2026)]
    assert [first, *following] == [1, 2, 3]
    assert numbers.take_reserved("tax", 2026) is None  # the block is used up
    assert numbers.take("tax", 2026) == 4
    # While another caller holds the reserve (refilling from the ledger), nobody waits on the event loop.
    with numbers._lock:
        assert numbers.take_reserved("tax", 2026) is None
    assert numbers.take_reserved("tax", 2026) == 5
