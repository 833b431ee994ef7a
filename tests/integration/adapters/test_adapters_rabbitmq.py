"""The five adapters against the real RabbitMQ, each as its own department user.

A stand-in hub (``relay``) takes ``sihub.hub.in``; department systems are a real HTTP
stub (``adapters.webhook_stub``) or an inbox directory.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import tenacity
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from adapters.bootstrap import AdapterProcess
from adapters.cli import tax as tax_cli
from adapters.court import CourtAdapter
from adapters.dedup import StateDB
from adapters.errors import SendRefused
from adapters.petition import PetitionAdapter
from adapters.samples import (
    USCC,
    arrears_notice,
    enforcement_applied,
    payment_record,
    petition,
    routed,
)
from adapters.sender import Sender
from adapters.sinks import WEBHOOK_RETRY, WebhookSink
from adapters.tax.adapter import TaxAdapter
from adapters.webhook_stub import DepartmentStub
from contracts import build
from contracts.codes import Department, InsuranceType, Ruling
from contracts.messages.case import CaseAccepted
from contracts.messages.payment import PaymentDetails, PaymentReceipt
from hub.bus.amqp import AmqpBroker
from hub.bus.amqp_codec import connection_parameters
from hub.bus.management import ManagementClient
from hub.bus.topology import department_queue
from hub.bus.types import AccessRefused, Outgoing
from hub.ids import uuid7
from hub.signing import KeyRing, Signer

pytestmark = pytest.mark.integration

SECRET = "webhook-secret"
FAST_WEBHOOK = WEBHOOK_RETRY.copy(wait=tenacity.wait_fixed(0.05))
TODAY = date(2026, 11, 26)


@pytest.fixture
def stub() -> Iterator[DepartmentStub]:
    server = DepartmentStub(SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def webhook(stub: DepartmentStub) -> Iterator[WebhookSink]:
    sink = WebhookSink(stub.url, SECRET, retry=FAST_WEBHOOK, timeout_seconds=5)
    yield sink
    sink.close()


def case_id(number: int) -> str:
    return f"tax-2026-{number:06d}"


# -- delivery -------------------------------------------------------------------------------


def test_hrss_gets_a_routed_case_on_its_webhook_signed_and_signs_for_it(
    start_adapter: Callable[..., AdapterProcess], hub: Any, relay: Any, stub: DepartmentStub, webhook: WebhookSink,
) -> None:
    start_adapter("hrss", webhook, adapter_auto_sign=True, adapter_auto_sign_handler="经办人 12")
    sent = hub.send("case.routed", routed(Department.HRSS), Department.HRSS, case_id(101))

    assert stub.wait_for(lambda s: len(s.delivered()) == 1, 20)
    [got] = stub.delivered()
    assert got.body == sent.to_json() and got.signed
    assert (got.message_id, got.type) == (str(sent.message_id), "case.routed")
    assert relay.wait_for(lambda r: r.envelopes("case.accepted", "hrss"), 20)
    [(delivery, accepted)] = relay.envelopes("case.accepted", "hrss")
    assert delivery.user_id == "hrss" and delivery.routing_key == "hrss.case.accepted"
    assert (accepted.case_id, accepted.causation_id) == (case_id(101), sent.message_id)
    assert relay.spoofed == []


def test_a_department_system_down_for_a_while_loses_nothing_and_gets_each_message_once(
    start_adapter: Callable[..., AdapterProcess], hub: Any, stub: DepartmentStub, webhook: WebhookSink,
) -> None:
    stub.status = 503
    start_adapter("hrss", webhook)
    sent = [hub.send("case.routed", routed(Department.HRSS), Department.HRSS, case_id(200 + n)) for n in range(5)]

    assert stub.wait_for(lambda s: len(s.received) >= 12, 30)  # retried and held, not nacked
    assert hub.depth(department_queue("hrss")) == 4  # one held unacked, four waiting
    stub.status = 200  # the system is back

    assert stub.wait_for(lambda s: len(s.delivered()) == 5, 30)
    time.sleep(0.5)  # room for a double delivery to show itself
    delivered = [r.message_id for r in stub.delivered()]
    assert delivered == [str(e.message_id) for e in sent]  # each once, in order
    assert hub.depth(department_queue("hrss")) == 0
    assert hub.quarantined({str(e.message_id) for e in sent}, timeout_seconds=1) == []


def test_a_permanent_400_is_not_retried_and_lands_in_quarantine(
    start_adapter: Callable[..., AdapterProcess], hub: Any, stub: DepartmentStub, webhook: WebhookSink,
) -> None:
    start_adapter("medins", webhook)
    refused = hub.message("case.routed", routed(Department.MEDINS), Department.MEDINS, case_id(301))
    stub.answers[str(refused.message_id)] = 400  # before it is sent: the adapter may deliver it at once
    hub.resend(refused)
    fine = hub.send("case.routed", routed(Department.MEDINS), Department.MEDINS, case_id(302))

    assert stub.wait_for(lambda s: len(s.delivered()) == 1, 20)
    assert [r.message_id for r in stub.received] == [str(refused.message_id), str(fine.message_id)]
    [dead] = hub.quarantined({str(refused.message_id)})
    assert dead.headers["x-first-death-reason"] == "rejected"
    assert dead.headers["x-first-death-queue"] == department_queue("medins")
    assert json.loads(dead.body)["message_id"] == str(refused.message_id)  # the body, untouched


def test_a_duplicate_delivery_reaches_the_department_system_once(
    start_adapter: Callable[..., AdapterProcess], hub: Any, stub: DepartmentStub, webhook: WebhookSink,
) -> None:
    start_adapter("hrss", webhook)
    sent = hub.send("case.routed", routed(Department.HRSS), Department.HRSS, case_id(401))
    hub.resend(sent)
    marker = hub.send("case.routed", routed(Department.HRSS), Department.HRSS, case_id(402))

    assert stub.wait_for(lambda s: str(marker.message_id) in [r.message_id for r in s.received], 20)
    assert [r.message_id for r in stub.delivered()] == [str(sent.message_id), str(marker.message_id)]
    assert hub.depth(department_queue("hrss")) == 0  # the repeat was acked too


def test_medins_writes_its_part_to_the_inbox_and_answers_the_receipt(
    start_adapter: Callable[..., AdapterProcess], hub: Any, relay: Any, tmp_path: Path, polling: Callable[..., bool],
) -> None:
    inbox = tmp_path / "inbox"
    start_adapter("medins", adapter_sink=f"inbox:{inbox}")
    part = PaymentDetails(batch_id="tax-inbox-p001", collected_on=TODAY, records=(
        payment_record(1, InsuranceType.EMPLOYEE_MEDICAL), payment_record(2, InsuranceType.MATERNITY)))
    sent = hub.send("payment.details", part, Department.MEDINS)

    assert polling(lambda: len(list(inbox.glob("*.json"))) == 1, 20)
    [file] = inbox.glob("*.json")
    assert file.name.endswith(f"-{sent.message_id}.json") and file.read_bytes() == sent.to_json()
    assert relay.wait_for(lambda r: r.envelopes("payment.receipt", "medins"), 20)
    [(_, receipt)] = relay.envelopes("payment.receipt", "medins")
    assert isinstance(receipt.payload, PaymentReceipt)
    assert (receipt.payload.batch_id, receipt.payload.accepted) == ("tax-inbox-p001", 2)
    assert receipt.payload.amount_paid_total == Decimal("2160.00")


def test_the_adapter_reconnects_after_losing_its_connection(
    start_adapter: Callable[..., AdapterProcess], hub: Any, stub: DepartmentStub, webhook: WebhookSink,
    rabbit_management: ManagementClient, sihub_vhost: str, wait_for_connection: Callable[[str, str], str],
) -> None:
    start_adapter("hrss", webhook)
    name = wait_for_connection(sihub_vhost, f"sihub-adapter-hrss consumer {department_queue('hrss')}")
    rabbit_management.close_connection(name, "test: connection lost")
    time.sleep(0.5)
    sent = hub.send("case.routed", routed(Department.HRSS), Department.HRSS, case_id(501))

    assert stub.wait_for(lambda s: len(s.delivered()) == 1, 30)
    assert stub.delivered()[0].message_id == str(sent.message_id)


# -- permissions and signatures ---------------------------------------------------------------


def test_a_department_user_can_neither_read_another_queue_nor_send_as_another_department(
    dept_url: Callable[[str], str],
) -> None:
    hrss = AmqpBroker(connection_parameters(dept_url("hrss")), "test-hrss")
    try:
        with pytest.raises(AccessRefused):
            hrss.consumer(department_queue("tax"))
        impostor = Sender(Department.TAX, hrss)  # a tax adapter wired to the hrss user by mistake
        tax = TaxAdapter(impostor, StateDB(":memory:"))
        with pytest.raises(SendRefused, match="may not publish|refused"):
            tax.send("case.accepted", CaseAccepted(handler="x"), case_id=case_id(601))
    finally:
        hrss.close()


def test_signed_messages_carry_a_signature_the_hub_verifies(
    start_adapter: Callable[..., AdapterProcess], relay: Any, tmp_path: Path,
) -> None:
    key = Ed25519PrivateKey.generate()
    pem = tmp_path / "court.pem"
    pem.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    court = start_adapter("court", adapter_signing_key=pem, adapter_signing_key_id="court-2026").adapter
    ring = KeyRing({"court-2026": ("court", Signer("court-2026", key).key.public_key())})

    court.send("case.accepted", CaseAccepted(handler="执行局"), case_id=case_id(701))

    assert relay.wait_for(lambda r: r.envelopes("case.accepted", "court"), 20)
    [(delivery, _)] = relay.envelopes("case.accepted", "court")
    assert ring.verify(delivery.body, delivery.headers, "court", required=True)


def test_with_the_hubs_key_only_what_the_hub_signed_reaches_the_department_system(
    start_adapter: Callable[..., AdapterProcess], hub: Any, stub: DepartmentStub, webhook: WebhookSink,
    tmp_path: Path,
) -> None:
    hub_key, other_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    signer, forger = Signer("hub-2026", hub_key), Signer("hub-2026", other_key)
    ring = tmp_path / "hub-keys.json"
    ring.write_text(json.dumps({"hub-2026": {"department": "hub", "public_key": signer.public_b64()}}))
    start_adapter("hrss", webhook, adapter_hub_keys=ring, adapter_hub_signatures="required")
    signed, forged, unsigned = (
        build("case.routed", routed(Department.HRSS), source=Department.HUB, target=Department.HRSS,
              case_id=case_id(n), message_id=uuid7(), occurred_at=datetime.now(UTC))
        for n in (711, 712, 713)
    )  # fmt: skip
    def to_hrss(envelope: Any, headers: dict[str, str]) -> Outgoing:
        return Outgoing("sihub.out", f"hrss.{envelope.type}", envelope.to_json(),
                        headers=headers, message_id=str(envelope.message_id))  # fmt: skip

    publisher = hub.broker.publisher()
    publisher.publish([
        to_hrss(signed, signer.headers(signed.to_json())),
        to_hrss(forged, forger.headers(forged.to_json())),
        to_hrss(unsigned, {}),
    ])  # fmt: skip
    publisher.close()

    quarantined = hub.quarantined({str(forged.message_id), str(unsigned.message_id)}, 20)
    assert stub.wait_for(lambda s: len(s.delivered()) == 1, 20)
    assert [d.message_id for d in stub.delivered()] == [str(signed.message_id)]
    assert sorted(d.message_id or "" for d in quarantined) == sorted([str(forged.message_id), str(unsigned.message_id)])


# -- outbound sources -------------------------------------------------------------------------


def test_outbound_http_validates_before_publishing_and_the_outbox_sends_files(
    start_adapter: Callable[..., AdapterProcess], relay: Any, tmp_path: Path, polling: Callable[..., bool],
) -> None:
    outbox = tmp_path / "outbox"
    process = start_adapter("medins", adapter_http_port=0, adapter_outbox_dir=outbox,
                            adapter_outbox_poll_seconds=0.1)
    assert process.http is not None
    url = process.http.url

    ok = httpx.post(f"{url}/outbound", json={"type": "case.accepted", "payload": {"handler": "医保经办"},
                                             "case_id": case_id(801)})
    bad = httpx.post(f"{url}/outbound", json={"type": "case.handled", "payload": {"outcome": "upheld"},
                                              "case_id": case_id(801)})
    (outbox / "sign.json").write_text(json.dumps(
        {"type": "case.accepted", "payload": {"handler": "窗口"}, "case_id": case_id(802)}), "utf-8")

    assert ok.status_code == 202
    assert bad.status_code == 422 and bad.json()["reject_reason"] == "schema_violation"
    assert "payload.result" in bad.json()["detail"]
    assert polling(lambda: (outbox / "sent" / "sign.json").exists(), 20)
    assert relay.wait_for(lambda r: len(r.envelopes("case.accepted", "medins")) == 2, 20)
    assert {e.case_id for _, e in relay.envelopes("case.accepted", "medins")} == {case_id(801), case_id(802)}
    assert relay.envelopes("case.handled", "medins") == []


# -- court and petition -----------------------------------------------------------------------


def test_court_receives_an_application_and_answers_it(
    start_adapter: Callable[..., AdapterProcess], hub: Any, relay: Any, polling: Callable[..., bool],
) -> None:
    court = start_adapter("court").adapter
    assert isinstance(court, CourtAdapter)
    hub.send("enforcement.applied", enforcement_applied(arrears_notice(), TODAY), Department.COURT, case_id(901))
    assert polling(lambda: court.state.get("enforcement", case_id(901)) is not None, 20)

    court.accept(case_id(901), "(2026)皖0322执123号")
    court.rule(case_id(901), Ruling.ENFORCE)

    assert relay.wait_for(lambda r: r.envelopes("enforcement.ruled", "court"), 20)
    [(delivery, accepted)] = relay.envelopes("enforcement.accepted", "court")
    assert delivery.user_id == "court" and accepted.case_id == case_id(901)


def test_petition_registers_a_collective_petition(
    start_adapter: Callable[..., AdapterProcess], relay: Any,
) -> None:
    bureau = start_adapter("petition").adapter
    assert isinstance(bureau, PetitionAdapter)

    receipt = bureau.register_petition(petition(people_count=7))

    assert receipt.collective
    assert relay.wait_for(lambda r: r.envelopes("petition.registered", "petition"), 20)
    [(delivery, registered)] = relay.envelopes("petition.registered", "petition")
    assert (delivery.user_id, registered.case_id) == ("petition", receipt.case_id)


# -- tax: payment-detail exports ----------------------------------------------------------------

HEADER = ["记录号", "缴费人识别号", "缴费人名称", "证件号码", "征收品目", "费款所属期起", "费款所属期止", "缴费基数",
          "应缴金额", "实缴金额", "滞纳金", "票证号码", "入库日期", "缴款日期"]
KINDS = ["企业职工基本养老保险费", "职工基本医疗保险费", "失业保险费", "工伤保险费", "生育保险费", "城乡居民基本医疗保险费"]
ID_NUMBERS = ["11010519491231002X", "340322199207084568", "340322197802117898"]


def write_export(path: Path, rows: int, bad_every: int, encoding: str = "utf-8") -> tuple[set[str], Decimal]:
    """A tax export of ``rows`` rows, every ``bad_every``-th one invalid; the valid ids and their total."""
    valid: set[str] = set()
    total = Decimal("0.00")
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(1, rows + 1):
            paid = Decimal(100 + n % 900) + Decimal("0.50")
            bad = bad_every and n % bad_every == 0
            writer.writerow([
                f"R{n:07d}", USCC, "五河县某建材有限公司", ID_NUMBERS[n % 3], KINDS[n % len(KINDS)],
                "202610", "2026-10", "4500.00", f"{paid + 10}", "1,2.3.4" if bad else f"{paid}", "0",
                f"3340322260{n:08d}", "2026-11-21", "20261120",
            ])
            if not bad:
                valid.add(f"R{n:07d}")
                total += paid
    return valid, total


def inbox_records(inbox: Path) -> Counter[str]:
    """How often each record id arrived in an inbox."""
    seen: Counter[str] = Counter()
    for file in inbox.glob("*.json"):
        body = json.loads(file.read_bytes())
        seen.update(record["record_id"] for record in body["payload"]["records"])
    return seen


def tax_env(monkeypatch: pytest.MonkeyPatch, dept_url: Callable[[str], str], tmp_path: Path) -> None:
    monkeypatch.setenv("SIHUB_BROKER_URL", dept_url("tax"))
    monkeypatch.setenv("SIHUB_ADAPTER_STATE", str(tmp_path / "tax.db"))
    monkeypatch.setenv("SIHUB_ADAPTER_SINK", "none")


@pytest.mark.slow
def test_a_100000_row_export_is_split_under_the_limit_and_every_valid_row_arrives_once(
    start_adapter: Callable[..., AdapterProcess], relay: Any, dept_url: Callable[[str], str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    export = tmp_path / "export-100k.csv"
    valid, total = write_export(export, 100_000, bad_every=997)
    inboxes = {code: tmp_path / f"{code}-inbox" for code in ("hrss", "medins")}
    for code, inbox in inboxes.items():
        start_adapter(code, adapter_sink=f"inbox:{inbox}")
    tax_env(monkeypatch, dept_url, tmp_path)
    limit = 4 * 1024 * 1024 - 64 * 1024

    started = time.perf_counter()
    pushed = CliRunner().invoke(
        tax_cli, ["push", str(export), "--batch-id", "tax-100k", "--collected-on", "2026-11-26",
                    "--wait", "--timeout", "100"])
    elapsed = time.perf_counter() - started

    assert pushed.exit_code == 3, pushed.output  # rows refused, the valid ones sent and reconciled
    assert f"100000 rows, {len(valid)} sent, {100_000 - len(valid)} refused" in pushed.output
    parts = [(d, e) for d, e in relay.envelopes("payment.details", "tax") if e.payload.batch_id.startswith("tax-100k")]
    assert len(parts) >= 8
    assert [e.payload.batch_id for _, e in parts] == [f"tax-100k-p{n:03d}" for n in range(1, len(parts) + 1)]
    assert all(len(d.body) <= limit for d, _ in parts)
    arrived = inbox_records(inboxes["hrss"]) + inbox_records(inboxes["medins"])
    assert set(arrived) == valid and max(arrived.values()) == 1  # every valid row, exactly once
    receipts = [relay.batches[e.payload.batch_id] for _, e in parts]
    assert all(not b.awaiting for b in receipts)
    assert sum((p.receipt.amount_paid_total for b in receipts for p in b.parts.values() if p.receipt),
               Decimal("0.00")) == total
    assert "NO" not in pushed.output and pushed.output.count(" yes ") >= len(parts)
    with capsys.disabled():
        print(f"\n100 000-row export: {len(parts)} parts, pushed, delivered and reconciled in {elapsed:.1f}s")


def test_a_malformed_export_reports_bad_rows_and_the_good_rows_still_go(
    relay: Any, dept_url: Callable[[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    export = tmp_path / "gbk-export.csv"
    valid, _ = write_export(export, 40, bad_every=9, encoding="gbk")
    tax_env(monkeypatch, dept_url, tmp_path)

    pushed = CliRunner().invoke(tax_cli, ["push", str(export), "--batch-id", "tax-bad-rows"])

    assert pushed.exit_code == 3, pushed.output
    assert "(csv, gbk): 40 rows, 36 sent, 4 refused" in pushed.output
    assert "实缴金额" in pushed.output and "not an amount in yuan" in pushed.output
    assert relay.wait_for(lambda r: any(e.payload.batch_id == "tax-bad-rows-p001"
                                        for _, e in r.envelopes("payment.details", "tax")), 20)
    [(_, sent)] = [(d, e) for d, e in relay.envelopes("payment.details", "tax")
                   if e.payload.batch_id == "tax-bad-rows-p001"]
    assert {r.record_id for r in sent.payload.records} == valid


@pytest.mark.parametrize(
    ("content", "message"),
    [("缴费人识别号,征收品目\n".encode("utf-16"), "neither UTF-8 nor GBK"),
     ("缴费人识别号,征收品目,费款所属期起\nx,110,202610\n".encode(), "费款所属期止 (period_end)")],
    ids=["utf-16", "missing-columns"],
)
def test_an_unreadable_export_is_a_clear_error_and_sends_nothing(
    relay: Any, dept_url: Callable[[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    content: bytes, message: str,
) -> None:
    export = tmp_path / "broken.csv"
    export.write_bytes(content)
    tax_env(monkeypatch, dept_url, tmp_path)
    before = len(relay.envelopes("payment.details", "tax"))

    pushed = CliRunner().invoke(tax_cli, ["push", str(export), "--batch-id", "tax-broken"])

    assert pushed.exit_code == 1 and message in pushed.output
    time.sleep(0.5)
    assert len(relay.envelopes("payment.details", "tax")) == before


def test_tax_status_reads_the_receipts_the_running_adapter_recorded(
    start_adapter: Callable[..., AdapterProcess], relay: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    polling: Callable[..., bool],
) -> None:
    for code in ("hrss", "medins"):
        start_adapter(code)
    tax = start_adapter("tax").adapter
    assert isinstance(tax, TaxAdapter)
    export = tmp_path / "small.jsonl"
    export.write_text("\n".join(json.dumps(payment_record(n, kind).model_dump(mode="json"), ensure_ascii=False)
                                for n, kind in enumerate([InsuranceType.ENTERPRISE_PENSION,
                                                          InsuranceType.RESIDENT_MEDICAL], 1)), "utf-8")

    tax.push(export, batch_id="tax-status", collected_on=TODAY)

    assert polling(lambda: all(p.receipt for p in tax.batch_status("tax-status")), 30)
    monkeypatch.setenv("SIHUB_ADAPTER_STATE", str(tmp_path / "tax-state.db"))
    shown = CliRunner().invoke(tax_cli, ["status", "tax-status"])
    assert shown.exit_code == 0, shown.output
    assert "tax-status-p001" in shown.output and "hrss,medins" in shown.output and "yes" in shown.output


def test_sigterm_finishes_the_delivery_in_hand_and_leaves_the_rest_for_redelivery(
    hub: Any, stub: DepartmentStub, dept_url: Callable[[str], str], tmp_path: Path,
) -> None:
    stub.delay_seconds = 1.5  # the department system is slow: SIGTERM arrives mid-delivery
    sent = [hub.send("case.routed", routed(Department.HRSS), Department.HRSS, case_id(1000 + n)) for n in range(3)]
    env = {**os.environ, "SIHUB_BROKER_URL": dept_url("hrss"), "SIHUB_ADAPTER_SINK": f"webhook:{stub.url}",
           "SIHUB_ADAPTER_WEBHOOK_SECRET": SECRET, "SIHUB_ADAPTER_STATE": str(tmp_path / "hrss.db")}
    adapter = subprocess.Popen(
        [sys.executable, "-c", "from adapters.cli import adapter; adapter(['run', 'hrss'])"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert stub.wait_for(lambda s: s.arrived >= 1, 30), "the adapter never called the system"
        adapter.send_signal(signal.SIGTERM)
        output, _ = adapter.communicate(timeout=30)
    finally:
        if adapter.poll() is None:
            adapter.kill()
            adapter.wait()

    assert adapter.returncode == 0, output
    assert "SIGTERM: finishing the delivery in hand" in output
    assert [r.message_id for r in stub.delivered()] == [str(sent[0].message_id)]
    assert hub.depth(department_queue("hrss")) == 2  # unacked ones went back to the queue
