"""The adapters with the real hub (``hub.runtime.HubRuntime``) over RabbitMQ, end to end."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from adapters.bootstrap import AdapterProcess
from adapters.hrss import HrssAdapter
from adapters.samples import payment_record, registration
from adapters.sinks import CallbackSink, InboundMessage
from adapters.tax.adapter import TaxAdapter
from contracts.codes import Department, InsuranceType, Outcome
from contracts.messages.case import CaseRouted
from hub.config import Settings
from hub.runtime import HubRuntime

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def real_hub(sihub_vhost: str, rabbit_url: Callable[..., str], tmp_path_factory: pytest.TempPathFactory,
             ) -> Iterator[HubRuntime]:
    database = tmp_path_factory.mktemp("hub") / "hub.db"
    settings = Settings(broker_url=rabbit_url(sihub_vhost, "hub", "hub-dev"), database_url=f"sqlite:///{database}",
                        retry_delay_seconds=0.2)
    hub = HubRuntime(settings)
    hub.start()
    yield hub
    hub.stop()


def test_a_payment_batch_goes_through_the_hub_and_comes_back_reconciled(
    real_hub: HubRuntime, start_adapter: Callable[..., AdapterProcess], tmp_path: Path,
    polling: Callable[..., bool],
) -> None:
    for code in ("hrss", "medins"):
        start_adapter(code)
    tax = start_adapter("tax").adapter
    assert isinstance(tax, TaxAdapter)
    kinds = [InsuranceType.ENTERPRISE_PENSION, InsuranceType.EMPLOYEE_MEDICAL, InsuranceType.UNEMPLOYMENT,
             InsuranceType.MATERNITY]
    export = tmp_path / "export.jsonl"
    export.write_text("\n".join(json.dumps(payment_record(n, kind).model_dump(mode="json"), ensure_ascii=False)
                                for n, kind in enumerate(kinds, 1)), "utf-8")

    tax.push(export, batch_id="tax-hub-1", collected_on=date(2026, 11, 26))

    assert polling(lambda: all(p.receipt for p in tax.batch_status("tax-hub-1")), 60)
    [part] = tax.batch_status("tax-hub-1")
    assert part.receipt is not None and part.reconciled
    assert (part.receipt.received, part.receipt.accepted) == (4, 4)
    assert part.receipt.departments == (Department.HRSS, Department.MEDINS)


def test_a_dispute_is_routed_signed_for_and_its_result_reaches_the_intake(
    real_hub: HubRuntime, start_adapter: Callable[..., AdapterProcess], polling: Callable[..., bool],
) -> None:
    at_hrss: list[InboundMessage] = []
    at_tax: list[InboundMessage] = []
    hrss = start_adapter("hrss", CallbackSink(at_hrss.append), adapter_auto_sign=True).adapter
    tax = start_adapter("tax", CallbackSink(at_tax.append)).adapter
    assert isinstance(tax, TaxAdapter) and isinstance(hrss, HrssAdapter)

    registered = tax.register_dispute(registration())  # arrears from before the process change: hrss's
    case = registered.case_id
    assert case is not None

    assert polling(lambda: any(m.type == "case.routed" for m in at_hrss), 60)
    routed = next(m.envelope.payload for m in at_hrss if m.type == "case.routed")
    assert isinstance(routed, CaseRouted) and routed.owner is Department.HRSS
    assert polling(lambda: any(m.type == "case.accepted" for m in at_tax), 60)  # the auto-signature

    hrss.report(case, Outcome.UPHELD, "单位已补缴 2023 年 1–6 月养老保险费")

    assert polling(lambda: any(m.type == "case.handled" for m in at_tax), 60)
    assert {m.envelope.case_id for m in at_tax} == {case}
