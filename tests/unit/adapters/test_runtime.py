"""The adapter runtime on the in-process broker: hold, dedup, quarantine, receipts, shutdown."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
import tenacity
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters.bootstrap import build_adapter
from adapters.dedup import DeliveryLog, StateDB
from adapters.department import DepartmentAdapter, Options
from adapters.errors import PermanentDelivery, RetryableDelivery
from adapters.hrss import HrssAdapter
from adapters.outbound import derived_id
from adapters.runtime import AdapterRuntime
from adapters.samples import from_hub, payment_record, routed
from adapters.sender import Sender
from adapters.settings import load_adapter_settings
from adapters.sinks import CallbackSink, InboundMessage
from contracts import AnyEnvelope, parse
from contracts.codes import Department, InsuranceType
from contracts.messages.payment import PaymentDetails, PaymentReceipt
from hub.bus.memory import MemoryBroker
from hub.bus.topology import (
    HUB_QUEUE,
    OUT_EXCHANGE,
    QUARANTINE_QUEUE,
    default_topology,
    department_queue,
)
from hub.bus.types import Delivery, Outgoing
from hub.signing import KeyRing, Signer

QUEUE = department_queue("hrss")


@pytest.fixture
def broker() -> MemoryBroker:
    return MemoryBroker(default_topology(delivery_limit=5))


@pytest.fixture
def state(tmp_path: Path) -> StateDB:
    return StateDB(tmp_path / "hrss.db")


def make_adapter(broker: MemoryBroker, state: StateDB, **options: object) -> DepartmentAdapter:
    sender = Sender(Department.HRSS, broker.connect("hrss"))
    return HrssAdapter(sender, state, Options(**options))  # type: ignore[arg-type]


def make_runtime(
    broker: MemoryBroker, state: StateDB, deliver: Callable[[InboundMessage], None], **options: object
) -> AdapterRuntime:
    return AdapterRuntime(
        make_adapter(broker, state, **options), broker.connect("hrss"), CallbackSink(deliver),
        DeliveryLog(state), hold_wait=tenacity.wait_none(),
    )


def from_hub_to_hrss(broker: MemoryBroker, envelope: AnyEnvelope, body: bytes | None = None) -> None:
    message = Outgoing(OUT_EXCHANGE, f"hrss.{envelope.type}", body or envelope.to_json(),
                       message_id=str(envelope.message_id))
    broker.connect("hub").publisher().publish([message])


def details(*records: int) -> AnyEnvelope:
    part = PaymentDetails(batch_id="tax-1-p001", collected_on=payment_record(1).paid_on,
                          records=tuple(payment_record(n) for n in records))
    return from_hub("payment.details", part, Department.HRSS)


def handle_all(runtime: AdapterRuntime, broker: MemoryBroker) -> list[Delivery]:
    consumer = broker.connect("hrss").consumer(QUEUE, prefetch=1)
    handled = []
    while batch := consumer.fetch(1, 0.05):
        runtime.handle(consumer, batch[0])
        handled += batch
    consumer.close()
    return handled


def hub_inbox(broker: MemoryBroker) -> list[Delivery]:
    consumer = broker.connect("hub").consumer(HUB_QUEUE)
    got = consumer.fetch(100, 0.05)
    consumer.ack([d.delivery_tag for d in got])
    return got


def test_a_message_is_delivered_acked_and_the_queue_drained(broker: MemoryBroker, state: StateDB) -> None:
    got: list[InboundMessage] = []
    sent = from_hub("case.routed", routed(Department.HRSS), Department.HRSS, "tax-2026-000001")
    from_hub_to_hrss(broker, sent)

    handle_all(make_runtime(broker, state, got.append), broker)

    assert [m.message_id for m in got] == [str(sent.message_id)]
    assert got[0].body == sent.to_json()
    broker.join(QUEUE, 1)  # nothing ready, nothing unacked


def test_a_repeated_message_id_is_delivered_once_and_both_copies_acked(broker: MemoryBroker, state: StateDB) -> None:
    got: list[InboundMessage] = []
    sent = from_hub("case.routed", routed(Department.HRSS), Department.HRSS, "tax-2026-000001")
    from_hub_to_hrss(broker, sent)
    from_hub_to_hrss(broker, sent)

    handled = handle_all(make_runtime(broker, state, got.append), broker)

    assert len(handled) == 2 and len(got) == 1
    broker.join(QUEUE, 1)


def test_a_failing_system_holds_the_message_unacked_then_gets_it_once(broker: MemoryBroker, state: StateDB) -> None:
    calls: list[str] = []
    waiting: list[int] = []

    def down_three_times(message: InboundMessage) -> None:
        calls.append(message.message_id)
        waiting.append(broker.queue_depth(QUEUE))
        if len(calls) <= 3:
            raise RetryableDelivery("503 from the department system")

    first = from_hub("case.routed", routed(Department.HRSS), Department.HRSS, "tax-2026-000001")
    second = from_hub("case.routed", routed(Department.HRSS), Department.HRSS, "tax-2026-000002")
    from_hub_to_hrss(broker, first)
    from_hub_to_hrss(broker, second)

    handled = handle_all(make_runtime(broker, state, down_three_times), broker)

    assert calls == [str(first.message_id)] * 4 + [str(second.message_id)]
    assert waiting == [1, 1, 1, 1, 0]  # the second waited in the queue while the first was held
    assert [d.delivery_count for d in handled] == [0, 0]  # held, never returned to the queue
    assert broker.queue_depth(QUARANTINE_QUEUE) == 0


def test_a_permanent_refusal_goes_to_quarantine_and_the_next_message_is_delivered(
    broker: MemoryBroker, state: StateDB
) -> None:
    refused = from_hub("case.routed", routed(Department.HRSS), Department.HRSS, "tax-2026-000001")
    fine = from_hub("case.routed", routed(Department.HRSS), Department.HRSS, "tax-2026-000002")
    got: list[str] = []

    def deliver(message: InboundMessage) -> None:
        if message.message_id == str(refused.message_id):
            raise PermanentDelivery("400 unknown case")
        got.append(message.message_id)

    from_hub_to_hrss(broker, refused)
    from_hub_to_hrss(broker, fine)
    handle_all(make_runtime(broker, state, deliver), broker)

    assert got == [str(fine.message_id)]
    quarantine = broker.connect("hub").consumer(QUARANTINE_QUEUE)
    [dead] = quarantine.fetch(10, 0.05)
    assert dead.message_id == str(refused.message_id)
    assert dead.headers["x-first-death-reason"] == "rejected"
    assert dead.headers["x-first-death-queue"] == QUEUE


def test_an_unreadable_message_is_quarantined_without_reaching_the_system(broker: MemoryBroker, state: StateDB) -> None:
    sent = from_hub("case.routed", routed(Department.HRSS), Department.HRSS, "tax-2026-000001")
    from_hub_to_hrss(broker, sent, body=b'{"type": "case.routed", "truncated')
    got: list[InboundMessage] = []

    handle_all(make_runtime(broker, state, got.append), broker)

    assert got == []
    assert broker.queue_depth(QUARANTINE_QUEUE) == 1


def test_stopping_while_held_leaves_the_message_for_the_next_run(broker: MemoryBroker, state: StateDB) -> None:
    sent = from_hub("case.routed", routed(Department.HRSS), Department.HRSS, "tax-2026-000001")
    from_hub_to_hrss(broker, sent)
    stop = threading.Event()

    def down(message: InboundMessage) -> None:
        stop.set()  # SIGTERM arrives while the system is down
        raise RetryableDelivery("connection refused")

    first = make_runtime(broker, state, down)
    first.stop = stop
    handle_all(first, broker)
    assert broker.queue_depth(QUEUE) == 1  # returned unacked, not quarantined

    got: list[InboundMessage] = []
    handle_all(make_runtime(broker, state, got.append), broker)
    assert [m.message_id for m in got] == [str(sent.message_id)]


def test_hrss_answers_a_payment_part_with_a_receipt_derived_from_it(broker: MemoryBroker, state: StateDB) -> None:
    part = details(1, 2, 3)
    from_hub_to_hrss(broker, part)

    handle_all(make_runtime(broker, state, lambda m: None), broker)

    [answer] = hub_inbox(broker)
    assert (answer.routing_key, answer.user_id) == ("hrss.payment.receipt", "hrss")
    receipt = parse(answer.body)
    assert receipt.message_id == derived_id(part.message_id, Department.HRSS, "payment.receipt")
    assert receipt.causation_id == part.message_id
    assert isinstance(receipt.payload, PaymentReceipt)
    assert (receipt.payload.received, receipt.payload.accepted) == (3, 3)
    assert receipt.payload.amount_paid_total == Decimal("3240.00")


def test_a_crash_after_delivery_resends_only_the_receipt(broker: MemoryBroker, state: StateDB) -> None:
    part = details(1)
    from_hub_to_hrss(broker, part)
    DeliveryLog(state).mark(str(part.message_id), "payment.details", "delivered")  # the crash
    got: list[InboundMessage] = []

    handle_all(make_runtime(broker, state, got.append), broker)

    assert got == []  # the department system already has it
    [answer] = hub_inbox(broker)
    assert json.loads(answer.body)["type"] == "payment.receipt"
    assert DeliveryLog(state).status(str(part.message_id)) == "done"


def test_without_auto_receipt_nothing_is_answered(broker: MemoryBroker, state: StateDB) -> None:
    from_hub_to_hrss(broker, details(1))
    handle_all(make_runtime(broker, state, lambda m: None, auto_receipt=False), broker)
    assert hub_inbox(broker) == []


def test_auto_sign_signs_for_a_case_routed_to_the_department_once(broker: MemoryBroker, state: StateDB) -> None:
    from_hub_to_hrss(broker, from_hub("case.routed", routed(Department.HRSS), Department.HRSS, "tax-2026-000001"))
    from_hub_to_hrss(broker, from_hub("case.routed", routed(Department.HRSS, "joint_handling"), Department.HRSS,
                                      "tax-2026-000001"))
    from_hub_to_hrss(broker, from_hub("case.routed", routed(Department.MEDINS), Department.HRSS, "tax-2026-000002"))

    handle_all(make_runtime(broker, state, lambda m: None, auto_sign=True, auto_sign_handler="经办人 12"), broker)

    answers = [parse(d.body) for d in hub_inbox(broker)]
    assert [(a.type, a.case_id) for a in answers] == [("case.accepted", "tax-2026-000001")]
    assert answers[0].payload.handler == "经办人 12"


def test_the_run_loop_delivers_until_stopped(broker: MemoryBroker, state: StateDB) -> None:
    arrived = threading.Event()
    runtime = make_runtime(broker, state, lambda m: arrived.set())
    thread = runtime.start()
    from_hub_to_hrss(broker, details(1, 2))

    assert arrived.wait(5)
    runtime.stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert [json.loads(d.body)["payload"]["received"] for d in hub_inbox(broker)] == [2]


def test_a_receipt_rejects_records_of_the_other_department(broker: MemoryBroker, state: StateDB) -> None:
    part = PaymentDetails(
        batch_id="b-p001", collected_on=payment_record(1).paid_on,
        records=(payment_record(1), payment_record(2, InsuranceType.EMPLOYEE_MEDICAL),
                 payment_record(3, amount_paid=Decimal("5000.00"))),
    )
    from_hub_to_hrss(broker, from_hub("payment.details", part, Department.HRSS))

    handle_all(make_runtime(broker, state, lambda m: None), broker)

    receipt = parse(hub_inbox(broker)[0].body).payload
    assert isinstance(receipt, PaymentReceipt)
    assert (receipt.received, receipt.accepted, receipt.amount_paid_total) == (3, 1, Decimal("1080.00"))
    assert {r.record_id: r.reason for r in receipt.rejected} == {
        "r-2": "insurance type 310 belongs to medins",
        "r-3": "amount_paid exceeds amount_due plus late_fee",
    }


def _publish_signed(broker: MemoryBroker, envelope: AnyEnvelope, headers: dict[str, str]) -> None:
    message = Outgoing(OUT_EXCHANGE, f"hrss.{envelope.type}", envelope.to_json(),
                       message_id=str(envelope.message_id), headers=headers)  # fmt: skip
    broker.connect("hub").publisher().publish([message])


@pytest.mark.parametrize("required", [False, True])
def test_with_the_hubs_keys_only_what_the_hub_signed_reaches_the_system(
    broker: MemoryBroker, state: StateDB, required: bool
) -> None:
    hub = Signer("hub", Ed25519PrivateKey.generate())
    impostor = Signer("hub", Ed25519PrivateKey.generate())  # the hub's key id, another key
    tax = Signer("tax", Ed25519PrivateKey.generate())  # a registered key, not the hub's
    keys = KeyRing({"hub": ("hub", hub.key.public_key()), "tax": ("tax", tax.key.public_key())})
    messages = [from_hub("case.routed", routed(Department.HRSS), Department.HRSS, f"tax-2026-00000{n}")
                for n in range(1, 6)]  # fmt: skip
    _publish_signed(broker, messages[0], hub.headers(messages[0].to_json()))
    _publish_signed(broker, messages[1], impostor.headers(messages[1].to_json()))
    _publish_signed(broker, messages[2], tax.headers(messages[2].to_json()))
    _publish_signed(broker, messages[3], hub.headers(messages[0].to_json()))  # a signature of another body
    from_hub_to_hrss(broker, messages[4])  # unsigned
    got: list[InboundMessage] = []
    runtime = AdapterRuntime(
        make_adapter(broker, state), broker.connect("hrss"), CallbackSink(got.append), DeliveryLog(state),
        hold_wait=tenacity.wait_none(), hub_keys=keys, hub_signatures="required" if required else "optional",
    )  # fmt: skip

    handle_all(runtime, broker)

    expected = [messages[0]] if required else [messages[0], messages[4]]
    assert [m.message_id for m in got] == [str(m.message_id) for m in expected]
    assert broker.queue_depth(QUARANTINE_QUEUE) == 5 - len(expected)
    assert broker.queue_depth(QUEUE) == 0


def test_required_hub_signatures_without_the_hubs_keys_is_refused_at_start(tmp_path: Path) -> None:
    settings = load_adapter_settings(
        None, broker_url="memory://hrss@", adapter_state=tmp_path / "hrss.db", adapter_hub_signatures="required"
    )
    with pytest.raises(ValueError, match="SIHUB_ADAPTER_HUB_KEYS"):
        build_adapter("hrss", settings)
