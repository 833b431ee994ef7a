"""The hub at work over a broker: the same scenarios on the in-process broker and on RabbitMQ."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.codes import Department
from hub.bus.types import AccessRefused
from hub.gate import DETAIL_HEADER, REASON_HEADER
from tests.integration.hubenv import (
    HubEnv,
    envelope,
    example,
    examples_dir,
    hub_env,
)

pytestmark = pytest.mark.integration

LIFECYCLE = [
    "case.registered",
    "case.accepted",
    "case.handled",
    "case.feedback_given",
    "case.closed",
]


@pytest.fixture(params=["memory", "rabbitmq"])
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HubEnv]:
    """A running hub with the default (legal) SLA policy."""
    yield from _hub(request, tmp_path)


def _hub(request: pytest.FixtureRequest, tmp_path: Path, **settings: object) -> Iterator[HubEnv]:
    yield from hub_env(request, tmp_path, "hub", **settings)


def _types(deliveries: list) -> list[str]:  # type: ignore[type-arg]
    return [json.loads(d.body)["type"] for d in deliveries]


def test_full_lifecycle_reaches_every_department_queue(hub: HubEnv) -> None:
    for name in LIFECYCLE:
        hub.send_envelope(envelope(name))
        hub.wait_idle()
    case = hub.case("tax-2026-000123")
    assert case.stage.value == "closed" and case.owner is Department.HRSS and case.version == 5
    hrss = _types(hub.drain("hrss"))
    tax = _types(hub.drain("tax"))
    assert hrss == ["case.routed", "case.feedback_given", "case.closed"]
    assert tax == ["case.routed", "case.accepted", "case.handled"]


def test_hub_messages_carry_source_hub_target_and_causation(hub: HubEnv) -> None:
    registered = envelope("case.registered")
    hub.send_envelope(registered)
    hub.wait_idle()
    (delivery,) = hub.drain("hrss")
    body = json.loads(delivery.body)
    assert delivery.routing_key == "hrss.case.routed"
    assert (body["source"], body["target"], body["case_id"]) == ("hub", "hrss", "tax-2026-000123")
    assert body["causation_id"] == str(registered.message_id)
    assert (
        body["payload"]["owner"] == "hrss"
        and "hrss.arrears_before_change" in body["payload"]["rule"]
    )


def test_duplicate_delivery_has_one_effect(hub: HubEnv) -> None:
    body = example("case.registered")
    hub.send(body, as_="tax")
    hub.send(body, as_="tax")
    hub.wait_idle()
    assert len(hub.drain("hrss")) == 1
    with hub.runtime.store.transaction() as tx:
        assert len(tx.audit_entries("tax-2026-000123")) == 1
    assert hub.case("tax-2026-000123").version == 1


def test_every_invalid_example_is_quarantined_with_its_reason(hub: HubEnv) -> None:
    expected: dict[str, str] = {}
    for path in sorted((examples_dir() / "invalid").glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        message = case["message"]
        sender = (
            message["source"]
            if message["source"] in {d.value for d in Department} - {"hub"}
            else "tax"
        )
        body = json.dumps(message, ensure_ascii=False).encode()
        hub.send(body, as_=sender, routing_key=f"{sender}.{message['type']}")
        expected[body.decode()] = case["reject_reason"]
    hub.wait_idle()
    quarantined = hub.drain_queue("sihub.quarantine", "hub")
    found = {d.body.decode(): d.headers[REASON_HEADER] for d in quarantined}
    assert found == expected
    assert all(d.headers[DETAIL_HEADER] for d in quarantined)
    assert all(d.headers["x-sihub-original-routing-key"] == d.routing_key for d in quarantined)


def test_message_without_user_id_is_refused(hub: HubEnv) -> None:
    hub.send(example("case.registered"), as_="tax", user_id=None)
    hub.wait_idle()
    (refused,) = hub.drain_queue("sihub.quarantine", "hub")
    assert refused.headers[REASON_HEADER] == "missing_user_id"
    assert hub.case("tax-2026-000123") is None


def test_forged_user_id_is_refused_by_the_broker(hub: HubEnv) -> None:
    with pytest.raises(AccessRefused):
        hub.send(
            example("case.registered"),
            as_="hrss",
            routing_key="hrss.case.registered",
            user_id="tax",
        )


def test_envelope_source_other_than_the_sender_is_refused(hub: HubEnv) -> None:
    # hrss publishes, as itself, a registration that claims to come from tax.
    hub.send(example("case.registered"), as_="hrss", routing_key="hrss.case.registered")
    hub.wait_idle()
    (refused,) = hub.drain_queue("sihub.quarantine", "hub")
    assert refused.headers[REASON_HEADER] == "source_mismatch"


def test_event_before_its_case_is_retried_then_applied(hub: HubEnv) -> None:
    hub.send_envelope(envelope("case.accepted"))
    hub.wait_for(lambda: hub.broker("hub").queue_depth("sihub.hub.in") == 0, what="first attempt")
    hub.send_envelope(envelope("case.registered"))
    hub.wait_for(
        lambda: (c := hub.case("tax-2026-000123")) is not None and c.stage.value == "accepted",
        what="the early acceptance to apply",
    )
    assert hub.drain_queue("sihub.quarantine", "hub", settle=0.3) == []


def test_event_for_a_case_that_never_comes_is_quarantined_after_retries(hub: HubEnv) -> None:
    hub.send_envelope(envelope("case.transferred"))
    hub.wait_for(
        lambda: hub.broker("hub").queue_depth("sihub.quarantine") == 1,
        timeout=20,
        what="quarantine after retries",
    )
    (refused,) = hub.drain_queue("sihub.quarantine", "hub")
    assert refused.headers[REASON_HEADER] == "precondition_failed"
    assert "tax-2026-000124" in refused.headers[DETAIL_HEADER]


@pytest.fixture(params=["memory", "rabbitmq"])
def fast_hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HubEnv]:
    """A hub whose routine sign-for limit is two seconds."""
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[deadlines]\n"routine.sign" = "2s"\n"difficult.convene" = "1h"\n\n[warnings]\nbefore = "50%"\n'
    )
    yield from _hub(request, tmp_path, sla_policy=policy)


def test_unsigned_case_breaches_and_escalates_to_the_task_force(fast_hub: HubEnv) -> None:
    fast_hub.send_envelope(envelope("case.registered"))
    fast_hub.wait_for(
        lambda: (c := fast_hub.case("tax-2026-000123")) is not None and c.tier.value == "difficult",
        timeout=15,
        what="escalation",
    )
    fast_hub.wait_idle()
    case = fast_hub.case("tax-2026-000123")
    assert case.stage.value == "convening" and case.breaches == 1
    assert _types(fast_hub.drain("taskforce")) == ["case.escalated"]
    hrss = _types(fast_hub.drain("hrss"))
    assert hrss == ["case.routed", "sla.warning", "sla.breached", "case.escalated"]
    with fast_hub.runtime.store.transaction() as tx:
        triggers = [e.trigger for e in tx.audit_entries("tax-2026-000123")]
    assert triggers == ["message", "deadline:routine.sign:hrss", "deadline:routine.sign:hrss"]
