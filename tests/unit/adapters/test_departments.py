"""The department adapters on the in-process broker: tax, hrss/medins, court, petition; the CLI."""

from __future__ import annotations

import csv
import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from adapters.cli import adapter as adapter_cli
from adapters.cli import tax as tax_cli
from adapters.court import CourtAdapter
from adapters.dedup import StateDB
from adapters.department import DepartmentAdapter, Options
from adapters.errors import ExportError, NotAllowedYet
from adapters.http import HttpServer, create_app
from adapters.medins import MedinsAdapter
from adapters.petition import PetitionAdapter
from adapters.samples import (
    ID_NUMBER,
    USCC,
    arrears_notice,
    confirmation_requested,
    enforcement_applied,
    from_hub,
    payment_record,
    petition,
    routed,
)
from adapters.sender import Sender
from adapters.sinks import InboundMessage
from adapters.tax.adapter import TaxAdapter
from contracts import AnyEnvelope, parse
from contracts.codes import Department, EnforcementResult, InsuranceType, Ruling, Tier
from contracts.messages.arrears import ArrearsConfirmed, EnforcementApplied
from contracts.messages.payment import PaymentDetails, PaymentReceipt
from contracts.messages.sla import SlaWarning
from hub.bus.factory import reset_memory_broker
from hub.bus.memory import MemoryBroker
from hub.bus.topology import HUB_QUEUE, default_topology
from hub.domain.durations import COUNTY_TZ
from hub.domain.latefee import late_fee

TODAY = date(2026, 11, 30)


@pytest.fixture
def broker() -> MemoryBroker:
    return MemoryBroker(default_topology())


def adapter(cls: type[DepartmentAdapter], broker: MemoryBroker, tmp_path: Path, today: date = TODAY,
            **options: object) -> DepartmentAdapter:
    clock = lambda: datetime.combine(today, datetime.min.time(), COUNTY_TZ) + timedelta(hours=10)  # noqa: E731
    sender = Sender(cls.code, broker.connect(cls.code.value))
    return cls(sender, StateDB(tmp_path / f"{cls.code.value}.db"), Options(**options), clock)  # type: ignore[arg-type]


def at_hub(broker: MemoryBroker) -> list[AnyEnvelope]:
    consumer = broker.connect("hub").consumer(HUB_QUEUE)
    got = consumer.fetch(1000, 0.05)
    consumer.ack([d.delivery_tag for d in got])
    return [parse(d.body) for d in got]


def inbound(envelope: AnyEnvelope) -> InboundMessage:
    return InboundMessage(envelope.to_json(), envelope)


HEADER = ["记录号", "缴费人识别号", "缴费人名称", "证件号码", "征收品目", "费款所属期起", "费款所属期止",
          "应缴金额", "实缴金额", "滞纳金", "票证号码", "缴款日期"]


def export(path: Path, rows: int, bad_every: int = 0) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(1, rows + 1):
            kind = "职工基本医疗保险费" if n % 3 == 0 else "企业职工基本养老保险费"
            paid = "abc" if bad_every and n % bad_every == 0 else "100.00"
            writer.writerow([f"k{n}", USCC, "某公司", ID_NUMBER, kind, "202610", "202610", "100.00", paid, "0",
                             f"v{n}", "20261120"])
    return path


# -- tax ---------------------------------------------------------------------------------------


def test_tax_push_publishes_valid_rows_in_parts_and_records_them(broker: MemoryBroker, tmp_path: Path) -> None:
    tax = adapter(TaxAdapter, broker, tmp_path, batch_limit_bytes=8 * 1024)
    assert isinstance(tax, TaxAdapter)

    result = tax.push(export(tmp_path / "e.csv", 60, bad_every=7), batch_id="tax-b1", collected_on=TODAY)

    sent = at_hub(broker)
    assert len(sent) == len(result.parts) > 1
    assert all(e.type == "payment.details" and e.source is Department.TAX for e in sent)
    ids = [r.record_id for e in sent for r in e.payload.records]
    assert ids == [f"k{n}" for n in range(1, 61) if n % 7]
    assert [(p.row, p.column) for p in result.report.problems] == [(n + 1, "实缴金额") for n in range(7, 61, 7)]
    status = tax.batch_status("tax-b1")
    assert [s.part_id for s in status] == [e.payload.batch_id for e in sent]
    assert all(s.published_at and s.receipt is None for s in status)


