"""The gate's order of effects and its resilience, on the in-process broker and SQLite."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts import build
from contracts.codes import Department
from hub.bus.factory import open_broker, reset_memory_broker
from hub.bus.types import Outgoing
from hub.config import load_settings
from hub.gate import REASON_HEADER, Gate
from hub.ids import uuid7
from hub.observe import Observer
from hub.runtime import build_service
from hub.service import HubService, Inbound, Verdict
from tests.integration.hubenv import envelope


class ExplodingService(HubService):
    """The real service, except that a body containing ``boom`` triggers a bug."""

    def process(self, batch: Sequence[Inbound]) -> list[Verdict]:
        if any(b"boom" in inbound.body for inbound in batch):
            raise RuntimeError("a bug in the hub")
        return super().process(batch)


def registration(case_id: str, summary: str = "summary") -> bytes:
    payload = envelope("case.registered").payload.model_copy(update={"summary": summary})
    return build(
        "case.registered",
        payload,
        source=Department.TAX,
        message_id=uuid7(),
        occurred_at=datetime.now(UTC),
        case_id=case_id,
    ).to_json()


@pytest.fixture
def service(tmp_path: Path) -> ExplodingService:
    reset_memory_broker()
    base = build_service(load_settings(None, database_url=f"sqlite:///{tmp_path / 'ledger.db'}"))
    return ExplodingService(base.store, base.rules, clock=lambda: datetime.now(UTC))


def test_a_message_that_makes_the_hub_fail_is_set_aside_and_the_rest_applied(
    service: ExplodingService,
) -> None:
    tax = open_broker("memory://tax@")
    bodies = [
        registration("tax-2026-000001"),
        registration("tax-2026-000002", "boom"),
        registration("tax-2026-000003"),
    ]
    tax.publisher().publish(
        [Outgoing("sihub.in", "tax.case.registered", b, user_id="tax") for b in bodies]
    )
    hub = open_broker("memory://")
    gate = Gate(lambda: hub, service, Observer(None), stop=threading.Event())
    consumer, publisher = hub.consumer("sihub.hub.in"), hub.publisher()
    gate.handle(consumer.fetch(10, 1.0), consumer, publisher)
    with service.store.transaction() as tx:
        assert [tx.load_case(f"tax-2026-00000{n}") is not None for n in (1, 2, 3)] == [
            True,
            False,
            True,
        ]
    assert hub.queue_depth("sihub.hub.in") == 0  # nothing parked or left unacked for a loop
    quarantine = hub.consumer("sihub.quarantine")
    (poisoned,) = quarantine.fetch(10, 1.0)
    assert b"boom" in poisoned.body and poisoned.headers["x-first-death-reason"] == "rejected"


def test_a_refused_message_is_quarantined_before_it_is_acked(service: ExplodingService) -> None:
    tax = open_broker("memory://tax@")
    tax.publisher().publish(
        [Outgoing("sihub.in", "tax.case.registered", b"{not json", user_id="tax")]
    )
    hub = open_broker("memory://")
    gate = Gate(lambda: hub, service, Observer(None), stop=threading.Event())
    consumer, publisher = hub.consumer("sihub.hub.in"), hub.publisher()
    gate.handle(consumer.fetch(10, 1.0), consumer, publisher)
    (refused,) = hub.consumer("sihub.quarantine").fetch(10, 1.0)
    assert refused.body == b"{not json" and refused.headers[REASON_HEADER] == "malformed_json"
    assert refused.headers["x-sihub-original-user-id"] == "tax"


class FlakyDatabaseService(HubService):
    """The real service behind a database that is down for the first ``outage`` attempts."""

    outage = 3
    attempts = 0

    def process(self, batch: Sequence[Inbound]) -> list[Verdict]:
        from hub.store.store import Unavailable

        type(self).attempts += 1
        if type(self).attempts <= self.outage:
            raise Unavailable("connection refused (simulated outage)")
        return super().process(batch)


def test_a_database_outage_holds_the_batch_and_never_quarantines_it(
    service: ExplodingService,
) -> None:
    flaky = FlakyDatabaseService(service.store, service.rules, clock=service.clock)
    tax = open_broker("memory://tax@")
    tax.publisher().publish(
        [
            Outgoing(
                "sihub.in", "tax.case.registered", registration("tax-2026-000009"), user_id="tax"
            )
        ]
    )
    hub = open_broker("memory://")
    gate = Gate(lambda: hub, flaky, Observer(None), stop=threading.Event())
    consumer, publisher = hub.consumer("sihub.hub.in"), hub.publisher()
    gate.handle(consumer.fetch(10, 1.0), consumer, publisher)
    assert FlakyDatabaseService.attempts == 4  # three refusals, then the database was back
    with service.store.transaction() as tx:
        assert tx.load_case("tax-2026-000009") is not None
    assert hub.queue_depth("sihub.quarantine") == 0
