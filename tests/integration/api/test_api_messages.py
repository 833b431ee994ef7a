"""``POST /v1/messages`` on the real server: reason codes of record, duplicates, tokens."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from contracts.codes import RejectReason
from hub.api.problems import REASON_STATUS
from tests.contract.support import invalid_examples

from .conftest import HubServer
from .helpers import envelope, registration

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("path", invalid_examples(), ids=lambda p: p.stem)
def test_every_invalid_example_comes_back_with_exactly_its_reason_code(hub_server: HubServer, path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    sender = case["message"].get("source") if case["message"].get("source") in {"tax", "hrss"} else "tax"
    with hub_server.client(sender) as client:
        answer = client.post("/v1/messages", content=json.dumps(case["message"], ensure_ascii=False).encode())

    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["reject_reason"] == case["reject_reason"]
    assert answer.status_code == REASON_STATUS[RejectReason(case["reject_reason"])]


def test_a_repeated_message_has_one_effect(hub_server: HubServer) -> None:
    with hub_server.client("tax") as tax, hub_server.client("hrss") as hrss:
        case_id = tax.post("/v1/cases", json=registration()).json()["case_id"]
        accepted = envelope("case.accepted", case_id)

        answers = [hrss.post("/v1/messages", content=accepted) for _ in range(3)]
        view = hrss.get(f"/v1/cases/{case_id}").json()

    assert [(a.status_code, a.json()["outcome"]) for a in answers] == [
        (202, "applied"), (200, "duplicate"), (200, "duplicate")]
    assert [e["type"] for e in view["timeline"]] == ["case.registered", "case.accepted"]


def test_a_body_over_4_mib_is_refused_oversized_without_being_read_whole(hub_server: HubServer) -> None:
    with hub_server.client("tax") as tax:
        answer = tax.post("/v1/messages", content=b"{" + b" " * (4 * 1024 * 1024 + 10) + b"}")

    assert (answer.status_code, answer.json()["reject_reason"]) == (413, "oversized")


def test_without_a_valid_token_every_v1_call_is_401_and_the_probes_answer(hub_server: HubServer) -> None:
    with hub_server.client() as anonymous:
        missing = anonymous.get("/v1/cases")
        wrong = anonymous.get("/v1/contracts", headers={"Authorization": "Bearer not-a-token-of-any-department"})
        probes = [anonymous.get(path).status_code for path in ("/healthz", "/readyz", "/metrics")]

    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert probes == [200, 200, 200]


def test_http_messages_show_in_the_servers_metrics(hub_server: HubServer) -> None:
    with hub_server.client("tax") as tax:
        tax.post("/v1/messages", content=b"{not json")
        metrics = httpx.get(f"{hub_server.base_url}/metrics").text

    assert 'sihub_message_rejections_total{reason="malformed_json"}' in metrics