def test_tax_records_the_hubs_receipt_of_each_part(broker: MemoryBroker, tmp_path: Path) -> None:
    tax = adapter(TaxAdapter, broker, tmp_path)
    assert isinstance(tax, TaxAdapter)
    tax.push(export(tmp_path / "e.csv", 3), batch_id="tax-b2")
    receipt = PaymentReceipt(batch_id="tax-b2-p001", received=3, accepted=3, rejected=(),
                             amount_paid_total=Decimal("300.00"), departments=(Department.HRSS, Department.MEDINS),
                             reconciled=True)

    tax.observe(inbound(from_hub("payment.receipt", receipt, Department.TAX)))

    [part] = tax.wait_for_receipts("tax-b2", timeout_seconds=1)
    assert part.receipt == receipt and part.reconciled is True
    assert (part.records, part.amount_paid_total) == (3, Decimal("300.00"))


def test_tax_push_of_a_file_without_valid_rows_sends_nothing(broker: MemoryBroker, tmp_path: Path) -> None:
    tax = adapter(TaxAdapter, broker, tmp_path)
    assert isinstance(tax, TaxAdapter)
    with pytest.raises(ExportError, match=r"no valid rows to send \(2 row"):
        tax.push(export(tmp_path / "e.csv", 2, bad_every=1))
    assert at_hub(broker) == []


def _arrears_case(tax: TaxAdapter) -> str:
    envelope = tax.serve_arrears_notice(arrears_notice())
    assert envelope.case_id is not None
    return envelope.case_id


def _confirm(tax: TaxAdapter, case: str, department: Department, ok: bool = True) -> None:
    types = {Department.HRSS: InsuranceType.ENTERPRISE_PENSION, Department.MEDINS: InsuranceType.EMPLOYEE_MEDICAL}
    payload = ArrearsConfirmed(notice_no=arrears_notice().notice_no, confirmed=ok,
                               insurance_types=(types[department],), principal_confirmed=Decimal("1.00"))
    tax.observe(inbound(from_hub("arrears.confirmed", payload, Department.TAX, case)))


def test_tax_refuses_enforcement_before_the_window_and_before_every_confirmation(
    broker: MemoryBroker, tmp_path: Path
) -> None:
    tax = adapter(TaxAdapter, broker, tmp_path)
    assert isinstance(tax, TaxAdapter)
    case = _arrears_case(tax)
    assert case == "tax-2026-000001"
    with pytest.raises(NotAllowedYet, match="window is not open yet .*served 2026-11-02"):
        tax.apply_for_enforcement(case, "A-1")

    request = confirmation_requested(arrears_notice(), opens_on=TODAY + timedelta(days=1), until=TODAY)
    tax.observe(inbound(from_hub("arrears.confirmation_requested", request, Department.TAX, case)))
    with pytest.raises(NotAllowedYet, match="opens 2026-12-01"):
        tax.apply_for_enforcement(case, "A-1")

    request = confirmation_requested(arrears_notice(), opens_on=TODAY, until=TODAY)
    tax.observe(inbound(from_hub("arrears.confirmation_requested", request, Department.TAX, case)))
    _confirm(tax, case, Department.HRSS)
    with pytest.raises(NotAllowedYet, match="confirmation of medins"):
        tax.apply_for_enforcement(case, "A-1")
    _confirm(tax, case, Department.MEDINS, ok=False)
    with pytest.raises(NotAllowedYet, match="medins disputes"):
        tax.apply_for_enforcement(case, "A-1")
    assert [e.type for e in at_hub(broker)] == ["arrears.notice"]  # nothing else left the adapter


def test_tax_applies_with_the_late_fee_the_hub_will_check(broker: MemoryBroker, tmp_path: Path) -> None:
    tax = adapter(TaxAdapter, broker, tmp_path)
    assert isinstance(tax, TaxAdapter)
    case = _arrears_case(tax)
    request = confirmation_requested(arrears_notice(), opens_on=TODAY, until=TODAY)
    tax.observe(inbound(from_hub("arrears.confirmation_requested", request, Department.TAX, case)))
    _confirm(tax, case, Department.HRSS)
    _confirm(tax, case, Department.MEDINS)

    sent = tax.apply_for_enforcement(case, "五税强申〔2026〕3号")

    payload = sent.payload
    assert isinstance(payload, EnforcementApplied)
    notice = arrears_notice()
    assert payload.late_fee == late_fee(notice.principal, notice.late_fee_from, TODAY)
    assert (payload.late_fee_until, payload.notice_served_on) == (TODAY, notice.served_on)
    assert payload.confirmations == (Department.HRSS, Department.MEDINS)


def test_tax_refuses_after_the_application_period(broker: MemoryBroker, tmp_path: Path) -> None:
    tax = adapter(TaxAdapter, broker, tmp_path, today=date(2027, 2, 12))
    assert isinstance(tax, TaxAdapter)
    case = _arrears_case(tax)
    request = confirmation_requested(arrears_notice(), opens_on=TODAY, until=TODAY)
    tax.observe(inbound(from_hub("arrears.confirmation_requested", request, Department.TAX, case)))
    with pytest.raises(NotAllowedYet, match="period ended 2027-02-11"):
        tax.apply_for_enforcement(case, "A-1")


