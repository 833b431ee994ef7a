"""Outbound work: validated before publishing, from Python, HTTP and the outbox directory."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import tenacity

from adapters.dedup import StateDB
from adapters.department import Options
from adapters.errors import OutboundInvalid, SendFailed
from adapters.hrss import HrssAdapter
from adapters.http import HttpServer, create_app
from adapters.outbound import compose, request
from adapters.samples import ID_NUMBER, registration
from adapters.sender import PUBLISH_RETRY, Sender
from adapters.sources import OutboxWatcher
from adapters.tax.adapter import TaxAdapter
from contracts import parse
from contracts.codes import Department, RejectReason
from contracts.messages.case import CaseAccepted
from hub.bus.memory import MemoryBroker
from hub.bus.topology import HUB_QUEUE, default_topology
from hub.bus.types import ConnectionLost, Delivery, Outgoing
from hub.domain.durations import COUNTY_TZ

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=COUNTY_TZ)
FAST = PUBLISH_RETRY.copy(wait=tenacity.wait_none())


@pytest.fixture
def broker() -> MemoryBroker:
    return MemoryBroker(default_topology())


@pytest.fixture
def hrss(broker: MemoryBroker, tmp_path: Path) -> HrssAdapter:
    return HrssAdapter(Sender(Department.HRSS, broker.connect("hrss"), retry=FAST), StateDB(tmp_path / "s.db"),
                       Options(), clock=lambda: NOW)


@pytest.fixture
def client(hrss: HrssAdapter) -> Iterator[httpx.Client]:
    server = HttpServer(create_app(hrss), "127.0.0.1", 0)
    server.start()
    with httpx.Client(base_url=server.url) as http:
        yield http
    server.stop()


def at_hub(broker: MemoryBroker) -> list[Delivery]:
    consumer = broker.connect("hub").consumer(HUB_QUEUE)
    got = consumer.fetch(100, 0.05)
    consumer.ack([d.delivery_tag for d in got])
    return got


def registration_json(**party: Any) -> dict[str, Any]:
    data = registration().model_dump(mode="json")
    data["party"].update(party)
    return data


def test_compose_fills_what_the_adapter_knows_and_validates_as_the_hub() -> None:
    envelope, body = compose(Department.TAX, request("case.registered", registration(), case_id="tax-2026-000007"),
                             now=NOW)

    assert UUID(str(envelope.message_id)).version == 7
    assert (envelope.source, envelope.schema_version, envelope.occurred_at) == (Department.TAX, 1, NOW)
    assert envelope.correlation_id == envelope.message_id
    assert parse(body) == envelope


@pytest.mark.parametrize(
    ("data", "reason", "detail"),
    [
        ({"type": "case.accepted", "payload": {"handler": ""}, "case_id": "tax-2026-000001"},
         RejectReason.SCHEMA_VIOLATION, "payload.handler"),
        ({"type": "case.registered", "payload": registration_json(id_number="110105194912310021"),
          "case_id": "tax-2026-000001"}, RejectReason.INVALID_ID_NUMBER, "payload.party.id_number: check digit should be X"),
        ({"type": "case.nonsense", "payload": {}}, RejectReason.UNKNOWN_TYPE, "type"),
        ({"type": "case.accepted", "payload": {"handler": "x"}, "case_id": "tax-2026-000001", "source": "hrss"},
         RejectReason.SOURCE_MISMATCH, "source"),
        ({"type": "case.registered", "payload": registration_json(), "case_id": "hrss-2026-000001"},
         RejectReason.SCHEMA_VIOLATION, "case_id"),
    ],
)
def test_compose_refuses_with_the_hubs_reason_code_and_field(data: dict[str, Any], reason: RejectReason,
                                                            detail: str) -> None:
    with pytest.raises(OutboundInvalid) as refused:
        compose(Department.TAX, data, now=NOW)
    assert refused.value.reason is reason
    assert detail in refused.value.detail


def test_send_publishes_as_the_department_with_its_user_id(hrss: HrssAdapter, broker: MemoryBroker) -> None:
    sent = hrss.send("case.accepted", CaseAccepted(handler="经办人 12"), case_id="tax-2026-000001")

    [got] = at_hub(broker)
    assert (got.routing_key, got.user_id, got.message_id) == ("hrss.case.accepted", "hrss", str(sent.message_id))
    assert got.headers["x-sihub-type"] == "case.accepted"
    assert parse(got.body) == sent


def test_http_outbound_answers_202_and_publishes(client: httpx.Client, broker: MemoryBroker) -> None:
    response = client.post("/outbound", json={"type": "case.accepted", "payload": {"handler": "经办人 12"},
                                              "case_id": "tax-2026-000001"})
    assert response.status_code == 202, response.text
    [got] = at_hub(broker)
    assert got.message_id == response.json()["message_id"]


def test_http_outbound_answers_422_with_reason_and_field_and_publishes_nothing(
    client: httpx.Client, broker: MemoryBroker
) -> None:
    bad = {"type": "case.registered", "payload": registration_json(id_number="110105194912310021"),
           "case_id": "hrss-2026-000001"}
    response = client.post("/outbound", json=bad)

    assert response.status_code == 422
    assert response.json() == {"reject_reason": "invalid_id_number",
                               "detail": "payload.party.id_number: check digit should be X"}
    assert ID_NUMBER not in response.text
    assert at_hub(broker) == []


def test_http_outbound_takes_a_full_envelope_too(client: httpx.Client, broker: MemoryBroker) -> None:
    envelope = {"message_id": "0193f6d2-8c1e-7b4a-9f00-5c1d2e3f4a5b", "type": "case.accepted", "schema_version": 1,
                "source": "hrss", "target": None, "case_id": "tax-2026-000001", "correlation_id": None,
                "causation_id": None, "occurred_at": "2026-11-27T09:30:00+08:00", "payload": {"handler": "x"}}
    assert client.post("/outbound", json=envelope).status_code == 202
    assert [d.message_id for d in at_hub(broker)] == ["0193f6d2-8c1e-7b4a-9f00-5c1d2e3f4a5b"]


def test_http_case_helpers_send_the_closed_loop_messages(client: httpx.Client, broker: MemoryBroker) -> None:
    case = "tax-2026-000001"
    assert client.post(f"/cases/{case}/sign", json={"handler": "经办人 12"}).status_code == 202
    assert client.post(f"/cases/{case}/object", json={"to": "medins", "reason": "属医保职责"}).status_code == 202
    assert client.post(f"/cases/{case}/report", json={"outcome": "upheld", "result": "已补缴"}).status_code == 202
    assert client.post(f"/cases/{case}/sign", json={"handler": ""}).status_code == 422

    sent = [parse(d.body) for d in at_hub(broker)]
    assert [s.type for s in sent] == ["case.accepted", "case.transferred", "case.handled"]
    assert sent[1].payload.objection is True and sent[1].payload.to is Department.MEDINS


class _DownBroker:
    """A broker that cannot be reached: every publish loses its connection."""

    class _Publisher:
        def publish(self, messages: Sequence[Outgoing], timeout_seconds: float = 30.0) -> None:
            raise ConnectionLost("connection refused")

        def close(self) -> None:
            pass

    def publisher(self) -> _Publisher:
        return self._Publisher()


def test_http_outbound_answers_503_when_the_broker_is_down(tmp_path: Path) -> None:
    adapter = HrssAdapter(Sender(Department.HRSS, _DownBroker(), retry=FAST), StateDB(tmp_path / "s.db"))  # type: ignore[arg-type]
    server = HttpServer(create_app(adapter), "127.0.0.1", 0)
    server.start()
    try:
        response = httpx.post(f"{server.url}/outbound", json={
            "type": "case.accepted", "payload": {"handler": "x"}, "case_id": "tax-2026-000001"})
    finally:
        server.stop()
    assert response.status_code == 503
    assert response.json()["reject_reason"] == "broker_unavailable"


def test_outbox_sends_valid_files_and_rejects_invalid_ones_with_a_reason(
    hrss: HrssAdapter, broker: MemoryBroker, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / "001-sign.json").write_text(json.dumps(
        {"type": "case.accepted", "payload": {"handler": "经办人"}, "case_id": "tax-2026-000001"}), "utf-8")
    (outbox / "002-bad.json").write_text(json.dumps({"type": "case.accepted", "payload": {}}), "utf-8")
    (outbox / "003-garbled.json").write_text("{not json", "utf-8")
    (outbox / ".004-writing.json").write_text("{", "utf-8")  # a file being written is left alone

    assert OutboxWatcher(hrss, outbox).scan_once() == (1, 2)

    assert sorted(p.name for p in (outbox / "sent").iterdir()) == ["001-sign.json"]
    sent_file = json.loads((outbox / "sent" / "001-sign.json").read_text("utf-8"))
    assert [d.message_id for d in at_hub(broker)] == [sent_file["message_id"]]  # the id written back was used
    rejected = outbox / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == [
        "002-bad.json", "002-bad.json.reason.txt", "003-garbled.json", "003-garbled.json.reason.txt"]
    assert (rejected / "002-bad.json.reason.txt").read_text("utf-8").startswith("schema_violation: ")
    assert (rejected / "003-garbled.json.reason.txt").read_text("utf-8").startswith("malformed_json: ")
    assert [p.name for p in outbox.glob("*.json")] == [".004-writing.json"]


def test_outbox_keeps_files_while_the_broker_is_down(tmp_path: Path) -> None:
    adapter = TaxAdapter(Sender(Department.TAX, _DownBroker(), retry=FAST), StateDB(tmp_path / "s.db"))  # type: ignore[arg-type]
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / "a.json").write_text(json.dumps(
        {"type": "case.accepted", "payload": {"handler": "x"}, "case_id": "tax-2026-000001"}), "utf-8")

    assert OutboxWatcher(adapter, outbox).scan_once() == (0, 0)
    assert [p.name for p in outbox.glob("*.json")] == ["a.json"]
    with pytest.raises(SendFailed):
        adapter.send("case.accepted", CaseAccepted(handler="x"), case_id="tax-2026-000001")
