"""``POST /v1/messages``: the same gate as ``sihub.in``, answered in HTTP terms."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.testclient import TestClient

from contracts.codes import RejectReason
from hub.api.app import create_app
from hub.api.problems import PROBLEM_MEDIA_TYPE, REASON_STATUS
from hub.runtime import HubRuntime
from tests.contract.support import invalid_examples

from .helpers import auth, body, envelope, registration


def _register(client: TestClient) -> str:
    answer = client.post("/v1/cases", json=registration(), headers=auth("tax"))
    assert answer.status_code == 201, answer.text
    case_id: str = answer.json()["case_id"]
    return case_id


@pytest.mark.parametrize("path", invalid_examples(), ids=lambda p: p.stem)
def test_every_invalid_example_is_refused_with_its_reason_code(client: TestClient, path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    message = case["message"]
    # Sent with the token of the department it claims to come from, so only the contract can refuse it.
    sender = message["source"] if message.get("source") in {"tax", "hrss"} else "tax"
    answer = client.post("/v1/messages", content=body(message), headers=auth(sender))

    problem = answer.json()
    assert answer.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert problem["reject_reason"] == case["reject_reason"]
    assert answer.status_code == problem["status"] == REASON_STATUS[RejectReason(case["reject_reason"])]
    assert problem["type"].endswith("/" + case["reject_reason"])
    assert problem["detail"]


def test_an_applied_message_answers_202_and_its_repeat_200_duplicate(client: TestClient) -> None:
    case_id = _register(client)
    accepted = envelope("case.accepted", case_id=case_id)

    first = client.post("/v1/messages", content=body(accepted), headers=auth("hrss"))
    again = client.post("/v1/messages", content=body(accepted), headers=auth("hrss"))

    assert (first.status_code, first.json()) == (202, {"message_id": accepted["message_id"], "outcome": "applied"})
    assert (again.status_code, again.json()) == (200, {"message_id": accepted["message_id"], "outcome": "duplicate"})
    view = client.get(f"/v1/cases/{case_id}", headers=auth("hrss")).json()
    assert view["stage"] == "accepted"
    assert [entry["type"] for entry in view["timeline"]] == ["case.registered", "case.accepted"]


def test_a_message_claiming_another_departments_source_is_refused_source_mismatch(client: TestClient) -> None:
    case_id = _register(client)
    spoofed = envelope("case.accepted", case_id=case_id)  # source hrss, sent with court's token

    answer = client.post("/v1/messages", content=body(spoofed), headers=auth("court"))

    assert (answer.status_code, answer.json()["reject_reason"]) == (403, "source_mismatch")


def test_a_department_that_does_not_own_the_case_is_refused_not_permitted(client: TestClient) -> None:
    case_id = _register(client)  # routed to hrss by duty
    closing = envelope("case.accepted", case_id=case_id, source="medins")

    answer = client.post("/v1/messages", content=body(closing), headers=auth("medins"))

    assert (answer.status_code, answer.json()["reject_reason"]) == (403, "not_permitted")


def test_an_event_for_an_unknown_case_is_refused_precondition_failed_at_once(client: TestClient) -> None:
    orphan = envelope("case.accepted", case_id="tax-2026-999999")

    answer = client.post("/v1/messages", content=body(orphan), headers=auth("hrss"))

    # Over AMQP the gate retries this a few times; an HTTP caller gets the answer now.
    assert (answer.status_code, answer.json()["reject_reason"]) == (409, "precondition_failed")


def test_a_body_that_is_not_json_is_refused_malformed_json(client: TestClient) -> None:
    answer = client.post("/v1/messages", content=b'{"message_id": ', headers=auth("tax"))

    assert (answer.status_code, answer.json()["reject_reason"]) == (400, "malformed_json")


def test_a_body_over_the_size_limit_is_refused_oversized(make_runtime: Callable[..., HubRuntime]) -> None:
    runtime = make_runtime(max_body_bytes=2048)
    with TestClient(create_app(runtime)) as client:
        message = envelope("case.accepted", case_id="tax-2026-000001")
        message["payload"]["note"] = "备注" * 800  # ~4.8 kB of UTF-8

        answer = client.post("/v1/messages", content=body(message), headers=auth("hrss"))

    assert (answer.status_code, answer.json()["reject_reason"]) == (413, "oversized")


def test_the_signature_headers_reach_the_signature_check(client: TestClient) -> None:
    case_id = _register(client)
    accepted = envelope("case.accepted", case_id=case_id)
    headers = {**auth("hrss"), "x-sihub-signature": "bm90IGEgc2lnbmF0dXJl", "x-sihub-key-id": "no-such-key"}

    answer = client.post("/v1/messages", content=body(accepted), headers=headers)

    assert (answer.status_code, answer.json()["reject_reason"]) == (403, "bad_signature")


def test_a_message_signed_with_the_senders_registered_key_is_applied_where_signatures_are_required(
    make_runtime: Callable[..., HubRuntime], tmp_path: Path
) -> None:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"hrss-1": {"department": "hrss", "public_key": base64.b64encode(public).decode()}}))
    runtime = make_runtime(signing_keys=keys, signatures="required")
    orphan = body(envelope("case.accepted", case_id="tax-2026-999999"))
    signed = {"x-sihub-signature": base64.b64encode(key.sign(orphan)).decode(), "x-sihub-key-id": "hrss-1"}

    with TestClient(create_app(runtime)) as client:
        unsigned = client.post("/v1/messages", content=orphan, headers=auth("hrss"))
        verified = client.post("/v1/messages", content=orphan, headers={**auth("hrss"), **signed})

    assert unsigned.json()["reject_reason"] == "bad_signature"
    # Past the signature check, the message meets the next rule: its case is unknown.
    assert verified.json()["reject_reason"] == "precondition_failed"


def test_an_applied_message_wakes_the_relay_and_leaves_its_effects_in_the_outbox(
    client: TestClient, runtime: HubRuntime
) -> None:
    case_id = _register(client)
    runtime.outbox_wake.clear()
    before = len(runtime.store.pending_outbox(1000))

    client.post("/v1/messages", content=body(envelope("case.accepted", case_id=case_id)), headers=auth("hrss"))

    assert runtime.outbox_wake.is_set()
    assert len(runtime.store.pending_outbox(1000)) > before


def test_http_messages_count_in_the_same_metrics_as_amqp_ones(client: TestClient, runtime: HubRuntime) -> None:
    case_id = _register(client)
    accepted = envelope("case.accepted", case_id=case_id)
    client.post("/v1/messages", content=body(accepted), headers=auth("hrss"))
    client.post("/v1/messages", content=body(accepted), headers=auth("hrss"))

    def count(outcome: str) -> float | None:
        return runtime.registry.get_sample_value(
            "sihub_messages_total", {"type": "case.accepted", "source": "hrss", "outcome": outcome})

    assert (count("accepted"), count("duplicate")) == (1.0, 1.0)