# -- hrss / medins -------------------------------------------------------------------------


def test_a_manual_receipt_adds_the_systems_own_rejections(broker: MemoryBroker, tmp_path: Path) -> None:
    medins = adapter(MedinsAdapter, broker, tmp_path, auto_receipt=False)
    assert isinstance(medins, MedinsAdapter)
    part = PaymentDetails(batch_id="b-p001", collected_on=TODAY, records=(
        payment_record(1, InsuranceType.EMPLOYEE_MEDICAL), payment_record(2, InsuranceType.MATERNITY)))
    medins.observe(inbound(from_hub("payment.details", part, Department.MEDINS)))

    sent = medins.send_receipt("b-p001", {"r-2": "参保人不在本统筹区"})

    receipt = sent.payload
    assert isinstance(receipt, PaymentReceipt)
    assert (receipt.received, receipt.accepted, receipt.amount_paid_total) == (2, 1, Decimal("1080.00"))
    assert [(r.record_id, r.reason) for r in receipt.rejected] == [("r-2", "参保人不在本统筹区")]
    with pytest.raises(NotAllowedYet, match="no payment part b-p002 awaits"):
        medins.send_receipt("b-p002")


def test_arrears_confirmation_is_sent_on_request_only(broker: MemoryBroker, tmp_path: Path) -> None:
    medins = adapter(MedinsAdapter, broker, tmp_path, auto_confirm=True)
    assert isinstance(medins, MedinsAdapter)
    with pytest.raises(NotAllowedYet, match="has not asked medins"):
        medins.confirm_arrears("tax-2026-000001", True)
    request = from_hub("arrears.confirmation_requested",
                       confirmation_requested(arrears_notice(), TODAY, TODAY), Department.MEDINS, "tax-2026-000001")
    medins.observe(inbound(request))

    [auto] = medins.react(inbound(request))
    confirmed = medins.confirm_arrears("tax-2026-000001", False, note="基数有误")

    assert auto.type == "arrears.confirmed" and isinstance(auto.payload, ArrearsConfirmed)
    assert auto.payload.insurance_types == (InsuranceType.EMPLOYEE_MEDICAL,)
    assert isinstance(confirmed.payload, ArrearsConfirmed)
    assert (confirmed.payload.confirmed, confirmed.payload.note) == (False, "基数有误")


# -- court ---------------------------------------------------------------------------------


def test_court_accepts_rules_and_concludes_under_its_own_reference(broker: MemoryBroker, tmp_path: Path) -> None:
    court = adapter(CourtAdapter, broker, tmp_path)
    assert isinstance(court, CourtAdapter)
    case = "tax-2026-000009"
    with pytest.raises(NotAllowedYet, match="no enforcement application"):
        court.accept(case, "(2026)皖0322执123号")
    court.observe(inbound(from_hub("enforcement.applied", enforcement_applied(arrears_notice(), TODAY),
                                   Department.COURT, case)))
    with pytest.raises(NotAllowedYet, match="has not accepted"):
        court.rule(case, Ruling.ENFORCE)

    court.accept(case, "(2026)皖0322执123号")
    court.rule(case, Ruling.ENFORCE)
    court.conclude(case, EnforcementResult.EXECUTED_IN_FULL, Decimal("186400.00"))

    sent = at_hub(broker)
    assert [e.type for e in sent] == ["enforcement.accepted", "enforcement.ruled", "enforcement.concluded"]
    assert {e.payload.court_case_ref for e in sent} == {"(2026)皖0322执123号"}
    assert all(e.case_id == case and e.source is Department.COURT for e in sent)


# -- petition ------------------------------------------------------------------------------


def test_a_petition_of_five_or_more_people_is_collective(broker: MemoryBroker, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    bureau = adapter(PetitionAdapter, broker, tmp_path)
    assert isinstance(bureau, PetitionAdapter)
    with caplog.at_level(logging.WARNING, "sihub.adapter.petition"):
        single = bureau.register_petition(petition(people_count=4))
        collective = bureau.register_petition(petition(people_count=5))

    assert (single.collective, collective.collective) == (False, True)
    assert (single.case_id, collective.case_id) == ("petition-2026-000001", "petition-2026-000002")
    assert "collective petition petition-2026-000002: 5 people" in caplog.text
    assert "petition-2026-000001" not in caplog.text
    assert ID_NUMBER not in caplog.text
    assert [e.type for e in at_hub(broker)] == ["petition.registered", "petition.registered"]


def test_the_petition_bureau_follows_routing_and_time_limits(broker: MemoryBroker, tmp_path: Path) -> None:
    bureau = adapter(PetitionAdapter, broker, tmp_path)
    assert isinstance(bureau, PetitionAdapter)
    case = bureau.register_petition(petition(people_count=6)).case_id
    bureau.observe(inbound(from_hub("case.routed", routed(Department.HRSS, intake=Department.PETITION),
                                    Department.PETITION, case)))
    due = datetime(2026, 12, 8, 23, 59, 59, tzinfo=COUNTY_TZ)
    warning = SlaWarning(stage="petition.accept", tier=Tier.ROUTINE, department=Department.HRSS,
                         started_at=due - timedelta(days=15), due_at=due)
    bureau.observe(inbound(from_hub("sla.warning", warning, Department.PETITION, case)))

    tracked = bureau.tracked(case)
    assert tracked is not None
    assert (tracked["owner"], tracked["collective"], tracked["people_count"]) == ("hrss", True, 6)
    assert tracked["limits"]["petition.accept"] == {"stage": "petition.accept", "department": "hrss",
                                                    "due_at": due.isoformat(), "status": "warning"}


# -- the command line ------------------------------------------------------------------------


def test_tax_push_cli_reports_refused_rows_and_exits_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = reset_memory_broker()
    monkeypatch.setenv("SIHUB_BROKER_URL", "memory://tax@")
    monkeypatch.setenv("SIHUB_ADAPTER_STATE", str(tmp_path / "tax.db"))
    file = export(tmp_path / "e.csv", 10, bad_every=4)
    problems = tmp_path / "problems.csv"

    pushed = CliRunner().invoke(tax_cli, ["push", str(file), "--batch-id", "tax-cli", "--problems", str(problems)])

    assert pushed.exit_code == 3, pushed.output
    assert "10 rows, 8 sent, 2 refused" in pushed.output
    assert "tax-cli-p001" in pushed.output
    assert problems.read_text("utf-8-sig").splitlines()[1:] == [
        "5,实缴金额,not an amount in yuan", "9,实缴金额,not an amount in yuan"]
    assert memory.queue_depth(HUB_QUEUE) == 1

    status = CliRunner().invoke(tax_cli, ["status", "tax-cli"])
    assert status.exit_code == 4 and "awaiting receipt" in status.output
    missing = CliRunner().invoke(tax_cli, ["status", "tax-nope"])
    assert missing.exit_code == 1 and "no batch tax-nope" in missing.output


def test_tax_push_cli_names_a_missing_column_and_sends_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = reset_memory_broker()
    monkeypatch.setenv("SIHUB_BROKER_URL", "memory://tax@")
    monkeypatch.setenv("SIHUB_ADAPTER_STATE", str(tmp_path / "tax.db"))
    file = tmp_path / "e.csv"
    file.write_text("缴费人识别号,征收品目\n" + USCC + ",110\n", "utf-8")

    pushed = CliRunner().invoke(tax_cli, ["push", str(file)])

    assert pushed.exit_code == 1
    assert "费款所属期起 (period_start)" in pushed.output and "实缴金额 (amount_paid)" in pushed.output
    assert memory.queue_depth(HUB_QUEUE) == 0


def test_adapter_run_refuses_a_broker_url_of_another_department(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIHUB_BROKER_URL", "amqp://tax:tax-dev@127.0.0.1:5672/sihub")
    result = CliRunner().invoke(adapter_cli, ["run", "hrss"])
    assert result.exit_code == 1
    assert "connects as 'tax', but the hrss adapter must connect as 'hrss'" in result.output


def test_an_export_uploaded_over_http_is_pushed_and_its_problems_listed(broker: MemoryBroker, tmp_path: Path) -> None:
    tax = adapter(TaxAdapter, broker, tmp_path)
    server = HttpServer(create_app(tax), "127.0.0.1", 0)
    server.start()
    try:
        with export(tmp_path / "e.csv", 5, bad_every=5).open("rb") as handle:
            answer = httpx.post(f"{server.url}/payment-details", files={"file": ("e.csv", handle)},
                                data={"batch_id": "tax-up", "collected_on": "2026-11-26"})
        broken = httpx.post(f"{server.url}/payment-details", files={"file": ("x.csv", b"a,b\n1,2\n")})
        status = httpx.get(f"{server.url}/batches/tax-up")
    finally:
        server.stop()

    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["records"], body["parts"][0]["batch_id"]) == (4, "tax-up-p001")
    assert body["problems"] == [{"row": 6, "column": "实缴金额", "reason": "not an amount in yuan"}]
    assert broken.status_code == 422 and "missing required column" in broken.json()["detail"]
    assert [p["part"] for p in status.json()] == ["tax-up-p001"]
    assert [e.payload.batch_id for e in at_hub(broker)] == ["tax-up-p001"]
